import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { engines, type TestDatabase } from './support/engines.js';
import { assertError, externalNet, netWithSubnet, router } from './support/l3.js';
import { closedPort } from './support/net.js';
import { ADMIN, neutronClient, type RunningNeutronApi } from './support/neutron-server.js';
import { startLocalNeutron } from './support/region-cloud.js';

// The local role's own port and floating IP rules (reference §4.4 force_up, §4.7 local L3 plugin),
// on a local Neutron server of its own. Requests without a token never reach central, so its
// central URL is a closed port: everything here is the region's own business.

type Json = Record<string, any>;

for (const engine of (await engines()).filter((e) => e.name !== 'mysql')) {
  describe(`local Neutron force_up and L3 (${engine.name})`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let server: RunningNeutronApi;
    const api = () => neutronClient(server.url);

    before(async () => {
      database = await engine.create();
      server = await startLocalNeutron(database.connection, `http://127.0.0.1:${await closedPort()}`, 'RegionOne');
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    const newPort = async (networkId: string, attrs: Json = {}): Promise<Json> => {
      const reply = await api().post('/v2.0/ports', { port: { network_id: networkId, ...attrs } }, ADMIN);
      assert.equal(reply.status, 201, reply.text);
      return reply.body.port;
    };
    const updatePort = async (id: string, changes: Json): Promise<Json> => {
      const reply = await api().put(`/v2.0/ports/${id}`, { port: changes }, ADMIN);
      assert.equal(reply.status, 200, reply.text);
      return reply.body.port;
    };
    const storedPort = async (id: string): Promise<Json> => (await api().get(`/v2.0/ports/${id}`, ADMIN)).body.port;

    it("force_up in a shadow port's binding profile makes it ACTIVE and is not stored", async () => {
      const { networkId } = await netWithSubnet(api(), '10.91.1.0/24');
      const shadowOf = randomUUID();
      const port = await newPort(networkId, {
        name: `shadow_port_${shadowOf}`,
        device_owner: 'compute:shadow',
        device_id: 'vm-elsewhere',
        'binding:host_id': 'host-2',
      });
      assert.equal(port.id, shadowOf);
      assert.equal(port.status, 'DOWN');
      const plain = await updatePort(port.id, { 'binding:profile': { region: 'RegionTwo' } });
      assert.equal(plain.status, 'DOWN', 'a profile without force_up changes no status');

      const forced = await updatePort(port.id, { 'binding:profile': { force_up: true, region: 'RegionTwo' }, 'binding:vnic_type': 'direct' });
      assert.equal(forced.status, 'ACTIVE');
      const stored = await storedPort(port.id);
      assert.equal(stored.status, 'ACTIVE');
      assert.deepEqual(stored['binding:profile'], { region: 'RegionTwo' }, 'force_up is popped from the stored profile');
      assert.equal(stored['binding:vnic_type'], 'normal', 'the vnic type is left as it was');
    });

    it('a free port taken by compute:nova becomes ACTIVE; one that had an owner does not', async () => {
      const { networkId } = await netWithSubnet(api(), '10.91.2.0/24');
      const free = await newPort(networkId);
      const taken = await updatePort(free.id, { device_owner: 'compute:nova', device_id: 'vm-1' });
      assert.equal(taken.status, 'ACTIVE');

      const owned = await newPort(networkId, { device_owner: 'compute:other', device_id: 'vm-2' });
      assert.equal((await updatePort(owned.id, { device_owner: 'compute:nova', device_id: 'vm-3' })).status, 'DOWN');
    });

    it('a floating IP is served by the router with a gateway on its network, the port subnet not attached to it', async () => {
      const external = await externalNet(api(), '172.24.91.0/24');
      const gatewayRouter = await router(api(), { name: 'bridge-router', external_gateway_info: { network_id: external.networkId } });
      await router(api(), { name: 'no-gateway' });
      const internal = await netWithSubnet(api(), '10.91.3.0/24');
      const port = await newPort(internal.networkId, { device_owner: 'compute:nova', device_id: 'vm-4' });

      const created = await api().post('/v2.0/floatingips', { floatingip: { floating_network_id: external.networkId, port_id: port.id } }, ADMIN);
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.floatingip.router_id, gatewayRouter.id);
      assert.equal(created.body.floatingip.fixed_ip_address, port.fixed_ips[0].ip_address);

      // Associating later (update) chooses the same way.
      const other = await newPort(internal.networkId);
      const free = await api().post('/v2.0/floatingips', { floatingip: { floating_network_id: external.networkId } }, ADMIN);
      assert.equal(free.status, 201, free.text);
      const associated = await api().put(`/v2.0/floatingips/${free.body.floatingip.id}`, { floatingip: { port_id: other.id } }, ADMIN);
      assert.equal(associated.status, 200, associated.text);
      assert.equal(associated.body.floatingip.router_id, gatewayRouter.id);
    });

    it('without a router on the external network the association is ExternalGatewayForFloatingIPNotFound', async () => {
      const external = await externalNet(api(), '172.24.92.0/24');
      const internal = await netWithSubnet(api(), '10.91.4.0/24');
      const port = await newPort(internal.networkId);
      const reply = await api().post('/v2.0/floatingips', { floatingip: { floating_network_id: external.networkId, port_id: port.id } }, ADMIN);
      assertError(reply, 404, 'ExternalGatewayForFloatingIPNotFound');
      const fips = (await api().get(`/v2.0/floatingips?floating_network_id=${external.networkId}`, ADMIN)).body.floatingips;
      assert.deepEqual(fips, [], 'a refused association creates no floating IP');
    });
  });
}
