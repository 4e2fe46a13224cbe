import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NETWORK } from '../src/neutron/resources/index.js';
import { engines, type TestDatabase } from './support/engines.js';
import { ADMIN, MEMBER, OTHER, neutronClient, startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// Networks through the generic framework over real HTTP, on every engine: CRUD, bulk,
// filters on every filterable attribute, fields, sorting, pagination links, visibility and
// policy, as the real Neutron (Zed) answers them. Tags, quotas and OpenAPI:
// neutron-networks-extras; segments and type drivers: neutron-network-segments; bad input:
// neutron-networks-bad-input.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const member = (project: string) => ({ 'x-user-id': `user-${project}`, 'x-project-id': project, 'x-roles': 'member' });
const ids = (body: { networks: Array<{ id: string }> }) => body.networks.map((n) => n.id);

for (const engine of await engines()) {
  describe(`Neutron networks on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let server: RunningNeutronApi;
    let api: ReturnType<typeof neutronClient>;

    before(async () => {
      database = await engine.create();
      server = await startNeutronApi(database.connection);
      api = neutronClient(server.url);
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    it('creates, shows, updates and deletes a network with every attribute Neutron shows', async () => {
      const created = await api.post('/v2.0/networks', { network: { name: 'n1', description: 'first' } });
      assert.equal(created.status, 201);
      const net = created.body.network;
      assert.match(net.id, UUID);
      assert.deepEqual(
        Object.keys(net).sort(),
        [
          'admin_state_up',
          'availability_zone_hints',
          'availability_zones',
          'created_at',
          'description',
          'id',
          'mtu',
          'name',
          'port_security_enabled',
          'project_id',
          'provider:network_type',
          'provider:physical_network',
          'provider:segmentation_id',
          'revision_number',
          'router:external',
          'shared',
          'status',
          'subnets',
          'tags',
          'tenant_id',
          'updated_at',
        ].sort(),
      );
      assert.equal(net.name, 'n1');
      assert.equal(net.description, 'first');
      assert.equal(net.admin_state_up, true);
      assert.equal(net.shared, false);
      assert.equal(net.status, 'ACTIVE');
      assert.equal(net['router:external'], false);
      assert.equal(net.port_security_enabled, true);
      assert.deepEqual(net.subnets, []);
      assert.deepEqual(net.tags, []);
      assert.deepEqual(net.availability_zone_hints, []);
      assert.deepEqual(net.availability_zones, ['nova']);
      assert.equal(net.project_id, 'admin');
      assert.equal(net.tenant_id, 'admin');
      assert.equal(net.revision_number, 1);
      assert.match(net.created_at, TIMESTAMP);
      assert.equal(net['provider:network_type'], 'vxlan');
      assert.equal(net['provider:physical_network'], null);
      assert.ok(net['provider:segmentation_id'] >= 1001 && net['provider:segmentation_id'] <= 2000);
      assert.equal(net.mtu, 1450);

      assert.deepEqual((await api.get(`/v2.0/networks/${net.id}`)).body.network, net);
      const updated = await api.put(`/v2.0/networks/${net.id}`, { network: { name: 'n1b', admin_state_up: false, mtu: 1400 } });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.network.name, 'n1b');
      assert.equal(updated.body.network.admin_state_up, false);
      assert.equal(updated.body.network.mtu, 1400);
      assert.equal(updated.body.network.revision_number, 2);
      assert.equal(updated.body.network.created_at, net.created_at);
      const empty = await api.put(`/v2.0/networks/${net.id}`, { network: {} });
      assert.deepEqual(empty.body.network, updated.body.network, 'an empty update changes nothing, revision included');
      const same = await api.put(`/v2.0/networks/${net.id}`, { network: { name: 'n1b' } });
      assert.equal(same.body.network.revision_number, 3, 'any other update bumps the revision, as in Neutron');

      assert.equal((await api.del(`/v2.0/networks/${net.id}`)).status, 204);
      const gone = await api.get(`/v2.0/networks/${net.id}`);
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.body, { NeutronError: { type: 'NetworkNotFound', message: `Network ${net.id} could not be found.`, detail: '' } });
      assert.equal((await api.del(`/v2.0/networks/${net.id}`)).status, 404);
      assert.equal((await api.put(`/v2.0/networks/${net.id}`, { network: { name: 'x' } })).status, 404);
    });

    it('counts every one of concurrent updates in the revision', async () => {
      const net = await api.network({ name: 'busy' });
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => api.put(`/v2.0/networks/${net.id}`, { network: { name: `busy-${i}` } })));
      for (const reply of replies) assert.equal(reply.status, 200, reply.text);
      assert.equal((await api.get(`/v2.0/networks/${net.id}`)).body.network.revision_number, 11);
    });

    it('creates in bulk all or nothing', async () => {
      const both = await api.post('/v2.0/networks', { networks: [{ name: 'bulk-1' }, { network: { name: 'bulk-2' } }] });
      assert.equal(both.status, 201);
      assert.deepEqual(
        both.body.networks.map((n: { name: string }) => n.name),
        ['bulk-1', 'bulk-2'],
      );
      // One bad item: nothing is written, whether validation or the database refuses it.
      const invalid = await api.post('/v2.0/networks', { networks: [{ name: 'bulk-3' }, { name: 5 }] });
      assert.equal(invalid.status, 400);
      const taken = both.body.networks[0]['provider:segmentation_id'];
      const conflict = await api.post('/v2.0/networks', {
        networks: [{ name: 'bulk-3' }, { name: 'bulk-4', 'provider:network_type': 'vxlan', 'provider:segmentation_id': taken }],
      });
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.NeutronError.type, 'SegmentationIdInUse');
      assert.deepEqual((await api.get('/v2.0/networks?name=bulk-3&name=bulk-4')).body.networks, []);
    });

    describe('listing', () => {
      const project = 'list-project';
      let nets: Array<Record<string, any>>;
      const owned = `tenant_id=${project}`;

      before(async () => {
        const specs = [
          { name: 'alpha', admin_state_up: true, shared: false, description: 'x' },
          { name: 'bravo', admin_state_up: false, shared: true, description: 'y' },
          { name: 'charlie', admin_state_up: true, shared: false, description: 'y', 'router:external': true },
          { name: 'delta', admin_state_up: false, shared: false, description: 'x', port_security_enabled: false, mtu: 1300 },
          { name: 'echo', admin_state_up: true, shared: true, description: 'z', 'provider:network_type': 'local' },
          { name: 'alpha', admin_state_up: false, shared: false, description: 'z' },
          { name: 'golf', admin_state_up: true, shared: false, description: 'x' },
        ];
        nets = [];
        for (const spec of specs) nets.push(await api.network({ ...spec, project_id: project }));
        await api.put(`/v2.0/networks/${nets[6]!.id}`, { network: { name: 'golf' } });
        nets[6] = (await api.get(`/v2.0/networks/${nets[6]!.id}`)).body.network;
      });

      it('filters on every filterable attribute, repeated values meaning any of them', async () => {
        const filterable = Object.entries(NETWORK.attributes)
          .filter(([, spec]) => spec.filter !== false && spec.visible !== false)
          .map(([attr]) => attr);
        assert.ok(filterable.length >= 15, filterable.join());
        for (const attr of filterable) {
          const value = (n: Record<string, any>) => (attr === 'tenant_id' ? n.project_id : n[attr]);
          // Two distinct values the attribute takes here (null filters are not Neutron's to give).
          const [first, second] = [...new Set(nets.map(value).filter((v) => v !== null))];
          if (first === undefined) continue;
          const param = (v: unknown) => `${encodeURIComponent(attr)}=${encodeURIComponent(String(v))}`;
          const one = await api.get(`/v2.0/networks?${owned}&${param(first)}`);
          assert.equal(one.status, 200, `${attr}: ${one.text}`);
          assert.deepEqual(
            ids(one.body).sort(),
            nets
              .filter((n) => value(n) === first)
              .map((n) => n.id)
              .sort(),
            attr,
          );
          if (second === undefined) continue;
          const either = await api.get(`/v2.0/networks?${owned}&${param(first)}&${param(second)}`);
          const expected = nets.filter((n) => value(n) === first || value(n) === second).map((n) => n.id);
          assert.deepEqual(ids(either.body).sort(), expected.sort(), `${attr} OR`);
        }
      });

      it('reads booleans as Neutron does and combines filters with AND', async () => {
        for (const spelling of ['true', 'True', '1', 'yes']) {
          const shared = await api.get(`/v2.0/networks?${owned}&shared=${spelling}`);
          assert.deepEqual(ids(shared.body).sort(), [nets[1]!.id, nets[4]!.id].sort(), spelling);
        }
        const both = await api.get(`/v2.0/networks?${owned}&shared=False&admin_state_up=false`);
        assert.deepEqual(ids(both.body).sort(), [nets[3]!.id, nets[5]!.id].sort());
        const none = await api.get(`/v2.0/networks?${owned}&name=alpha&name=nothing&description=y`);
        assert.deepEqual(none.body.networks, []);
      });

      it('lets only admins filter by provider attributes', async () => {
        const local = await api.get(`/v2.0/networks?${owned}&provider:network_type=local`);
        assert.deepEqual(ids(local.body), [nets[4]!.id]);
        const refused = await api.get('/v2.0/networks?provider:network_type=local', MEMBER);
        assert.equal(refused.status, 400);
        assert.deepEqual(refused.body.NeutronError, {
          type: 'HTTPBadRequest',
          message: "['provider:network_type'] is invalid attribute for filtering",
          detail: '',
        });
        const shown = await api.get(`/v2.0/networks/${nets[4]!.id}`, MEMBER);
        assert.equal(shown.status, 200);
        assert.equal('provider:network_type' in shown.body.network, false);
      });

      it('returns only the fields asked for', async () => {
        const listed = await api.get(`/v2.0/networks?${owned}&fields=id&fields=name`);
        for (const n of listed.body.networks) assert.deepEqual(Object.keys(n).sort(), ['id', 'name']);
        const comma = await api.get(`/v2.0/networks/${nets[0]!.id}?fields=name,tenant_id,provider:network_type`);
        assert.deepEqual(comma.body.network, { name: 'alpha', tenant_id: project, 'provider:network_type': 'vxlan' });
      });

      it('sorts by one or several keys in either direction, id breaking ties', async () => {
        const byName = (dir: number) => (a: Record<string, any>, b: Record<string, any>) =>
          dir * (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.id < b.id ? -1 : 1);
        const asc = await api.get(`/v2.0/networks?${owned}&sort_key=name&sort_dir=asc`);
        assert.deepEqual(
          ids(asc.body),
          [...nets].sort(byName(1)).map((n) => n.id),
        );
        const desc = await api.get(`/v2.0/networks?${owned}&sort_key=name&sort_dir=desc&sort_key=id&sort_dir=desc`);
        assert.deepEqual(
          ids(desc.body),
          [...nets]
            .sort(byName(1))
            .reverse()
            .map((n) => n.id),
        );
        const multi = await api.get(`/v2.0/networks?${owned}&sort_key=admin_state_up&sort_dir=desc&sort_key=mtu&sort_dir=asc&sort_key=name&sort_dir=desc`);
        const expected = [...nets].sort((a, b) => Number(b.admin_state_up) - Number(a.admin_state_up) || a.mtu - b.mtu || byName(-1)(a, b));
        assert.deepEqual(
          ids(multi.body),
          expected.map((n) => n.id),
        );
      });

      it('pages with limit and marker; next and previous links walk every item once', async () => {
        for (const sort of ['', '&sort_key=name&sort_dir=desc', '&sort_key=admin_state_up&sort_dir=asc&sort_key=name&sort_dir=asc']) {
          const all = ids((await api.get(`/v2.0/networks?${owned}${sort}`)).body);
          const forward: string[] = [];
          let path: string | null = `/v2.0/networks?${owned}${sort}&limit=3`;
          let last: Record<string, any> | null = null;
          while (path) {
            const page: Record<string, any> = await api.get(path);
            assert.equal(page.status, 200, page.text);
            assert.ok(page.body.networks.length <= 3);
            forward.push(...ids(page.body));
            last = page.body;
            const next = page.body.networks_links?.find((l: { rel: string }) => l.rel === 'next');
            path = next ? next.href.slice(server.url.length) : null;
          }
          assert.deepEqual(forward, all, `forward ${sort}`);
          // Back from the last page through the previous links.
          const backward: string[][] = [];
          let previous = last!.networks_links?.find((l: { rel: string }) => l.rel === 'previous');
          backward.push(ids(last as { networks: Array<{ id: string }> }));
          while (previous) {
            const page = await api.get(previous.href.slice(server.url.length));
            assert.ok(page.body.networks.length > 0);
            backward.unshift(ids(page.body));
            previous = page.body.networks_links?.find((l: { rel: string }) => l.rel === 'previous');
          }
          assert.deepEqual(backward.flat(), all, `backward ${sort}`);
        }
      });

      it('answers an unknown marker with NetworkNotFound; page_reverse alone reverses; a limit of 0 is everything', async () => {
        const marker = '0e0e0e0e-0000-4000-8000-000000000000';
        const unknown = await api.get(`/v2.0/networks?limit=2&marker=${marker}`);
        assert.equal(unknown.status, 404);
        assert.equal(unknown.body.NeutronError.message, `Network ${marker} could not be found.`);
        const hidden = await api.get(`/v2.0/networks?limit=2&marker=${nets[0]!.id}`, OTHER);
        assert.equal(hidden.status, 404);
        const reversed = await api.get(`/v2.0/networks?${owned}&page_reverse=True`);
        assert.deepEqual(
          ids(reversed.body),
          nets
            .map((n) => n.id)
            .sort()
            .reverse(),
          'without a limit, as Neutron: the whole list reversed',
        );
        const zero = await api.get(`/v2.0/networks?${owned}&limit=0`);
        assert.equal(zero.body.networks.length, nets.length);
        assert.equal(zero.body.networks_links, undefined);
      });
    });

    describe('visibility and policy', () => {
      it("hides other projects' networks and shows shared and external ones", async () => {
        const own = await api.network({ name: 'p2-own' }, MEMBER);
        assert.equal(own.project_id, 'p2');
        const shared = await api.network({ name: 'shared', shared: true });
        const external = await api.network({ name: 'external', 'router:external': true });
        const hidden = await api.network({ name: 'admin-only' });
        const seen = ids((await api.get('/v2.0/networks', OTHER)).body);
        assert.ok(seen.includes(shared.id) && seen.includes(external.id));
        assert.ok(!seen.includes(own.id) && !seen.includes(hidden.id));
        for (const [method, body] of [
          ['GET', undefined],
          ['PUT', { network: { name: 'x' } }],
          ['DELETE', undefined],
        ] as const) {
          const reply =
            method === 'GET'
              ? await api.get(`/v2.0/networks/${own.id}`, OTHER)
              : method === 'PUT'
                ? await api.put(`/v2.0/networks/${own.id}`, body, OTHER)
                : await api.del(`/v2.0/networks/${own.id}`, OTHER);
          assert.equal(reply.status, 404, method);
          assert.equal(reply.body.NeutronError.type, 'NetworkNotFound');
        }
        const update = await api.put(`/v2.0/networks/${shared.id}`, { network: { name: 'mine now' } }, OTHER);
        assert.equal(update.status, 403);
        assert.equal(update.body.NeutronError.message, 'rule:update_network is disallowed by policy');
        const remove = await api.del(`/v2.0/networks/${shared.id}`, OTHER);
        assert.equal(remove.body.NeutronError.message, 'rule:delete_network is disallowed by policy');
        assert.equal((await api.get(`/v2.0/networks/${own.id}`)).status, 200, 'admins see everything');
      });

      it('keeps shared, router:external and provider attributes for admins', async () => {
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ shared: true }, '(rule:create_network and rule:create_network:shared) is disallowed by policy'],
          [{ 'router:external': true }, '(rule:create_network and rule:create_network:router:external) is disallowed by policy'],
          [{ 'provider:network_type': 'local' }, '(rule:create_network and rule:create_network:provider:network_type) is disallowed by policy'],
        ];
        const member3 = member('p-policy');
        for (const [attrs, message] of cases) {
          const reply = await api.post('/v2.0/networks', { network: { name: 'policy', ...attrs } }, member3);
          assert.equal(reply.status, 403, JSON.stringify(attrs));
          assert.deepEqual(reply.body.NeutronError, { type: 'PolicyNotAuthorized', message, detail: '' });
        }
        const own = await api.network({ name: 'policy', shared: false }, member3);
        const share = await api.put(`/v2.0/networks/${own.id}`, { network: { shared: true } }, member3);
        assert.equal(share.status, 403);
        assert.equal(share.body.NeutronError.message, '(rule:update_network and rule:update_network:shared) is disallowed by policy');
        const foreign = await api.post('/v2.0/networks', { network: { name: 'x', project_id: 'someone-else' } }, member3);
        assert.equal(foreign.status, 400);
        assert.equal(
          foreign.body.NeutronError.message,
          "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin or advsvc privileges",
        );
        assert.deepEqual(ids((await api.get('/v2.0/networks?tenant_id=p-policy', member3)).body), [own.id]);
        assert.equal((await api.get('/v2.0/networks?tenant_id=someone-else', ADMIN)).body.networks.length, 0);
      });
    });
  });
}
