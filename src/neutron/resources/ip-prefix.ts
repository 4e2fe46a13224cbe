import { isIPv4, isIPv6 } from 'node:net';

// IP prefixes written the way Neutron (netaddr) writes them: "10.0.0.5/24" keeps its host
// bits, an address alone gets a full-length prefix, IPv6 is lower-case with the longest run
// of two or more zero groups compressed, and IPv4-mapped or -compatible IPv6 ends dotted.

export interface Prefix {
  version: 4 | 6;
  /** As given, canonically written: 10.0.0.5/24. */
  text: string;
  /** Its network: 10.0.0.0/24. */
  network: string;
}

const bits = (version: 4 | 6) => (version === 4 ? 32 : 128);

function parseV4(text: string): bigint | null {
  if (!isIPv4(text.replace(/(^|\.)0+(?=\d)/g, '$1'))) return null;
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseV6(text: string): bigint | null {
  if (!isIPv6(text) || text.includes('%')) return null;
  let groups = text;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseV4(dotted[1]!)!;
    groups = `${text.slice(0, -dotted[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = groups.includes('::') ? groups.split('::') : [groups, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const all = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function formatV6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatV4(value & 0xffffffffn)}`;
  if (value >> 32n === 0n && value > 0xffffn) return `::${formatV4(value)}`;
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/** A prefix length, or for IPv4 a netmask (255.255.255.0) or hostmask (0.0.0.255). */
function parseLength(text: string, version: 4 | 6): number | null {
  if (/^\+?\d+$/.test(text)) {
    const n = Number(text);
    return n <= bits(version) ? n : null;
  }
  const mask = version === 4 ? parseV4(text) : null;
  if (mask === null) return null;
  const binary = mask.toString(2).padStart(32, '0');
  if (/^1*0*$/.test(binary)) return binary.indexOf('0') < 0 ? 32 : binary.indexOf('0');
  if (/^0*1*$/.test(binary)) return binary.indexOf('1') < 0 ? 32 : binary.indexOf('1');
  return null;
}

/** The prefix in `text`, or null when it is not one. */
export function parsePrefix(text: string): Prefix | null {
  const parts = text.split('/');
  if (parts.length > 2) return null;
  const [address, length] = [parts[0]!.trim(), parts[1]?.trim()];
  const v4 = parseV4(address);
  const version: 4 | 6 | null = v4 !== null ? 4 : parseV6(address) !== null ? 6 : null;
  if (version === null) return null;
  const value = v4 ?? parseV6(address)!;
  const prefixlen = length === undefined ? bits(version) : parseLength(length, version);
  if (prefixlen === null) return null;
  const format = version === 4 ? formatV4 : formatV6;
  const hostBits = BigInt(bits(version) - prefixlen);
  const network = (value >> hostBits) << hostBits;
  return { version, text: `${format(value)}/${prefixlen}`, network: `${format(network)}/${prefixlen}` };
}
