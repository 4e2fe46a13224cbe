import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type Engine, type TestDatabase } from './support/engines.js';
import { MEMBER, neutronClient, startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// Segments and type drivers (ML2 style) through the API on every engine: tenant networks
// from the configured ranges in tenant_network_types order, provider networks validated
// per type, segments released on delete, exhaustion as NoNetworkAvailable, MTU per type,
// and allocation that stays unique with two servers on one database.

type Overrides = Parameters<typeof startNeutronApi>[1];

/** A fresh database with one server per entry in `configs` (all on that database). */
function serversOn(engine: Engine, ...configs: Overrides[]) {
  const state: { database?: TestDatabase; servers: RunningNeutronApi[]; apis: Array<ReturnType<typeof neutronClient>> } = { servers: [], apis: [] };
  before(async () => {
    state.database = await engine.create();
    for (const config of configs) state.servers.push(await startNeutronApi(state.database.connection, config));
    state.apis = state.servers.map((s) => neutronClient(s.url));
  });
  after(async () => {
    for (const server of state.servers) await server.close();
    await state.database?.drop();
  });
  return state;
}

const segment = (n: Record<string, any>) => [n['provider:network_type'], n['provider:physical_network'], n['provider:segmentation_id']];
const NO_NETWORK = { type: 'NoNetworkAvailable', message: 'Unable to create the network. No tenant network is available for allocation.', detail: '' };

for (const engine of await engines()) {
  describe(`Neutron segments on ${engine.name}`, { skip: engine.skip }, () => {
    describe('tenant networks', () => {
      const tiny = serversOn(engine, { tricircle: { vni_ranges: '100:101', tenant_network_types: 'vxlan,local' } });

      it('take VNIs from vni_ranges, then the next tenant type, and reuse released VNIs', async () => {
        const api = tiny.apis[0]!;
        // Members create; an admin reads the segments (provider attributes are admin-only).
        const create = async (name: string) => (await api.get(`/v2.0/networks/${(await api.network({ name }, MEMBER)).id}`)).body.network;
        const first = await create('a');
        const second = await create('b');
        assert.deepEqual([first, second].map((n) => n['provider:segmentation_id']).sort(), [100, 101]);
        for (const n of [first, second]) assert.equal(n.mtu, 1450);
        const third = await create('c');
        assert.deepEqual(segment(third), ['local', null, null]);
        assert.equal(third.mtu, 1500);

        assert.equal((await api.del(`/v2.0/networks/${first.id}`, MEMBER)).status, 204);
        assert.deepEqual(segment(await create('d')), ['vxlan', null, first['provider:segmentation_id']]);
      });
    });

    describe('exhaustion', () => {
      const single = serversOn(engine, { tricircle: { vni_ranges: '7:7', tenant_network_types: 'vxlan' } });

      it('answers NoNetworkAvailable when no tenant type has room, writing nothing', async () => {
        const api = single.apis[0]!;
        const only = await api.network({ name: 'only' });
        assert.equal(only['provider:segmentation_id'], 7);
        const refused = await api.post('/v2.0/networks', { network: { name: 'none left' } });
        assert.equal(refused.status, 503);
        assert.deepEqual(refused.body.NeutronError, NO_NETWORK);
        const bulk = await api.post('/v2.0/networks', { networks: [{ name: 'x' }, { name: 'y' }] });
        assert.equal(bulk.status, 503);
        assert.deepEqual((await api.get('/v2.0/networks')).body.networks.length, 1);
        await api.del(`/v2.0/networks/${only.id}`);
        assert.equal((await api.network({ name: 'after delete' }))['provider:segmentation_id'], 7);
      });
    });

    describe('provider networks', () => {
      const providers = serversOn(engine, {
        tricircle: { network_vlan_ranges: 'physnet1:100:101,physnet2', flat_networks: 'public,extnet', vni_ranges: '1001:1002', global_physnet_mtu: '9000' },
      });
      const create = (attrs: Record<string, unknown>) => providers.apis[0]!.post('/v2.0/networks', { network: { name: 'provider', ...attrs } });
      const provider = (type: string, physnet?: string | null, id?: number | null) => ({
        'provider:network_type': type,
        ...(physnet !== undefined ? { 'provider:physical_network': physnet } : {}),
        ...(id !== undefined ? { 'provider:segmentation_id': id } : {}),
      });

      it('creates each type with its MTU and releases the segment on delete', async () => {
        const cases: Array<[Record<string, unknown>, unknown[], number]> = [
          [provider('local'), ['local', null, null], 9000],
          [provider('flat', 'public'), ['flat', 'public', null], 9000],
          [provider('vlan', 'physnet1', 100), ['vlan', 'physnet1', 100], 9000],
          [provider('vlan', 'physnet2', 3000), ['vlan', 'physnet2', 3000], 9000],
          [provider('vlan', 'physnet1'), ['vlan', 'physnet1', 101], 9000],
          [provider('vxlan', null, 5000), ['vxlan', null, 5000], 8950],
        ];
        const created = [];
        for (const [attrs, expected, mtu] of cases) {
          const reply = await create(attrs);
          assert.equal(reply.status, 201, `${JSON.stringify(attrs)}: ${reply.text}`);
          assert.deepEqual(segment(reply.body.network), expected);
          assert.equal(reply.body.network.mtu, mtu);
          created.push(reply.body.network);
        }
        // Every segment above is now in use.
        const inUse: Array<[Record<string, unknown>, string, string]> = [
          [provider('flat', 'public'), 'PhysicalNetworkInUse', 'Unable to create the flat network. Physical network public is in use.'],
          [provider('vlan', 'physnet1', 100), 'SegmentationIdInUse', 'Unable to create the network. The VLAN 100 on physical network physnet1 is in use.'],
          [provider('vxlan', null, 5000), 'SegmentationIdInUse', 'Unable to create the network. The tunnel ID 5000 is in use.'],
          [provider('vlan', 'physnet1'), 'NoNetworkAvailable', NO_NETWORK.message],
        ];
        for (const [attrs, type, message] of inUse) {
          const reply = await create(attrs);
          assert.equal(reply.status, type === 'NoNetworkAvailable' ? 503 : 409, JSON.stringify(attrs));
          assert.deepEqual(reply.body.NeutronError, { type, message, detail: '' });
        }
        // A provider VXLAN network without an id takes one of the tenant range; a tenant network gets the other.
        const vxlan = (await create(provider('vxlan'))).body.network;
        created.push(vxlan);
        const tenant = await providers.apis[0]!.network({ name: 'tenant' });
        assert.deepEqual([vxlan, tenant].map((n) => n['provider:segmentation_id']).sort(), [1001, 1002]);
        for (const n of created) assert.equal((await providers.apis[0]!.del(`/v2.0/networks/${n.id}`)).status, 204);
        for (const [attrs] of inUse.slice(0, 3)) assert.equal((await create(attrs)).status, 201, `reusable: ${JSON.stringify(attrs)}`);
      });

      it('refuses requests the type driver cannot serve with InvalidInput', async () => {
        const invalid = (message: string) => ({ type: 'InvalidInput', message: `Invalid input for operation: ${message}.`, detail: '' });
        const cases: Array<[Record<string, unknown>, string]> = [
          [provider('gre'), "network_type value 'gre' not supported"],
          [provider('local', 'public'), 'local provider networks take neither physical_network nor segmentation_id'],
          [provider('flat'), 'physical_network required for flat provider network'],
          [provider('flat', 'extnet', 5), 'segmentation_id prohibited for flat provider network'],
          [provider('flat', 'elsewhere'), "physical_network 'elsewhere' unknown for flat provider network"],
          [provider('vlan', null, 100), 'physical_network required for VLAN provider network'],
          [provider('vlan', 'physnet9', 100), "physical_network 'physnet9' unknown for VLAN provider network"],
          [provider('vlan', 'physnet2', 4095), 'segmentation_id out of range (1 through 4094)'],
          [provider('vxlan', 'physnet1', 10), 'provider:physical_network specified for vxlan network'],
          [provider('vxlan', null, 2 ** 24), 'segmentation_id out of range (1 through 16777215)'],
        ];
        const before = (await providers.apis[0]!.get('/v2.0/networks')).body.networks.length;
        for (const [attrs, message] of cases) {
          const reply = await create(attrs);
          assert.equal(reply.status, 400, JSON.stringify(attrs));
          assert.deepEqual(reply.body.NeutronError, invalid(message), JSON.stringify(attrs));
        }
        assert.equal((await providers.apis[0]!.get('/v2.0/networks')).body.networks.length, before);
      });
    });

    describe('two servers on one database', () => {
      const config = { tricircle: { vni_ranges: '300:319', tenant_network_types: 'vxlan' } };
      const pair = serversOn(engine, config, config);

      it('give 20 concurrent creates on a 20-VNI range 20 distinct VNIs, then NoNetworkAvailable', async () => {
        const replies = await Promise.all(
          Array.from({ length: 20 }, (_, i) => pair.apis[i % 2]!.post('/v2.0/networks', { network: { name: `c${i}` } }, MEMBER)),
        );
        for (const reply of replies) assert.equal(reply.status, 201, reply.text);
        const listed = (await pair.apis[0]!.get('/v2.0/networks?tenant_id=p2&fields=provider:segmentation_id')).body.networks;
        const vnis = listed.map((n: Record<string, number>) => n['provider:segmentation_id']).sort((a: number, b: number) => a - b);
        assert.deepEqual(
          vnis,
          Array.from({ length: 20 }, (_, i) => 300 + i),
        );
        const full = await pair.apis[1]!.post('/v2.0/networks', { network: { name: 'c20' } }, MEMBER);
        assert.equal(full.status, 503);
      });
    });
  });
}
