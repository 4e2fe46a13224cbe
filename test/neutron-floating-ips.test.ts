import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestDatabase } from './support/engines.js';
import { assertError, counts, externalNet, netWithSubnet, router, type Api } from './support/l3.js';
import { MEMBER, OTHER, neutronClient, startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// Floating IPs over real HTTP on every engine: allocation, association through a router,
// the in-use checks, and bad input, answered as the real Neutron (Zed) answers.

for (const engine of await engines()) {
  describe(`Neutron floating IPs on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let server: RunningNeutronApi;
    let api: Api;
    let ext: { networkId: string; subnetId: string };
    let priv: { networkId: string; subnetId: string };
    let routerId: string;

    before(async () => {
      database = await engine.create();
      server = await startNeutronApi(database.connection);
      api = neutronClient(server.url);
      ext = await externalNet(api, '198.51.100.0/24');
      priv = await netWithSubnet(api, '10.0.0.0/24', {}, MEMBER);
      routerId = (await router(api, { external_gateway_info: { network_id: ext.networkId } }, MEMBER)).id;
      const added = await api.put(`/v2.0/routers/${routerId}/add_router_interface`, { subnet_id: priv.subnetId }, MEMBER);
      assert.equal(added.status, 200, added.text);
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    const fip = (body: Record<string, unknown>, headers = MEMBER) => api.post('/v2.0/floatingips', { floatingip: body }, headers);
    const vmPort = async (network = priv.networkId, extra: Record<string, unknown> = {}) => {
      const reply = await api.post('/v2.0/ports', { port: { network_id: network, ...extra } }, MEMBER);
      assert.equal(reply.status, 201, reply.text);
      return reply.body.port as Record<string, any>;
    };

    it('allocates, associates, disassociates and releases a floating IP', async () => {
      const created = await fip({ floating_network_id: ext.networkId });
      assert.equal(created.status, 201, created.text);
      const f = created.body.floatingip;
      assert.equal(f.status, 'DOWN');
      assert.equal(f.port_id, null);
      assert.equal(f.router_id, null);
      assert.match(f.floating_ip_address, /^198\.51\.100\.\d+$/);
      assert.equal('subnet_id' in f, false);
      const port = await vmPort();
      const set = await api.put(`/v2.0/floatingips/${f.id}`, { floatingip: { port_id: port.id } }, MEMBER);
      assert.equal(set.status, 200, set.text);
      assert.equal(set.body.floatingip.router_id, routerId);
      assert.equal(set.body.floatingip.fixed_ip_address, port.fixed_ips[0].ip_address);
      assert.equal(set.body.floatingip.status, 'ACTIVE');
      assert.equal(set.body.floatingip.port_details.network_id, priv.networkId);

      // The fixed IP takes one floating IP; the interface and the gateway it uses stay.
      const before = await counts(server.db);
      assertError(await fip({ floating_network_id: ext.networkId, port_id: port.id }), 409, 'FloatingIPPortAlreadyAssociated');
      assertError(
        await api.put(`/v2.0/routers/${routerId}/remove_router_interface`, { subnet_id: priv.subnetId }, MEMBER),
        409,
        'RouterInterfaceInUseByFloatingIP',
      );
      assertError(
        await api.put(`/v2.0/routers/${routerId}`, { router: { external_gateway_info: null } }, MEMBER),
        409,
        'RouterExternalGatewayInUseByFloatingIp',
      );
      assertError(await api.del(`/v2.0/ports/${set.body.floatingip.id}`), 404, 'PortNotFound');
      assert.deepEqual(await counts(server.db), before);

      const unset = await api.put(`/v2.0/floatingips/${f.id}`, { floatingip: { port_id: null } }, MEMBER);
      assert.equal(unset.body.floatingip.status, 'DOWN');
      assert.equal(unset.body.floatingip.fixed_ip_address, null);
      // Deleting the port disassociates.
      await api.put(`/v2.0/floatingips/${f.id}`, { floatingip: { port_id: port.id } }, MEMBER);
      assert.equal((await api.del(`/v2.0/ports/${port.id}`, MEMBER)).status, 204);
      assert.equal((await api.get(`/v2.0/floatingips/${f.id}`, MEMBER)).body.floatingip.port_id, null);
      // Delete releases the address: it can be asked for again.
      assert.equal((await api.del(`/v2.0/floatingips/${f.id}`, MEMBER)).status, 204);
      const again = await fip({ floating_network_id: ext.networkId, floating_ip_address: f.floating_ip_address });
      assert.equal(again.status, 201, again.text);
      assertError(await fip({ floating_network_id: ext.networkId, floating_ip_address: f.floating_ip_address }), 409, 'IpAddressAlreadyAllocated');
      assert.equal((await api.del(`/v2.0/floatingips/${again.body.floatingip.id}`, MEMBER)).status, 204);
    });

    it('chooses among several fixed IPs and needs a router that reaches the subnet', async () => {
      const port = await vmPort(priv.networkId, { fixed_ips: [{ subnet_id: priv.subnetId }, { subnet_id: priv.subnetId }] });
      const [a] = port.fixed_ips;
      const several = await fip({ floating_network_id: ext.networkId, port_id: port.id });
      assertError(several, 400, 'BadRequest', /has multiple fixed IPv4 addresses\. {2}Must provide a specific IPv4 address/);
      assertError(
        await fip({ floating_network_id: ext.networkId, port_id: port.id, fixed_ip_address: '10.0.0.250' }),
        400,
        'BadRequest',
        /does not have fixed ip 10\.0\.0\.250\.$/,
      );
      const chosen = await fip({ floating_network_id: ext.networkId, port_id: port.id, fixed_ip_address: a.ip_address });
      assert.equal(chosen.status, 201, chosen.text);
      assert.equal(chosen.body.floatingip.fixed_ip_address, a.ip_address);
      const island = await netWithSubnet(api, '10.7.0.0/24', {}, MEMBER);
      const lonely = await vmPort(island.networkId);
      assertError(
        await fip({ floating_network_id: ext.networkId, port_id: lonely.id }),
        404,
        'ExternalGatewayForFloatingIPNotFound',
        `External network ${ext.networkId} is not reachable from subnet ${island.subnetId}.  Therefore, cannot associate Port ${lonely.id} with a Floating IP.`,
      );
    });

    it('refuses bad input with Neutron error and writes nothing', async () => {
      const mine = (await fip({ floating_network_id: ext.networkId })).body.floatingip;
      const theirPort = await api.post('/v2.0/ports', { port: { network_id: (await netWithSubnet(api, '10.9.0.0/24', {}, OTHER)).networkId } }, OTHER);
      const cases: Array<[string, () => Promise<any>, number, string, string?]> = [
        [
          'non-external network',
          () => fip({ floating_network_id: priv.networkId }),
          400,
          'BadRequest',
          `Bad floatingip request: Network ${priv.networkId} is not a valid external network.`,
        ],
        ['missing network', () => fip({}), 400, 'HTTPBadRequest', "Failed to parse request. Required attribute 'floating_network_id' not specified"],
        ['unknown attribute', () => fip({ floating_network_id: ext.networkId, bogus: 1 }), 400, 'HTTPBadRequest', "Unrecognized attribute(s) 'bogus'"],
        ['bad address', () => fip({ floating_network_id: ext.networkId, floating_ip_address: 'x' }), 400, 'HTTPBadRequest'],
        ['address off the network', () => fip({ floating_network_id: ext.networkId, floating_ip_address: '10.0.0.5' }), 400, 'InvalidIpForNetwork'],
        ['wrong subnet', () => fip({ floating_network_id: ext.networkId, subnet_id: priv.subnetId }), 400, 'InvalidInput'],
        ["another project's port", () => fip({ floating_network_id: ext.networkId, port_id: theirPort.body.port.id }), 404, 'PortNotFound'],
        ["another project's floating IP", () => api.get(`/v2.0/floatingips/${mine.id}`, OTHER), 404, 'FloatingIPNotFound'],
        [
          "another project's floating IP update",
          () => api.put(`/v2.0/floatingips/${mine.id}`, { floatingip: { port_id: null } }, OTHER),
          404,
          'FloatingIPNotFound',
        ],
        [
          'read-only attribute',
          () => api.put(`/v2.0/floatingips/${mine.id}`, { floatingip: { floating_ip_address: '198.51.100.9' } }, MEMBER),
          400,
          'HTTPBadRequest',
        ],
        ['delete an in-use external network', () => api.del(`/v2.0/networks/${ext.networkId}`), 409, 'NetworkInUse'],
        ['delete an in-use external subnet', () => api.del(`/v2.0/subnets/${ext.subnetId}`), 409, 'SubnetInUse'],
      ];
      for (const [name, request, status, type, message] of cases) {
        const before = await counts(server.db);
        assertError(await request(), status, type, message);
        assert.deepEqual(await counts(server.db), before, name);
      }
    });
  });
}
