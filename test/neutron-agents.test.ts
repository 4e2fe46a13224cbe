import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { vxlanMode } from '../src/neutron/local/agents.js';
import { engines } from './support/engines.js';
import { MEMBER } from './support/neutron-server.js';
import { startRegionCloud, USER, type RegionCloud, ok, ADMIN_TOKEN } from './support/region-cloud.js';

// L2 agent records of the local role (reference §4.4, issue 8's VxLAN): compute's host agent
// recorded from the binding, its tunnel IP reported to central for a VxLAN network only, and
// shadow ports recording the remote host's agent. Real central Neutron, two regions' local
// Neutrons and computes as separate HTTP servers.

type Json = Record<string, any>;

const TUNNEL_IP = '192.0.2.11';

for (const engine of (await engines()).filter((e) => e.name !== 'mysql')) {
  describe(`local Neutron L2 agents (${engine.name})`, { skip: engine.skip }, () => {
    let cloud: RegionCloud;
    const central = () => cloud.centralNeutron;
    const region = (name: string) => cloud.regions[name]!;

    let cidr = 0;
    /** A central network of the member with one subnet; provider attributes in `attrs` are set by the central admin for the member. */
    async function centralNetwork(attrs: Json): Promise<{ network: Json; subnet: Json }> {
      cidr += 1;
      const network = attrs['provider:network_type']
        ? await central().network({ ...attrs, project_id: MEMBER['x-project-id'] })
        : await central().network(attrs, USER);
      const body = { network_id: network.id, ip_version: 4, cidr: `10.79.${cidr}.0/24`, enable_dhcp: false };
      const subnet = (await ok(central().post('/v2.0/subnets', { subnet: body }, USER), 201)).subnet;
      return { network, subnet };
    }
    /** Boots a server in `regionName` and returns its central port. */
    async function bootPort(regionName: string, name: string, networkId: string): Promise<Json> {
      const server = (await ok(region(regionName).nova.boot(name, [{ uuid: networkId }]), 202)).server;
      return (await ok(central().get(`/v2.0/ports?device_id=${server.id}`))).ports[0] as Json;
    }

    before(async () => {
      cloud = await startRegionCloud({ engine, regions: ['RegionOne', 'RegionTwo'], overrides: { compute: { tunnel_ip: TUNNEL_IP } } });
    });
    after(async () => {
      await cloud?.close();
    });

    it("a boot on a VxLAN network records the host's OVS agent, listed by GET /v2.0/agents (admins only), and central's profile carries its tunnel IP", async () => {
      const { network } = await centralNetwork({ name: 'vxlan-net' });
      assert.equal((await ok(central().get(`/v2.0/networks/${network.id}`))).network['provider:network_type'], 'vxlan');
      const port = await bootPort('RegionOne', 'vm-vxlan', network.id);

      const agents = (await ok(region('RegionOne').neutron.get('/v2.0/agents?host=RegionOne-compute1'))).agents as Json[];
      assert.equal(agents.length, 1);
      const [agent] = agents;
      assert.equal(agent!.agent_type, 'Open vSwitch agent');
      assert.equal(agent!.binary, 'neutron-openvswitch-agent');
      assert.equal(agent!.alive, true);
      assert.equal(agent!.configurations.tunneling_ip, TUNNEL_IP);
      assert.deepEqual(agent!.configurations.tunnel_types, ['vxlan']);
      assert.equal((await ok(region('RegionOne').neutron.get(`/v2.0/agents/${agent!.id}`))).agent.host, 'RegionOne-compute1');
      assert.equal((await ok(region('RegionOne').neutron.get('/v2.0/agents?agent_type=DHCP%20agent'))).agents.length, 0);
      assert.equal((await region('RegionOne').neutron.get('/v2.0/agents', MEMBER)).status, 403);
      assert.equal((await region('RegionOne').neutron.get('/v2.0/agents/not-an-agent')).status, 404);
      assert.equal((await ok(region('RegionTwo').neutron.get('/v2.0/agents'))).agents.length, 0, 'nothing bound in RegionTwo yet');

      const profile = port['binding:profile'];
      assert.equal(profile.region, 'RegionOne');
      assert.equal(profile.host, 'RegionOne-compute1');
      assert.equal(profile.type, 'Open vSwitch agent');
      assert.equal(profile.tunnel_ip, TUNNEL_IP);
      const local = (await ok(region('RegionOne').neutron.get(`/v2.0/ports/${port.id}`))).port;
      assert.deepEqual(local['binding:profile'], {}, 'the tunnel IP is kept by the agent, not the port');
    });

    it('a binding on a local network reports no agent', async () => {
      const { network } = await centralNetwork({ name: 'local-net', 'provider:network_type': 'local' });
      const profile = (await bootPort('RegionOne', 'vm-local', network.id))['binding:profile'];
      assert.equal(profile.region, 'RegionOne');
      for (const key of ['host', 'type', 'tunnel_ip']) assert.equal(key in profile, false, key);
    });

    it("a shadow port bulk with a tunnel_ip records the remote host's agent in the other region", async () => {
      const { network, subnet } = await centralNetwork({ name: 'shadow-vxlan' });
      const port = await bootPort('RegionOne', 'vm-shadowed', network.id);
      const shadow = {
        network_id: network.id,
        name: `shadow_port_${port.id}`,
        device_owner: 'compute:shadow',
        device_id: port.device_id,
        mac_address: port.mac_address,
        fixed_ips: [{ subnet_id: subnet.id, ip_address: port.fixed_ips[0].ip_address }],
        'binding:host_id': 'RegionOne-compute1',
        'binding:profile': { region: 'RegionOne', tunnel_ip: port['binding:profile'].tunnel_ip },
      };
      await ok(region('RegionTwo').neutron.post('/v2.0/ports', { ports: [shadow] }, ADMIN_TOKEN), 201);
      const agents = (await ok(region('RegionTwo').neutron.get('/v2.0/agents'))).agents as Json[];
      assert.deepEqual(
        agents.map((a) => [a.host, a.agent_type, a.configurations.tunneling_ip]),
        [['RegionOne-compute1', 'Open vSwitch agent', TUNNEL_IP]],
      );
      // Again (xjob retries): still one record.
      await ok(region('RegionTwo').neutron.post('/v2.0/ports', { ports: [shadow] }, ADMIN_TOKEN), 201);
      assert.equal((await ok(region('RegionTwo').neutron.get('/v2.0/agents'))).agents.length, 1);
    });
  });
}

describe('[client] cross_pod_vxlan_mode', () => {
  it('takes p2p and noop and refuses l2gw, saying so', () => {
    assert.equal(vxlanMode('p2p'), 'p2p');
    assert.equal(vxlanMode('noop'), 'noop');
    assert.throws(() => vxlanMode('l2gw'), /cross_pod_vxlan_mode = l2gw is not supported by this local Neutron: use p2p or noop/);
  });
});
