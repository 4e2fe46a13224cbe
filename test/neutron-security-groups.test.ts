import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ensureDefaultSecurityGroup } from '../src/neutron/core/security-groups.js';
import { engines, type TestDatabase } from './support/engines.js';
import { ADMIN, MEMBER, OTHER, call, startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// Security groups over real HTTP on every engine: the default group each project gets on
// first use, exactly as the real Neutron (Zed) shows it, groups' lifecycle and visibility,
// and rules in the forms Neutron stores them. Bad input: neutron-security-groups-bad-input.

const member = (project: string) => ({ 'x-user-id': `user-${project}`, 'x-project-id': project, 'x-roles': 'member' });
const GROUP_KEYS = [
  'created_at',
  'description',
  'id',
  'name',
  'project_id',
  'revision_number',
  'security_group_rules',
  'stateful',
  'tags',
  'tenant_id',
  'updated_at',
];
const RULE_KEYS = [
  'created_at',
  'description',
  'direction',
  'ethertype',
  'id',
  'normalized_cidr',
  'port_range_max',
  'port_range_min',
  'project_id',
  'protocol',
  'remote_group_id',
  'remote_ip_prefix',
  'revision_number',
  'security_group_id',
  'tags',
  'tenant_id',
  'updated_at',
];

type Rule = Record<string, unknown>;
const content = (r: Rule) => ({ direction: r.direction, ethertype: r.ethertype, remote_group_id: r.remote_group_id });

for (const engine of await engines()) {
  describe(`Neutron security groups on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let api: RunningNeutronApi;
    const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = MEMBER) =>
      call(api.url, method, `/v2.0${path}`, body, headers);
    const newGroup = async (name: string, headers: Record<string, string> = MEMBER) =>
      (await req('POST', '/security-groups', { security_group: { name } }, headers)).body.security_group;
    const newRule = (rule: Rule, headers: Record<string, string> = MEMBER) => req('POST', '/security-group-rules', { security_group_rule: rule }, headers);
    const defaults = (project: string) => api.db.kysely.selectFrom('default_security_groups').selectAll().where('project_id', '=', project).execute();
    const groupsOf = (project: string) => api.db.kysely.selectFrom('securitygroups').selectAll().where('project_id', '=', project).execute();

    before(async () => {
      database = await engine.create();
      api = await startNeutronApi(database.connection, { QUOTAS: { quota_security_group: '-1', quota_security_group_rule: '-1' } });
    });
    after(async () => {
      await api?.close();
      await database?.drop();
    });

    describe('the default group', () => {
      it('is created on the first listing, with the rules and attributes the real Neutron shows', async () => {
        const list = await req('GET', '/security-groups', undefined, member('first'));
        assert.equal(list.status, 200);
        assert.equal(list.body.security_groups.length, 1);
        const group = list.body.security_groups[0];
        assert.deepEqual(Object.keys(group).sort(), GROUP_KEYS);
        assert.deepEqual(
          { ...group, id: undefined, created_at: undefined, updated_at: undefined, security_group_rules: undefined },
          {
            ...{ id: undefined, created_at: undefined, updated_at: undefined, security_group_rules: undefined },
            name: 'default',
            description: 'Default security group',
            stateful: true,
            project_id: 'first',
            tenant_id: 'first',
            tags: [],
            revision_number: 1,
          },
        );
        const rules: Rule[] = group.security_group_rules;
        assert.deepEqual(
          rules.map((r) => r.id),
          rules.map((r) => r.id as string).sort(),
        );
        assert.deepEqual(
          rules.map(content).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
          [
            { direction: 'egress', ethertype: 'IPv4', remote_group_id: null },
            { direction: 'egress', ethertype: 'IPv6', remote_group_id: null },
            { direction: 'ingress', ethertype: 'IPv4', remote_group_id: group.id },
            { direction: 'ingress', ethertype: 'IPv6', remote_group_id: group.id },
          ],
        );
        for (const rule of rules) {
          assert.deepEqual(Object.keys(rule).sort(), RULE_KEYS);
          assert.deepEqual(
            { ...rule, ...content(rule), id: undefined, created_at: undefined, updated_at: undefined },
            {
              ...content(rule),
              ...{ id: undefined, created_at: undefined, updated_at: undefined },
              security_group_id: group.id,
              protocol: null,
              port_range_min: null,
              port_range_max: null,
              remote_ip_prefix: null,
              normalized_cidr: null,
              description: null,
              project_id: 'first',
              tenant_id: 'first',
              tags: [],
              revision_number: 0,
            },
          );
        }
        const again = await req('GET', '/security-groups', undefined, member('first'));
        assert.deepEqual(again.body, list.body);
      });

      it('is created by listing rules, creating a group or creating a network, once', async () => {
        await req('GET', '/security-group-rules', undefined, member('by-rules'));
        await newGroup('web', member('by-group'));
        assert.equal((await req('POST', '/networks', { network: { name: 'n' } }, member('by-network'))).status, 201);
        for (const project of ['by-rules', 'by-group', 'by-network']) {
          assert.equal((await defaults(project)).length, 1, project);
          const names = (await groupsOf(project)).map((g) => g.name).sort();
          assert.deepEqual(names, project === 'by-group' ? ['default', 'web'] : ['default'], project);
        }
        const rules = await req('GET', '/security-group-rules', undefined, member('by-rules'));
        assert.equal(rules.body.security_group_rules.length, 4);
      });

      it("is created for another project only when an admin lists that project's groups", async () => {
        await req('GET', '/security-groups?project_id=asked-by-member', undefined, member('asker'));
        assert.equal((await defaults('asked-by-member')).length, 0);
        const byAdmin = await req('GET', '/security-groups?project_id=asked-by-admin', undefined, ADMIN);
        assert.equal(byAdmin.body.security_groups.length, 1);
        assert.equal(byAdmin.body.security_groups[0].project_id, 'asked-by-admin');
      });

      it('is created exactly once under 10 concurrent first uses', async () => {
        const headers = member('racer');
        const replies = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            i % 3 === 2
              ? req('POST', '/security-groups', { security_group: { name: `g${i}` } }, headers)
              : req('GET', i % 3 ? '/security-group-rules' : '/security-groups', undefined, headers),
          ),
        );
        assert.deepEqual(
          replies.map((r) => r.status),
          replies.map((_, i) => (i % 3 === 2 ? 201 : 200)),
        );
        const rows = await defaults('racer');
        assert.equal(rows.length, 1);
        assert.equal((await groupsOf('racer')).filter((g) => g.name === 'default').length, 1);
        const listed = replies.filter((_, i) => i % 3 === 0).map((r) => r.body.security_groups.find((g: Rule) => g.name === 'default').id);
        assert.deepEqual(new Set(listed), new Set([rows[0]!.security_group_id]));
        const rules = await api.db.kysely.selectFrom('securitygrouprules').select('id').where('security_group_id', '=', rows[0]!.security_group_id).execute();
        assert.equal(rules.length, 4);
      });

      it('is ensured once by concurrent transactions that read before they create it', async () => {
        const ids = await Promise.all(
          Array.from({ length: 5 }, () =>
            api.db.kysely.transaction().execute(async (tx) => {
              await tx.selectFrom('default_security_groups').selectAll().execute();
              return ensureDefaultSecurityGroup(tx, 'in-transaction');
            }),
          ),
        );
        assert.equal(new Set(ids).size, 1);
        assert.equal(await ensureDefaultSecurityGroup(api.db.kysely, 'in-transaction'), ids[0]);
        assert.equal((await groupsOf('in-transaction')).length, 1);
      });

      it('keeps its name; members cannot delete it, an admin can and the project then gets a new one', async () => {
        const project = member('keeper');
        const id = (await req('GET', '/security-groups', undefined, project)).body.security_groups[0].id;
        const rename = await req('PUT', `/security-groups/${id}`, { security_group: { name: 'other' } }, project);
        assert.equal(rename.status, 409);
        assert.equal(rename.body.NeutronError.type, 'SecurityGroupCannotUpdateDefault');
        const described = await req('PUT', `/security-groups/${id}`, { security_group: { description: 'ours' } }, project);
        assert.equal(described.status, 200);
        assert.equal(described.body.security_group.description, 'ours');
        assert.equal(described.body.security_group.revision_number, 2);
        const refused = await req('DELETE', `/security-groups/${id}`, undefined, project);
        assert.equal(refused.status, 409);
        assert.equal(refused.body.NeutronError.type, 'SecurityGroupCannotRemoveDefault');
        assert.equal((await req('DELETE', `/security-groups/${id}`, undefined, ADMIN)).status, 204);
        assert.equal((await defaults('keeper')).length, 0);
        const fresh = (await req('GET', '/security-groups', undefined, project)).body.security_groups;
        assert.equal(fresh.length, 1);
        assert.notEqual(fresh[0].id, id);
      });
    });

    describe('groups', () => {
      it('are created with egress rules, updated and deleted with their rules', async () => {
        const created = await req('POST', '/security-groups', { security_group: { name: 'web', description: 'front', stateful: false } });
        assert.equal(created.status, 201);
        const group = created.body.security_group;
        assert.deepEqual(Object.keys(group).sort(), GROUP_KEYS);
        assert.deepEqual([group.name, group.description, group.stateful, group.revision_number], ['web', 'front', false, 1]);
        assert.deepEqual(group.security_group_rules.map((r: Rule) => [r.direction, r.ethertype, r.remote_group_id, r.description]).sort(), [
          ['egress', 'IPv4', null, null],
          ['egress', 'IPv6', null, null],
        ]);
        const updated = await req('PUT', `/security-groups/${group.id}`, { security_group: { name: 'www', stateful: 'true' } });
        assert.equal(updated.status, 200);
        assert.deepEqual(
          [updated.body.security_group.name, updated.body.security_group.stateful, updated.body.security_group.revision_number],
          ['www', true, 2],
        );
        const shown = await req('GET', `/security-groups/${group.id}?fields=name&fields=stateful`);
        assert.deepEqual(shown.body, { security_group: { name: 'www', stateful: true } });
        assert.equal((await req('DELETE', `/security-groups/${group.id}`)).status, 204);
        const gone = await req('GET', `/security-groups/${group.id}`);
        assert.equal(gone.status, 404);
        assert.equal(gone.body.NeutronError.message, `Security group ${group.id} does not exist`);
        assert.equal((await api.db.kysely.selectFrom('securitygrouprules').select('id').where('security_group_id', '=', group.id).execute()).length, 0);
      });

      it('are created in bulk, all or none', async () => {
        const bulk = await req('POST', '/security-groups', { security_groups: [{ name: 'b1' }, { name: 'b2' }] });
        assert.equal(bulk.status, 201);
        assert.deepEqual(
          bulk.body.security_groups.map((g: Rule) => g.name),
          ['b1', 'b2'],
        );
        const before = (await groupsOf('p2')).length;
        const refused = await req('POST', '/security-groups', { security_groups: [{ name: 'b3' }, { name: 'default' }] });
        assert.equal(refused.status, 409);
        assert.equal((await groupsOf('p2')).length, before);
      });

      it("are invisible to other projects, and listed for admins with everyone's", async () => {
        const mine = await newGroup('private');
        for (const [method, body] of [
          ['GET', undefined],
          ['PUT', { security_group: { description: 'x' } }],
          ['DELETE', undefined],
        ] as const) {
          const r = await req(method, `/security-groups/${mine.id}`, body, OTHER);
          assert.equal(r.status, 404, method);
          assert.equal(r.body.NeutronError.type, 'SecurityGroupNotFound');
        }
        const others = await req('GET', '/security-groups', undefined, OTHER);
        assert.ok(others.body.security_groups.every((g: Rule) => g.project_id === 'p3'));
        const all = await req('GET', `/security-groups?id=${mine.id}`, undefined, ADMIN);
        assert.equal(all.body.security_groups.length, 1);
      });

      it('cannot be deleted, nor change stateful, while a port uses them', async () => {
        const group = await newGroup('bound');
        const network = (await req('POST', '/networks', { network: { name: 'net' } })).body.network;
        // A port as the ports API will store it; only its security group binding matters here.
        const port = randomUUID();
        const now = new Date().toISOString();
        await api.db.kysely
          .insertInto('ports')
          .values({
            ...{ id: port, project_id: 'p2', name: '', description: '', created_at: now, updated_at: now, revision_number: 1, network_id: network.id },
            ...{ mac_address: 'fa:16:3e:00:00:01', admin_state_up: 1, status: 'DOWN', device_id: '', device_owner: '', binding_host_id: '' },
            ...{ binding_vif_type: 'unbound', binding_vif_details: '{}', binding_vnic_type: 'normal', binding_profile: '{}', port_security_enabled: 1 },
            ...{ allowed_address_pairs: '[]', extra_dhcp_opts: '[]' },
          })
          .execute();
        await api.db.kysely.insertInto('port_security_groups').values({ port_id: port, security_group_id: group.id }).execute();
        for (const [method, body] of [
          ['DELETE', undefined],
          ['PUT', { security_group: { stateful: false } }],
        ] as const) {
          const r = await req(method, `/security-groups/${group.id}`, body);
          assert.equal(r.status, 409, method);
          assert.deepEqual(r.body.NeutronError, { type: 'SecurityGroupInUse', message: `Security Group ${group.id} in use.`, detail: '' });
        }
        assert.equal((await req('PUT', `/security-groups/${group.id}`, { security_group: { stateful: true, name: 'still' } })).status, 200);
        await api.db.kysely.deleteFrom('ports').where('id', '=', port).execute();
        assert.equal((await req('DELETE', `/security-groups/${group.id}`)).status, 204);
      });

      it('list under security-groups with filters, sorting, fields and pagination links', async () => {
        const project = member('lister');
        for (const name of ['c', 'a', 'b']) await newGroup(name, project);
        const sorted = await req('GET', '/security-groups?sort_key=name&sort_dir=desc&fields=name', undefined, project);
        assert.deepEqual(sorted.body, { security_groups: [{ name: 'default' }, { name: 'c' }, { name: 'b' }, { name: 'a' }] });
        const named = await req('GET', '/security-groups?name=default&name=a&fields=name&sort_key=name&sort_dir=asc', undefined, project);
        assert.deepEqual(named.body, { security_groups: [{ name: 'a' }, { name: 'default' }] });
        const page = await req('GET', '/security-groups?limit=2&sort_key=name&sort_dir=asc&fields=name', undefined, project);
        assert.deepEqual(page.body.security_groups, [{ name: 'a' }, { name: 'b' }]);
        const next = page.body.security_groups_links.find((l: { rel: string }) => l.rel === 'next').href as string;
        assert.ok(next.startsWith(`${api.url}/v2.0/security-groups?`), next);
        const second = await call(next, 'GET', '', undefined, project);
        assert.deepEqual(second.body.security_groups, [{ name: 'c' }, { name: 'default' }]);
        const root = await call(api.url, 'GET', '/v2.0', undefined, project);
        const listed = root.body.resources.find((r: { name: string }) => r.name === 'security_group_rule');
        assert.deepEqual(listed, {
          name: 'security_group_rule',
          collection: 'security_group_rules',
          links: [{ href: `${api.url}/v2.0/security-group-rules`, rel: 'self' }],
        });
      });

      it('are listed as extensions', async () => {
        const aliases = (await req('GET', '/extensions')).body.extensions.map((e: { alias: string }) => e.alias);
        for (const alias of ['security-group', 'stateful-security-group', 'security-groups-normalized-cidr']) assert.ok(aliases.includes(alias), alias);
      });

      it('count against the security_group and security_group_rule quotas', async () => {
        const project = member('quota');
        await req('GET', '/security-groups', undefined, project);
        assert.equal((await req('PUT', '/quotas/quota', { quota: { security_group: 2, security_group_rule: 7 } }, ADMIN)).status, 200);
        const first = await newGroup('one', project);
        const over = await req('POST', '/security-groups', { security_group: { name: 'two' } }, project);
        assert.equal(over.status, 409);
        assert.deepEqual(over.body.NeutronError, { type: 'OverQuota', message: "Quota exceeded for resources: ['security_group'].", detail: '' });
        assert.equal((await newRule({ security_group_id: first.id, direction: 'ingress', protocol: 'tcp' }, project)).status, 201);
        const rules = await newRule({ security_group_id: first.id, direction: 'ingress', protocol: 'udp' }, project);
        assert.equal(rules.status, 409);
        assert.equal(rules.body.NeutronError.message, "Quota exceeded for resources: ['security_group_rule'].");
        assert.equal((await groupsOf('quota')).length, 2);
      });
    });
  });
}
