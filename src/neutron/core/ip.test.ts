import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalIp, eui64, formatCidr, formatIp, fromKey, parseCidr, parseIp, rangeToCidrs, subtractRanges, toKey } from './ip.js';
import { compactPrefixes } from './subnetpools.js';
import { defaultPools } from './subnet-rules.js';

// Expected texts are what netaddr (and so Neutron) prints for the same input.

describe('IP arithmetic', () => {
  it('reads addresses as strictly as Neutron and prints them as netaddr does', () => {
    const cases: Array<[string, string | null]> = [
      ['10.0.0.1', '10.0.0.1'],
      ['255.255.255.255', '255.255.255.255'],
      ['256.0.0.1', null],
      ['1.2.3', null],
      ['1.2.3.4.5', null],
      ['FD00::A', 'fd00::a'],
      ['fd00:0:0:1:0:0:0:1', 'fd00:0:0:1::1'],
      ['fd00::1:0:0:0:1', 'fd00:0:0:1::1'],
      ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['::1', '::1'],
      ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
      ['::1.2.3.4', '::1.2.3.4'],
      ['1::2::3', null],
      ['1:2:3:4:5:6:7:8:9', null],
      ['12345::', null],
      [':1::', null],
      ['g::1', null],
    ];
    for (const [text, expected] of cases) assert.equal(canonicalIp(text), expected, text);
  });

  it('reads CIDRs, dropping host bits, and a bare address as a host route', () => {
    assert.equal(formatCidr(parseCidr('10.9.0.5/24')!), '10.9.0.0/24');
    assert.equal(formatCidr(parseCidr('10.9.0.0')!), '10.9.0.0/32');
    assert.equal(formatCidr(parseCidr('FD00:5:0::1/64')!), 'fd00:5::/64');
    assert.equal(formatCidr(parseCidr('0.0.0.0/0')!), '0.0.0.0/0');
    assert.equal(parseCidr('10.0.0.0/33'), null);
    assert.equal(parseCidr('10.0.0.0/x'), null);
    assert.equal(parseCidr('fd00::/129'), null);
  });

  it('keys addresses as fixed-width hex that sorts numerically', () => {
    const values = ['10.0.0.9', '10.0.0.10', '9.255.255.255', 'fd00::1', '::2'].map((t) => parseIp(t)!.value);
    const keys = values.map(toKey);
    assert.ok(keys.every((k) => k.length === 32));
    assert.deepEqual(
      [...keys].sort().map(fromKey),
      [...values].sort((a, b) => (a < b ? -1 : 1)),
    );
  });

  it('subtracts ranges and splits them into the fewest CIDRs', () => {
    const r = (a: number, b: number) => ({ first: BigInt(a), last: BigInt(b) });
    assert.deepEqual(subtractRanges([r(0, 99)], [r(10, 19), r(15, 30), r(90, 120)]), [r(0, 9), r(31, 89)]);
    assert.deepEqual(subtractRanges([r(0, 9), r(20, 29)], [r(5, 25)]), [r(0, 4), r(26, 29)]);
    const cidrs = rangeToCidrs(4, { first: parseIp('10.0.1.0')!.value, last: parseIp('10.0.3.255')!.value }).map(formatCidr);
    assert.deepEqual(cidrs, ['10.0.1.0/24', '10.0.2.0/23']);
    assert.deepEqual(compactPrefixes(['10.0.0.0/25', '10.0.0.128/25', '10.0.0.64/26'].map((p) => parseCidr(p)!)).map(formatCidr), ['10.0.0.0/24']);
  });

  it('derives EUI-64 addresses from MACs as SLAAC does', () => {
    // The real Neutron gave fd00:2::f816:3eff:fe73:1189 to fa:16:3e:73:11:89.
    assert.equal(formatIp(6, eui64(parseCidr('fd00:2::/64')!, 'fa:16:3e:73:11:89')), 'fd00:2::f816:3eff:fe73:1189');
  });

  it('derives default allocation pools around the gateway as Neutron does', () => {
    assert.deepEqual(defaultPools(parseCidr('10.0.0.0/24')!, '10.0.0.1'), [{ start: '10.0.0.2', end: '10.0.0.254' }]);
    assert.deepEqual(defaultPools(parseCidr('10.0.0.0/24')!, '10.0.0.100'), [
      { start: '10.0.0.1', end: '10.0.0.99' },
      { start: '10.0.0.101', end: '10.0.0.254' },
    ]);
    assert.deepEqual(defaultPools(parseCidr('10.0.0.0/24')!, null), [{ start: '10.0.0.1', end: '10.0.0.254' }]);
    assert.deepEqual(defaultPools(parseCidr('10.0.0.0/31')!, null), [{ start: '10.0.0.0', end: '10.0.0.1' }]);
    assert.deepEqual(defaultPools(parseCidr('10.0.0.7/32')!, null), [{ start: '10.0.0.7', end: '10.0.0.7' }]);
    assert.deepEqual(defaultPools(parseCidr('fd00::/64')!, 'fd00::'), [{ start: 'fd00::1', end: 'fd00::ffff:ffff:ffff:ffff' }]);
  });
});
