import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines } from './support/engines.js';
import { ADMIN, neutronClient } from './support/neutron-server.js';
import { startRegionCloud, USER, type RegionCloud, ok, ADMIN_TOKEN } from './support/region-cloud.js';

// The port cases of reference §4.4 beyond plain compute ports: router ports on the bridge range,
// centralized SNAT ports, unbind reports, and xjob's bulk shadow ports. A real central Neutron and
// two regions' local Neutrons and computes, separate HTTP servers, on SQLite and PostgreSQL.

type Json = Record<string, any>;

for (const engine of (await engines()).filter((e) => e.name !== 'mysql')) {
  describe(`local Neutron special ports (${engine.name})`, { skip: engine.skip }, () => {
    let cloud: RegionCloud;
    const central = () => cloud.centralNeutron;
    const one = () => neutronClient(cloud.regions.RegionOne!.neutrons[0]!.url);

    let cidr = 0;
    /** A central network of the member with one subnet of `prefix` (10.78.<n>.0/24 by default). */
    async function centralNetwork(name: string, prefix?: string): Promise<{ network: Json; subnet: Json }> {
      cidr += 1;
      const network = await central().network({ name }, USER);
      const body = { network_id: network.id, ip_version: 4, cidr: prefix ?? `10.78.${cidr}.0/24`, enable_dhcp: false };
      const subnet = (await ok(central().post('/v2.0/subnets', { subnet: body }, USER), 201)).subnet;
      return { network, subnet };
    }
    const centralPort = async (id: string) => (await ok(central().get(`/v2.0/ports/${id}`))).port as Json;
    /** A local port as the region holds it (no token: never copied from central). */
    const localPort = async (id: string) => (await ok(one().get(`/v2.0/ports/${id}`))).port as Json;
    const portBody = (network: Json, subnet: Json, attrs: Json) => ({
      port: { network_id: network.id, ...attrs, fixed_ips: attrs.fixed_ips ?? [{ subnet_id: subnet.id }] },
    });

    before(async () => {
      cloud = await startRegionCloud({ engine, regions: ['RegionOne', 'RegionTwo'] });
    });
    after(async () => {
      await cloud?.close();
    });

    it('a router port on the bridge range takes the id of the central port owning its address; other router ports are allocated locally', async () => {
      const { network, subnet } = await centralNetwork('bridge_net_p2', '100.0.3.0/24');
      const bridgePort = (
        await ok(central().post('/v2.0/ports', portBody(network, subnet, { fixed_ips: [{ subnet_id: subnet.id, ip_address: '100.0.3.50' }] }), USER), 201)
      ).port;
      const routerPort = (ip: string, owner = 'network:router_interface') =>
        portBody(network, subnet, { device_owner: owner, device_id: 'router-1', fixed_ips: [{ subnet_id: subnet.id, ip_address: ip }] });

      const local = (await ok(one().post('/v2.0/ports', routerPort('100.0.3.50'), ADMIN_TOKEN), 201)).port;
      assert.equal(local.id, bridgePort.id, 'bridge ports share the central id');
      assert.equal(local.device_owner, 'network:router_interface', 'the local body is kept');
      assert.equal(local.device_id, 'router-1');
      assert.deepEqual(
        local.fixed_ips.map((f: Json) => f.ip_address),
        ['100.0.3.50'],
      );
      assert.notEqual(local.mac_address, bridgePort.mac_address, 'only the id is central: the rest is the local body');

      const unknown = await one().post('/v2.0/ports', routerPort('100.0.3.60', 'network:router_gateway'), ADMIN_TOKEN);
      assert.equal(unknown.status, 400, unknown.text);
      assert.equal(unknown.body.NeutronError.type, 'InvalidIpForNetwork');

      // Without a token nothing reaches central: the region allocates the port under an id of its own.
      const internal = (await ok(one().post('/v2.0/ports', routerPort('100.0.3.70'), ADMIN), 201)).port;
      assert.equal((await central().get(`/v2.0/ports/${internal.id}`)).status, 404);

      const tenant = await centralNetwork('tenant-net');
      const gateway = (
        await ok(
          one().post(
            '/v2.0/ports',
            portBody(tenant.network, tenant.subnet, {
              device_owner: 'network:router_interface',
              fixed_ips: [{ subnet_id: tenant.subnet.id, ip_address: tenant.subnet.cidr.replace('0/24', '9') }],
            }),
            ADMIN_TOKEN,
          ),
          201,
        )
      ).port;
      assert.equal((await central().get(`/v2.0/ports/${gateway.id}`)).status, 404, 'a router port outside the bridge range has no central twin');
    });

    it("a centralized SNAT port asking for a subnet takes the address of central's snat_port_<subnet>; none there is an error", async () => {
      const { network, subnet } = await centralNetwork('snat-net');
      const snat = portBody(network, subnet, { device_owner: 'network:router_centralized_snat', device_id: 'router-2' });
      const missing = await one().post('/v2.0/ports', snat, ADMIN_TOKEN);
      assert.equal(missing.status, 404, missing.text);
      assert.match(missing.body.NeutronError.message, new RegExp(`snat_port_${subnet.id}`));

      const centralSnat = (await ok(central().post('/v2.0/ports', portBody(network, subnet, { name: `snat_port_${subnet.id}` }), USER), 201)).port;
      const local = (await ok(one().post('/v2.0/ports', snat, ADMIN_TOKEN), 201)).port;
      assert.deepEqual(
        local.fixed_ips.map((f: Json) => f.ip_address),
        [centralSnat.fixed_ips[0].ip_address],
      );
      assert.equal(local.device_owner, 'network:router_centralized_snat');
    });

    it("a server's given port freed by its delete: the unbind reaches central's binding profile", async () => {
      const { network } = await centralNetwork('unbind-net');
      const port = (await ok(one().post('/v2.0/ports', { port: { network_id: network.id } }, USER), 201)).port;
      const nova = cloud.regions.RegionOne!.nova;
      const server = (await ok(nova.boot('vm-given-port', [{ port: port.id }]), 202)).server;
      const bound = (await centralPort(port.id))['binding:profile'];
      assert.equal(bound.region, 'RegionOne');
      assert.equal(bound.device, 'compute:nova');
      assert.equal(bound['binding:host_id'], 'RegionOne-compute1');

      await ok(nova.remove(server.id), 204);
      const local = await localPort(port.id);
      assert.equal(local.device_owner, '', 'compute freed the port');
      const unbound = (await centralPort(port.id))['binding:profile'];
      assert.equal(unbound.region, 'RegionOne');
      assert.equal(unbound.device, '', 'central heard that the VM is gone');
      assert.equal(unbound['binding:host_id'], '');
      assert.equal(unbound['binding:vif_type'], 'unbound');
    });

    it('bulk compute:shadow ports take the id their name carries, an OVS binding and no profile; existing ones are updated; freeing one is not reported', async () => {
      const { network, subnet } = await centralNetwork('shadow-net');
      const nova = cloud.regions.RegionTwo!.nova;
      const servers = [];
      for (const name of ['vm-remote-1', 'vm-remote-2']) servers.push((await ok(nova.boot(name, [{ uuid: network.id }]), 202)).server);
      const remote = await Promise.all(servers.map(async (server) => (await ok(central().get(`/v2.0/ports?device_id=${server.id}`))).ports[0] as Json));
      const shadow = (port: Json, host: string) => ({
        network_id: network.id,
        name: `shadow_port_${port.id}`,
        device_owner: 'compute:shadow',
        device_id: port.device_id,
        mac_address: port.mac_address,
        fixed_ips: [{ subnet_id: subnet.id, ip_address: port.fixed_ips[0].ip_address }],
        'binding:host_id': host,
        'binding:profile': { region: 'RegionTwo', tunnel_ip: '192.0.2.7' },
      });

      const first = (await ok(one().post('/v2.0/ports', { ports: [shadow(remote[0]!, 'RegionTwo-compute1')] }, ADMIN_TOKEN), 201)).ports;
      assert.equal(first.length, 1);
      assert.equal(first[0].id, remote[0]!.id, 'the id is the suffix of the name');
      const created = await localPort(remote[0]!.id);
      assert.equal(created.mac_address, remote[0]!.mac_address);
      assert.equal(created['binding:vif_type'], 'ovs');
      assert.equal(created['binding:vnic_type'], 'normal');
      assert.deepEqual(created['binding:profile'], {}, 'the profile xjob set is cleared');

      // Again with the first one moved to another host, and a second one: the first is updated, not created twice.
      const again = (
        await ok(one().post('/v2.0/ports', { ports: [shadow(remote[0]!, 'RegionTwo-compute2'), shadow(remote[1]!, 'RegionTwo-compute1')] }, ADMIN_TOKEN), 201)
      ).ports;
      assert.deepEqual(
        again.map((p: Json) => p.id),
        [remote[0]!.id, remote[1]!.id],
      );
      assert.equal((await localPort(remote[0]!.id))['binding:host_id'], 'RegionTwo-compute2');
      assert.equal((await localPort(remote[1]!.id))['binding:host_id'], 'RegionTwo-compute1');
      const named = (await ok(one().get(`/v2.0/ports?name=shadow_port_${remote[0]!.id}`))).ports;
      assert.equal(named.length, 1);

      // A shadow port freed in this region says nothing to central: the VM lives in RegionTwo.
      await ok(one().put(`/v2.0/ports/${remote[0]!.id}`, { port: { device_owner: '', device_id: '' } }, ADMIN_TOKEN));
      const profile = (await centralPort(remote[0]!.id))['binding:profile'];
      assert.equal(profile.region, 'RegionTwo');
      assert.equal(profile.device, 'compute:nova');
    });
  });
}
