import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrateToLatest, openDb, parseConnection } from '../src/db/index.js';
import type { NeutronDb } from '../src/neutron/core/store.js';
import { engines, type TestDatabase } from './support/engines.js';
import { ADMIN, MEMBER, OTHER, call, startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// Security group rules over real HTTP on every engine: the forms Neutron stores a rule in
// (checked against the real Neutron, Zed), duplicates however spelled, concurrent creates,
// deletes, visibility and bulk creates. Bad input: neutron-security-groups-bad-input.

type Rule = Record<string, unknown>;
const SHOWN = ['direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix', 'normalized_cidr', 'description'] as const;
const shown = (r: Rule) => Object.fromEntries(SHOWN.map((k) => [k, r[k]]));

// Request -> what Neutron changes in it (the rest is shown as sent, absent ones as null).
const ACCEPTED: Array<[Rule, Rule]> = [
  [{ protocol: 'tcp', port_range_min: 22, port_range_max: 22 }, {}],
  [
    { protocol: 'TCP', port_range_min: '80', port_range_max: '81' },
    { protocol: 'tcp', port_range_min: 80, port_range_max: 81 },
  ],
  [{ protocol: 6, port_range_min: 23, port_range_max: 23 }, { protocol: '6' }],
  [
    { protocol: 'udp', port_range_min: 1, port_range_max: 65535 },
    { port_range_min: null, port_range_max: null },
  ],
  [{ protocol: 'icmp', port_range_min: 8, port_range_max: 0 }, {}],
  [{ protocol: 'icmp', port_range_min: 3 }, {}],
  [
    { protocol: 'icmpv6', ethertype: 'ipv6' },
    { protocol: 'ipv6-icmp', ethertype: 'IPv6' },
  ],
  [{ protocol: '1', ethertype: 'IPv6', port_range_min: 128 }, { protocol: '58' }],
  [{ protocol: '0' }, {}],
  [{ protocol: 'hopopt', direction: 'egress' }, {}],
  [
    { protocol: 'vrrp', ethertype: 'IPv6', remote_ip_prefix: '2001:DB8:0:0::/32' },
    { remote_ip_prefix: '2001:db8::/32', normalized_cidr: '2001:db8::/32' },
  ],
  [{ remote_ip_prefix: '10.0.0.5/24' }, { normalized_cidr: '10.0.0.0/24' }],
  [{ remote_ip_prefix: '10.1.0.5' }, { remote_ip_prefix: '10.1.0.5/32', normalized_cidr: '10.1.0.5/32' }],
  [{ remote_ip_prefix: '1.2.3.4/255.255.0.0' }, { remote_ip_prefix: '1.2.3.4/16', normalized_cidr: '1.2.0.0/16' }],
  [
    { remote_ip_prefix: 'FE80::0001/64', ethertype: 'IPv6' },
    { remote_ip_prefix: 'fe80::1/64', normalized_cidr: 'fe80::/64' },
  ],
  [{ protocol: 'sctp', remote_ip_prefix: '', description: 'any sctp' }, { remote_ip_prefix: null }],
];

// Spellings of one rule: each pair is the same rule to Neutron's duplicate check.
const SAME: Array<[Rule, Rule]> = [
  [
    { protocol: 'tcp', port_range_min: 443, port_range_max: 443 },
    { protocol: '6', port_range_min: '443', port_range_max: 443 },
  ],
  [
    { protocol: 'icmp', ethertype: 'IPv6' },
    { protocol: '58', ethertype: 'IPv6' },
  ],
  [{ protocol: 'ip' }, { protocol: '0' }],
  [
    { remote_ip_prefix: '0.0.0.0/0', direction: 'egress', protocol: 'gre' },
    { direction: 'egress', protocol: '47' },
  ],
  [
    { protocol: 'udp', port_range_min: 1, port_range_max: 65535, ethertype: 'IPv6' },
    { protocol: 'udp', ethertype: 'IPv6', remote_ip_prefix: '::/0' },
  ],
];

for (const engine of await engines()) {
  describe(`Neutron security group rules on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let api: RunningNeutronApi;
    const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = MEMBER) =>
      call(api.url, method, `/v2.0${path}`, body, headers);
    const newGroup = async (name: string, headers: Record<string, string> = MEMBER) =>
      (await req('POST', '/security-groups', { security_group: { name } }, headers)).body.security_group;
    const newRule = (rule: Rule, headers: Record<string, string> = MEMBER) => req('POST', '/security-group-rules', { security_group_rule: rule }, headers);
    const revision = async (id: string) => (await req('GET', `/security-groups/${id}?fields=revision_number`)).body.security_group.revision_number;

    before(async () => {
      database = await engine.create();
      api = await startNeutronApi(database.connection, { QUOTAS: { quota_security_group: '-1', quota_security_group_rule: '-1' } });
    });
    after(async () => {
      await api?.close();
      await database?.drop();
    });

    it('stores protocols, port ranges and prefixes in the forms Neutron gives them', async () => {
      const group = await newGroup('forms');
      for (const [request, expected] of ACCEPTED) {
        const r = await newRule({ security_group_id: group.id, direction: 'ingress', ...request });
        assert.equal(r.status, 201, `${JSON.stringify(request)}: ${r.text}`);
        const want: Rule = { direction: 'ingress', ethertype: 'IPv4', protocol: null, port_range_min: null, port_range_max: null, remote_ip_prefix: null };
        Object.assign(want, { description: '', ...request, ...expected });
        if (!('normalized_cidr' in expected)) want.normalized_cidr = want.remote_ip_prefix;
        assert.deepEqual(shown(r.body.security_group_rule), shown(want), JSON.stringify(request));
        assert.deepEqual([r.body.security_group_rule.security_group_id, r.body.security_group_rule.remote_group_id], [group.id, null]);
        assert.equal(r.body.security_group_rule.revision_number, 0);
        assert.deepEqual((await req('GET', `/security-group-rules/${r.body.security_group_rule.id}`)).body, r.body);
      }
      const listed = (await req('GET', `/security-groups/${group.id}`)).body.security_group.security_group_rules;
      assert.equal(listed.length, ACCEPTED.length + 2);
    });

    it("refuses a rule already in the group, however spelled, naming the existing rule's id", async () => {
      const group = await newGroup('same');
      for (const [first, second] of SAME) {
        const created = await newRule({ security_group_id: group.id, direction: 'ingress', ...first });
        assert.equal(created.status, 201, JSON.stringify(first));
        const again = await newRule({ security_group_id: group.id, direction: 'ingress', ...second });
        assert.equal(again.status, 409, JSON.stringify(second));
        assert.deepEqual(again.body.NeutronError, {
          type: 'SecurityGroupRuleExists',
          message: `Security group rule already exists. Rule id is ${created.body.security_group_rule.id}.`,
          detail: '',
        });
      }
      const egress = (await req('GET', `/security-groups/${group.id}`)).body.security_group.security_group_rules.find(
        (r: Rule) => r.direction === 'egress' && r.ethertype === 'IPv4' && r.remote_ip_prefix === null && r.protocol === null,
      );
      const dup = await newRule({ security_group_id: group.id, direction: 'egress', remote_ip_prefix: '0.0.0.0/0' });
      assert.equal(dup.body.NeutronError.message, `Security group rule already exists. Rule id is ${egress.id}.`);
      // Not the same: host bits differ in the prefix as written, and another group.
      const other = await newGroup('other');
      for (const rule of [
        { security_group_id: group.id, remote_ip_prefix: '10.0.0.0/24' },
        { security_group_id: group.id, remote_ip_prefix: '10.0.0.1/24' },
        { security_group_id: other.id, protocol: 'tcp', port_range_min: 443, port_range_max: 443 },
      ]) {
        assert.equal((await newRule({ direction: 'ingress', ...rule })).status, 201, JSON.stringify(rule));
      }
    });

    it('gives one of 10 concurrent identical creates the rule and the others its id', async () => {
      const group = await newGroup('race');
      const rule = { security_group_id: group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 8080, port_range_max: 8080 };
      const replies = await Promise.all(Array.from({ length: 10 }, () => newRule(rule)));
      const won = replies.filter((r) => r.status === 201);
      assert.equal(won.length, 1, replies.map((r) => r.text).join('\n'));
      const id = won[0]!.body.security_group_rule.id;
      for (const lost of replies.filter((r) => r.status !== 201)) {
        assert.equal(lost.status, 409);
        assert.equal(lost.body.NeutronError.message, `Security group rule already exists. Rule id is ${id}.`);
      }
    });

    it("counts rule changes in the group's revision, updates descriptions only and deletes", async () => {
      const group = await newGroup('revisions');
      assert.equal(group.revision_number, 1);
      const rule = (await newRule({ security_group_id: group.id, direction: 'ingress', protocol: 'udp', port_range_min: 53, port_range_max: 53 })).body
        .security_group_rule;
      assert.equal(await revision(group.id), 2);
      const described = await req('PUT', `/security-group-rules/${rule.id}`, { security_group_rule: { description: 'dns' } });
      assert.equal(described.status, 200);
      assert.deepEqual([described.body.security_group_rule.description, described.body.security_group_rule.revision_number], ['dns', 1]);
      const direction = await req('PUT', `/security-group-rules/${rule.id}`, { security_group_rule: { direction: 'egress' } });
      assert.equal(direction.status, 400);
      assert.equal(direction.body.NeutronError.message, 'Cannot update read-only attribute direction');
      assert.equal((await req('DELETE', `/security-group-rules/${rule.id}`)).status, 204);
      assert.equal(await revision(group.id), 3);
      const gone = await req('GET', `/security-group-rules/${rule.id}`);
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.body.NeutronError, { type: 'SecurityGroupRuleNotFound', message: `Security group rule ${rule.id} does not exist`, detail: '' });
    });

    it('refers to groups by remote_group_id, and goes when the remote group goes', async () => {
      const group = await newGroup('web');
      const peers = await newGroup('peers');
      const rule = await newRule({
        security_group_id: group.id,
        direction: 'ingress',
        remote_group_id: peers.id,
        protocol: 'tcp',
        port_range_min: 5432,
        port_range_max: 5432,
      });
      assert.equal(rule.status, 201);
      assert.equal(rule.body.security_group_rule.remote_group_id, peers.id);
      assert.equal((await req('DELETE', `/security-groups/${peers.id}`)).status, 204);
      assert.equal((await req('GET', `/security-group-rules/${rule.body.security_group_rule.id}`)).status, 404);
    });

    it("shows a project's rules and its groups' rules, and hides the others", async () => {
      const group = await newGroup('seen');
      const byAdmin = await newRule({ security_group_id: group.id, direction: 'ingress', protocol: 'esp' }, ADMIN);
      assert.equal(byAdmin.status, 201);
      assert.equal(byAdmin.body.security_group_rule.project_id, 'admin');
      const mine = (await req('GET', `/security-group-rules?security_group_id=${group.id}&fields=id&fields=protocol`)).body.security_group_rules;
      assert.equal(mine.length, 3);
      assert.ok(mine.some((r: Rule) => r.id === byAdmin.body.security_group_rule.id));
      const theirs = await req('GET', `/security-group-rules?security_group_id=${group.id}`, undefined, OTHER);
      assert.deepEqual(theirs.body, { security_group_rules: [] });
      for (const [method, body] of [
        ['GET', undefined],
        ['PUT', { security_group_rule: { description: 'x' } }],
        ['DELETE', undefined],
      ] as const) {
        const r = await req(method, `/security-group-rules/${byAdmin.body.security_group_rule.id}`, body, OTHER);
        assert.equal(r.status, 404, method);
        assert.deepEqual(r.body.NeutronError, { type: 'HTTPNotFound', message: 'The resource could not be found.', detail: '' });
      }
      assert.equal((await req('DELETE', `/security-group-rules/${byAdmin.body.security_group_rule.id}`)).status, 204);
    });

    it('filters as Neutron converts: names and numbers as stored, ethertypes in any case, prefixes canonical', async () => {
      const group = await newGroup('filters');
      for (const rule of [{ protocol: 'tcp' }, { protocol: '6', port_range_min: 1, port_range_max: 2 }, { remote_ip_prefix: '10.9.0.1/16' }]) {
        assert.equal((await newRule({ security_group_id: group.id, direction: 'ingress', ...rule })).status, 201);
      }
      const q = (query: string) => req('GET', `/security-group-rules?security_group_id=${group.id}&${query}&fields=protocol&fields=remote_ip_prefix`);
      assert.deepEqual((await q('protocol=TCP')).body.security_group_rules, [{ protocol: 'tcp', remote_ip_prefix: null }]);
      assert.deepEqual((await q('protocol=6')).body.security_group_rules, [{ protocol: '6', remote_ip_prefix: null }]);
      assert.equal((await q('ethertype=ipv4')).body.security_group_rules.length, 4);
      assert.equal((await q('direction=sideways')).body.security_group_rules.length, 0);
      assert.deepEqual((await q('remote_ip_prefix=10.9.0.1/255.255.0.0')).body.security_group_rules, [{ protocol: null, remote_ip_prefix: '10.9.0.1/16' }]);
      assert.deepEqual((await q('normalized_cidr=10.9.0.0/16')).body.security_group_rules, [{ protocol: null, remote_ip_prefix: '10.9.0.1/16' }]);
      const page = await req('GET', `/security-group-rules?security_group_id=${group.id}&limit=2`);
      assert.ok(page.body.security_group_rules_links[0].href.startsWith(`${api.url}/v2.0/security-group-rules?`));
    });

    it('keeps the rules of the schema before migration 003', async () => {
      const older = await engine.create();
      const db = openDb(parseConnection(older.connection, '.'), 1);
      try {
        await migrateToLatest(db, '002_neutron');
        const k = db.kysely as unknown as NeutronDb;
        const now = '2026-01-01T00:00:00Z';
        const base = { project_id: 'p', name: '', description: '', created_at: now, updated_at: now, revision_number: 1 };
        await k
          .insertInto('securitygroups')
          .values({ ...base, id: 'g', stateful: 1 })
          .execute();
        const row = { id: 'r', project_id: 'p', security_group_id: 'g', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22 };
        await k
          .insertInto('securitygrouprules')
          .values({ ...row, description: 'ssh', created_at: now, updated_at: now, fingerprint: 'f' })
          .execute();
        await migrateToLatest(db);
        const rules = await k.selectFrom('securitygrouprules').selectAll().execute();
        assert.deepEqual(
          rules.map((r: Rule) => [r.id, r.protocol, r.port_range_min, r.description, r.fingerprint, r.normalized_cidr]),
          [['r', 'tcp', 22, 'ssh', 'f', null]],
        );
        // A null description is allowed now.
        await k
          .insertInto('securitygrouprules')
          .values({ ...row, id: 'r2', description: null, created_at: now, updated_at: now, fingerprint: 'f2' })
          .execute();
      } finally {
        await db.close();
        await older.drop();
      }
    });

    it('creates rules in bulk, all or none', async () => {
      const group = await newGroup('bulk');
      const rules = [
        { security_group_id: group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80 },
        { security_group_id: group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 443, port_range_max: 443 },
      ];
      const created = await req('POST', '/security-group-rules', { security_group_rules: rules });
      assert.equal(created.status, 201);
      assert.deepEqual(
        created.body.security_group_rules.map((r: Rule) => r.port_range_min),
        [80, 443],
      );
      assert.equal(await revision(group.id), 2);
      const partly = await req('POST', '/security-group-rules', { security_group_rules: [{ ...rules[0], port_range_min: 8, port_range_max: 8 }, rules[1]] });
      assert.equal(partly.status, 409);
      assert.equal(partly.body.NeutronError.type, 'SecurityGroupRuleExists');
      const listed = (await req('GET', `/security-groups/${group.id}`)).body.security_group.security_group_rules;
      assert.equal(listed.length, 4);
    });
  });
}
