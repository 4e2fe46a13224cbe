import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type Engine } from './support/engines.js';
import { ADMIN } from './support/neutron-server.js';
import { USER } from './support/region-cloud.js';
import { expectStatus, startTricircleCloud, type TricircleCloud, type TricircleCloudOptions } from './support/tricircle-cloud.js';

// The single-gateway topology of upstream's smoke test (reference §9.2), the cases of
// router_setup and configure_route it does not reach (a stretched network's routes, a floating
// IP moving between regions, a local router), and the multi-gateway topology (§9.3), end to end over real HTTP: everything is asked of
// the central Neutron and the regions' computes only; the regions' own Neutrons are read as an
// admin without a token, which copies nothing.

type Json = Record<string, any>;
type Route = { destination: string; nexthop: string };

const [sqlite, postgres] = await engines();
const OVERRIDES = { tricircle: { network_vlan_ranges: 'extern:100:200,bridge:300:400' } };
const REGIONS = ['RegionOne', 'RegionTwo'];

const sortRoutes = (routes: Route[]) => [...routes].sort((a, b) => a.destination.localeCompare(b.destination));
const firstIp = (port: Json) => (port.fixed_ips as Array<{ ip_address: string }>)[0]!.ip_address;

/** Calls on a cloud: the central API (as the member with a token by default), and reads of the regions' own Neutrons. */
function calls(cloud: () => TricircleCloud) {
  const central = () => cloud().centralNeutron;
  const list = async (region: string, path: string, key: string): Promise<Json[]> => (await expectStatus(cloud().regions[region]!.neutron.get(path), 200))[key];
  return {
    central,
    list,
    created: async (path: string, key: string, body: Json, headers = USER): Promise<Json> =>
      (await expectStatus(central().post(path, { [key]: body }, headers), 201))[key],
    noFailedJobs: async () => assert.deepEqual(await cloud().settle(60_000), [], 'no job FAILs'),
    active: async (region: string, serverId: string) => {
      for (let i = 0; i < 100; i++) {
        const server = (await expectStatus(cloud().regions[region]!.nova.show(serverId), 200)).server;
        if (server.status === 'ACTIVE') return server;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.fail(`server ${serverId} in ${region} never became ACTIVE`);
    },
    /** A region's copy of a central router (named after it), its ports' first addresses and its routes. */
    copyOf: async (region: string, routerId: string) => {
      const routers = await list(region, `/v2.0/routers?name=${routerId}`, 'routers');
      assert.equal(routers.length, 1, `one copy of ${routerId} in ${region}`);
      const ports = await list(region, `/v2.0/ports?device_id=${routers[0]!.id}`, 'ports');
      return { router: routers[0]!, ips: ports.map(firstIp) };
    },
    /** A central port's first address. */
    addressOf: async (portId: string) => firstIp((await expectStatus(central().get(`/v2.0/ports/${portId}`), 200)).port),
  };
}

function singleGatewayTopology(name: string, engine: Engine | undefined, options: Omit<TricircleCloudOptions, 'engine'> = {}) {
  describe(`the single-gateway topology (${name})`, { skip: engine?.skip }, () => {
    let cloud: TricircleCloud;
    const t: Json = {};
    const { central, list, created, noFailedJobs, active, copyOf, addressOf } = calls(() => cloud);
    const copyOfR = (region: string) => copyOf(region, t.router.id);

    before(async () => {
      cloud = await startTricircleCloud({ engine: engine!, overrides: OVERRIDES, ...options });
    });
    after(() => cloud?.close());

    it('builds the topology through the central API', async () => {
      t.extNet = await created(
        '/v2.0/networks',
        'network',
        {
          name: 'ext-net',
          'router:external': true,
          'provider:network_type': 'vlan',
          'provider:physical_network': 'extern',
          availability_zone_hints: ['RegionTwo'],
        },
        ADMIN,
      );
      t.extSubnet = await created(
        '/v2.0/subnets',
        'subnet',
        { network_id: t.extNet.id, name: 'ext-subnet', ip_version: 4, cidr: '163.3.124.0/24', enable_dhcp: false },
        ADMIN,
      );
      t.router = await created('/v2.0/routers', 'router', { name: 'router' });
      await expectStatus(
        central().put(`/v2.0/routers/${t.router.id}`, { router: { external_gateway_info: { network_id: t.extNet.id, enable_snat: true } } }, ADMIN),
        200,
      );

      const subnet = async (networkId: string, cidr: string, extra: Json = {}) =>
        created('/v2.0/subnets', 'subnet', { network_id: networkId, ip_version: 4, cidr, ...extra });
      t.net1 = await created('/v2.0/networks', 'network', { name: 'net1' });
      t.subnet1 = await subnet(t.net1.id, '10.0.1.0/24', { allocation_pools: [{ start: '10.0.1.10', end: '10.0.1.90' }] });
      t.net3 = await created('/v2.0/networks', 'network', { name: 'net3' });
      t.subnet3 = await subnet(t.net3.id, '10.0.1.0/24', { allocation_pools: [{ start: '10.0.1.110', end: '10.0.1.190' }] });
      t.port1 = await created('/v2.0/ports', 'port', { network_id: t.net1.id, name: 'port1' });
      await expectStatus(central().put(`/v2.0/routers/${t.router.id}/add_router_interface`, { subnet_id: t.subnet1.id }, USER), 200);
      t.fip1 = await created('/v2.0/floatingips', 'floatingip', { floating_network_id: t.extNet.id, floating_ip_address: '163.3.124.15', port_id: t.port1.id });
      t.vm1 = (await expectStatus(cloud.regions.RegionOne!.nova.boot('vm1', [{ port: t.port1.id }]), 202)).server;

      t.net2 = await created('/v2.0/networks', 'network', { name: 'net2' });
      t.subnet2 = await subnet(t.net2.id, '10.0.2.0/24');
      t.port2 = await created('/v2.0/ports', 'port', { network_id: t.net2.id, name: 'port2' });
      t.vm2 = (await expectStatus(cloud.regions.RegionTwo!.nova.boot('vm2', [{ port: t.port2.id }]), 202)).server;
      await expectStatus(central().put(`/v2.0/routers/${t.router.id}/add_router_interface`, { subnet_id: t.subnet2.id }, USER), 200);
      t.fip2 = await created('/v2.0/floatingips', 'floatingip', { floating_network_id: t.extNet.id, floating_ip_address: '163.3.124.20', port_id: t.port2.id });

      t.net4 = await created('/v2.0/networks', 'network', { name: 'net4' });
      t.subnet4 = await subnet(t.net4.id, '10.0.4.0/24', { gateway_ip: null });
      t.vm3 = (await expectStatus(cloud.regions.RegionOne!.nova.boot('vm3', [{ uuid: t.net4.id }]), 202)).server;

      await active('RegionOne', t.vm1.id);
      await active('RegionOne', t.vm3.id);
      await active('RegionTwo', t.vm2.id);
      await noFailedJobs();
    });

    it('gives R one copy per region, each with its interface and a bridge gateway', async () => {
      const one = await copyOfR('RegionOne');
      const two = await copyOfR('RegionTwo');
      assert.ok(one.ips.some((ip) => ip.startsWith('10.0.1.')) && one.ips.some((ip) => ip.startsWith('100.0.0.')), `RegionOne's R ports: ${one.ips}`);
      assert.ok(two.ips.some((ip) => ip.startsWith('10.0.2.')) && two.ips.some((ip) => ip.startsWith('100.0.0.')), `RegionTwo's R ports: ${two.ips}`);
      assert.equal(one.router.external_gateway_info.enable_snat, false);
      t.bridgeIp = {
        RegionOne: one.router.external_gateway_info.external_fixed_ips[0].ip_address,
        RegionTwo: two.router.external_gateway_info.external_fixed_ips[0].ip_address,
      };
      assert.match(t.bridgeIp.RegionOne, /^100\.0\.0\.\d+$/);
      assert.match(t.bridgeIp.RegionTwo, /^100\.0\.0\.\d+$/);
      assert.notEqual(t.bridgeIp.RegionOne, t.bridgeIp.RegionTwo);
      assert.notEqual(t.bridgeIp.RegionOne, '100.0.0.1', 'the NS router holds the bridge gateway');
    });

    it('routes each copy to the VM behind the other and out via the north-south router, which routes back', async () => {
      const vm1Ip = await addressOf(t.port1.id);
      const vm2Ip = await addressOf(t.port2.id);
      const one = await copyOfR('RegionOne');
      const two = await copyOfR('RegionTwo');
      assert.deepEqual(sortRoutes(one.router.routes), [
        { destination: '0.0.0.0/0', nexthop: '100.0.0.1' },
        { destination: `${vm2Ip}/32`, nexthop: t.bridgeIp.RegionTwo },
      ]);
      assert.deepEqual(sortRoutes(two.router.routes), [
        { destination: '0.0.0.0/0', nexthop: '100.0.0.1' },
        { destination: `${vm1Ip}/32`, nexthop: t.bridgeIp.RegionOne },
      ]);
      const [ns] = await list('RegionTwo', `/v2.0/routers?name=ns_router_${t.router.id}`, 'routers');
      assert.ok(ns, 'the north-south router is in RegionTwo');
      assert.deepEqual(
        sortRoutes(ns.routes),
        sortRoutes([
          { destination: `${vm1Ip}/32`, nexthop: t.bridgeIp.RegionOne },
          { destination: `${vm2Ip}/32`, nexthop: t.bridgeIp.RegionTwo },
        ]),
      );
      assert.deepEqual(await list('RegionOne', `/v2.0/routers?name=ns_router_${t.router.id}`, 'routers'), []);
    });

    it('has the subnets each region needs, the bridge subnet 100.0.0.0/24 in both', async () => {
      const cidrs = async (region: string) => (await list(region, '/v2.0/subnets', 'subnets')).map((s) => s.cidr as string);
      const one = await cidrs('RegionOne');
      const two = await cidrs('RegionTwo');
      for (const cidr of ['10.0.1.0/24', '10.0.4.0/24', '100.0.0.0/24']) assert.ok(one.includes(cidr), `RegionOne has ${cidr}: ${one}`);
      // 10.0.1.0/24 in RegionTwo is the shadow copy that carries fip1.
      for (const cidr of ['10.0.1.0/24', '10.0.2.0/24', '100.0.0.0/24', '163.3.124.0/24']) assert.ok(two.includes(cidr), `RegionTwo has ${cidr}: ${two}`);
      assert.ok(!one.includes('163.3.124.0/24'), 'the external subnet stays in RegionTwo');
    });

    it('puts both floating IPs in RegionTwo with the central addresses, fip1 on a shadow of port1', async () => {
      const fips = await list('RegionTwo', '/v2.0/floatingips', 'floatingips');
      assert.deepEqual(fips.map((f) => [f.floating_ip_address, f.port_id]).sort(), [
        ['163.3.124.15', t.port1.id],
        ['163.3.124.20', t.port2.id],
      ]);
      assert.deepEqual(await list('RegionOne', '/v2.0/floatingips', 'floatingips'), []);
      const [shadow] = await list('RegionTwo', `/v2.0/ports?id=${t.port1.id}`, 'ports');
      assert.equal(shadow?.device_owner, 'compute:shadow');
      assert.equal(firstIp(shadow!), firstIp(t.port1));
    });

    it('tears down in the order of the smoke test, leaving no router, network or floating IP in any region', async () => {
      const del = async (path: string, headers = USER) => expectStatus(central().del(path, headers), 204);
      await del(`/v2.0/floatingips/${t.fip1.id}`);
      await del(`/v2.0/floatingips/${t.fip2.id}`);
      // The bottom floating IPs go in router_setup runs; RegionTwo refuses to clear the NS router's gateway while they are there.
      await noFailedJobs();
      for (const [region, vm] of [
        ['RegionOne', t.vm1],
        ['RegionTwo', t.vm2],
        ['RegionOne', t.vm3],
      ] as const) {
        await expectStatus(cloud.regions[region]!.nova.remove(vm.id), 204);
      }
      await expectStatus(central().put(`/v2.0/routers/${t.router.id}`, { router: { external_gateway_info: null } }, ADMIN), 200);
      for (const s of [t.subnet1, t.subnet2])
        await expectStatus(central().put(`/v2.0/routers/${t.router.id}/remove_router_interface`, { subnet_id: s.id }, USER), 200);
      await noFailedJobs();
      await del(`/v2.0/routers/${t.router.id}`);
      for (const port of [t.port1, t.port2]) await del(`/v2.0/ports/${port.id}`);
      for (const s of [t.subnet1, t.subnet2, t.subnet3, t.subnet4]) await del(`/v2.0/subnets/${s.id}`);
      for (const n of [t.net1, t.net2, t.net3, t.net4]) await del(`/v2.0/networks/${n.id}`);
      await del(`/v2.0/subnets/${t.extSubnet.id}`, ADMIN);
      await del(`/v2.0/networks/${t.extNet.id}`, ADMIN);
      await noFailedJobs();
      for (const region of REGIONS) {
        assert.deepEqual(await list(region, '/v2.0/routers', 'routers'), [], `no router left in ${region}`);
        assert.deepEqual(await list(region, '/v2.0/networks', 'networks'), [], `no network left in ${region}`);
        assert.deepEqual(await list(region, '/v2.0/floatingips', 'floatingips'), [], `no floating IP left in ${region}`);
      }
    });
  });
}

describe('router_setup and configure_route beyond the single-gateway topology (sqlite)', { skip: sqlite?.skip }, () => {
  let cloud: TricircleCloud;
  const t: Json = {};
  const { central, list, created, noFailedJobs, active, copyOf, addressOf } = calls(() => cloud);
  const serverOn = async (region: string, portId: string) =>
    active(region, (await expectStatus(cloud.regions[region]!.nova.boot(`vm-${portId.slice(0, 8)}`, [{ port: portId }]), 202)).server.id);
  const networkWithSubnet = async (name: string, cidr: string, attrs: Json = {}) => {
    const network = await created('/v2.0/networks', 'network', { name, ...attrs });
    const subnet = await created('/v2.0/subnets', 'subnet', { network_id: network.id, ip_version: 4, cidr });
    return { network, subnet };
  };
  const port = (networkId: string) => created('/v2.0/ports', 'port', { network_id: networkId });
  const bottomFips = async () => (await list('RegionTwo', '/v2.0/floatingips', 'floatingips')).map((f) => [f.floating_ip_address, f.port_id]);

  before(async () => {
    cloud = await startTricircleCloud({ engine: sqlite!, overrides: OVERRIDES });
    t.ext = await created(
      '/v2.0/networks',
      'network',
      { name: 'ext', 'router:external': true, 'provider:network_type': 'vlan', 'provider:physical_network': 'extern', availability_zone_hints: ['RegionTwo'] },
      ADMIN,
    );
    await created('/v2.0/subnets', 'subnet', { network_id: t.ext.id, ip_version: 4, cidr: '163.3.125.0/24', enable_dhcp: false }, ADMIN);
  });
  after(() => cloud?.close());

  it('adds no /32 routes for a CIDR a copy has VMs in itself (a stretched network is reached over L2)', async () => {
    t.router = await created('/v2.0/routers', 'router', { name: 'r' });
    await expectStatus(central().put(`/v2.0/routers/${t.router.id}`, { router: { external_gateway_info: { network_id: t.ext.id } } }, ADMIN), 200);
    t.a = await networkWithSubnet('stretched', '10.1.0.0/24');
    t.b = await networkWithSubnet('two-only', '10.2.0.0/24');
    t.a1 = await port(t.a.network.id);
    t.a2 = await port(t.a.network.id);
    t.b2 = await port(t.b.network.id);
    await serverOn('RegionOne', t.a1.id);
    await serverOn('RegionTwo', t.a2.id);
    await serverOn('RegionTwo', t.b2.id);
    for (const { subnet } of [t.a, t.b])
      await expectStatus(central().put(`/v2.0/routers/${t.router.id}/add_router_interface`, { subnet_id: subnet.id }, USER), 200);
    await noFailedJobs();
    const one = await copyOf('RegionOne', t.router.id);
    const two = await copyOf('RegionTwo', t.router.id);
    const bridgeIp = (copy: { router: Json }) => copy.router.external_gateway_info.external_fixed_ips[0].ip_address as string;
    assert.ok(!one.ips.some((ip) => ip.startsWith('10.2.')), 'the RegionTwo-only network has no interface in RegionOne');
    assert.deepEqual(sortRoutes(one.router.routes), [
      { destination: '0.0.0.0/0', nexthop: '100.0.0.1' },
      { destination: `${await addressOf(t.b2.id)}/32`, nexthop: bridgeIp(two) },
    ]);
    assert.deepEqual(two.router.routes, [{ destination: '0.0.0.0/0', nexthop: '100.0.0.1' }], 'RegionTwo has VMs on 10.1.0.0/24 itself');
    const [ns] = await list('RegionTwo', `/v2.0/routers?name=ns_router_${t.router.id}`, 'routers');
    assert.deepEqual(
      sortRoutes(ns!.routes),
      sortRoutes([
        { destination: `${await addressOf(t.a1.id)}/32`, nexthop: bridgeIp(one) },
        { destination: `${await addressOf(t.a2.id)}/32`, nexthop: bridgeIp(two) },
        { destination: `${await addressOf(t.b2.id)}/32`, nexthop: bridgeIp(two) },
      ]),
    );
  });

  it('follows a floating IP through association across regions, disassociation, re-associations and delete', async () => {
    const fip = await created('/v2.0/floatingips', 'floatingip', { floating_network_id: t.ext.id, port_id: t.a1.id });
    const address = fip.floating_ip_address as string;
    await noFailedJobs();
    assert.deepEqual(await bottomFips(), [[address, t.a1.id]]);
    const [shadow] = await list('RegionTwo', `/v2.0/ports?id=${t.a1.id}`, 'ports');
    assert.equal(shadow?.device_owner, 'compute:shadow', 'the RegionOne VM port has a shadow copy where the floating IP is');

    await expectStatus(central().put(`/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: null } }, USER), 200);
    await noFailedJobs();
    assert.deepEqual(await bottomFips(), []);

    await expectStatus(central().put(`/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: t.b2.id } }, USER), 200);
    await noFailedJobs();
    assert.deepEqual(await bottomFips(), [[address, t.b2.id]]);

    // Straight from a port of the external network's region to one of RegionOne's, without a disassociation between.
    await expectStatus(central().put(`/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: t.a1.id } }, USER), 200);
    await noFailedJobs();
    assert.deepEqual(await bottomFips(), [[address, t.a1.id]]);

    await expectStatus(central().del(`/v2.0/floatingips/${fip.id}`, USER), 204);
    await noFailedJobs();
    assert.deepEqual(await bottomFips(), []);
  });

  it('makes no copy of a router for an interface removed before its jobs ran, and none is left once it is deleted', async () => {
    const router = await created('/v2.0/routers', 'router', { name: 'short-lived' });
    const { network, subnet } = await networkWithSubnet('short-lived-net', '10.4.0.0/24');
    await serverOn('RegionTwo', (await port(network.id)).id);
    await noFailedJobs();
    await cloud.stopXJob();
    await expectStatus(central().put(`/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id }, USER), 200);
    await expectStatus(central().put(`/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: subnet.id }, USER), 200);
    await cloud.startXJob();
    await noFailedJobs();
    for (const region of REGIONS) assert.deepEqual(await list(region, `/v2.0/routers?name=${router.id}`, 'routers'), [], `no copy in ${region}`);
    assert.deepEqual(await list('RegionTwo', `/v2.0/ports?network_id=${network.id}&device_owner=network:router_interface`, 'ports'), []);
    await expectStatus(central().del(`/v2.0/routers/${router.id}`, USER), 204);
    await noFailedJobs();
    assert.deepEqual(await cloud.routings(router.id), []);
  });

  it('attaches a local network to a local router at the central gateway address in its region only', async () => {
    const router = await created('/v2.0/routers', 'router', { name: 'local', availability_zone_hints: ['RegionOne'] });
    const { network, subnet } = await networkWithSubnet('local-net', '10.3.0.0/24', { availability_zone_hints: ['RegionOne'] });
    await expectStatus(central().put(`/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id }, USER), 200);
    await noFailedJobs();
    const copy = await copyOf('RegionOne', router.id);
    assert.deepEqual(copy.ips, ['10.3.0.1'], 'the interface holds the central gateway address, and there is no bridge gateway');
    const [regionSubnet] = await list('RegionOne', `/v2.0/subnets?id=${subnet.id}`, 'subnets');
    assert.equal(regionSubnet?.gateway_ip, '10.3.0.1');
    assert.deepEqual(await list('RegionTwo', `/v2.0/routers?name=${router.id}`, 'routers'), []);
    assert.deepEqual(copy.router.routes, []);

    await expectStatus(central().put(`/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: subnet.id }, USER), 200);
    await noFailedJobs();
    assert.deepEqual(await list('RegionOne', `/v2.0/ports?device_id=${copy.router.id}&network_id=${network.id}`, 'ports'), []);
  });
});

describe('the multi-gateway topology (sqlite)', { skip: sqlite?.skip }, () => {
  // Reference §9.3: local routers with their own gateways hold the subnets' gateways; a
  // non-local router joins the subnets through ports, so its copies reach the other region's
  // VMs by /32 routes, and the VMs reach its copies through subnet host routes.
  let cloud: TricircleCloud;
  const t: Json = {};
  const { central, list, created, noFailedJobs, active, copyOf, addressOf } = calls(() => cloud);
  const put = (path: string, body: Json, headers = USER) => expectStatus(central().put(path, body, headers), 200);
  const del = (path: string, headers = USER) => expectStatus(central().del(path, headers), 204);

  before(async () => {
    cloud = await startTricircleCloud({ engine: sqlite!, overrides: OVERRIDES });
  });
  after(() => cloud?.close());

  it('builds two local routers with gateways and a non-local router on ports of their networks', async () => {
    const external = async (name: string, region: string, provider: Json, cidr: string) => {
      const network = await created('/v2.0/networks', 'network', { name, 'router:external': true, availability_zone_hints: [region], ...provider }, ADMIN);
      await created('/v2.0/subnets', 'subnet', { network_id: network.id, ip_version: 4, cidr, enable_dhcp: false }, ADMIN);
      return network;
    };
    t.ext1 = await external('ext-net1', 'RegionOne', { 'provider:network_type': 'vlan', 'provider:physical_network': 'bridge' }, '163.3.124.0/24');
    t.ext2 = await external('ext-net2', 'RegionTwo', { 'provider:network_type': 'flat', 'provider:physical_network': 'extern' }, '163.3.125.0/24');
    t.router1 = await created('/v2.0/routers', 'router', { name: 'router1', availability_zone_hints: ['RegionOne'] });
    t.router2 = await created('/v2.0/routers', 'router', { name: 'router2', availability_zone_hints: ['RegionTwo'] });
    t.router3 = await created('/v2.0/routers', 'router', { name: 'router3' });
    for (const [i, region] of ['RegionOne', 'RegionTwo'].entries()) {
      const n = i + 1;
      t[`net${n}`] = await created('/v2.0/networks', 'network', { name: `net${n}`, availability_zone_hints: [region] });
      t[`subnet${n}`] = await created('/v2.0/subnets', 'subnet', { network_id: t[`net${n}`].id, ip_version: 4, cidr: `10.0.${n}.0/24` });
      await put(`/v2.0/routers/${t[`router${n}`].id}`, { router: { external_gateway_info: { network_id: t[`ext${n}`].id } } }, ADMIN);
      await put(`/v2.0/routers/${t[`router${n}`].id}/add_router_interface`, { subnet_id: t[`subnet${n}`].id });
      t[`vm${n}`] = (await expectStatus(cloud.regions[region]!.nova.boot(`vm${n}`, [{ uuid: t[`net${n}`].id }]), 202)).server;
      await active(region, t[`vm${n}`].id);
    }
    // The local routers first: their copies make the subnets' gateways the central ones before router3 comes.
    await noFailedJobs();
    for (const n of [1, 2]) {
      t[`inf${n}`] = await created('/v2.0/ports', 'port', { network_id: t[`net${n}`].id, name: `inf-net${n}` });
      await put(`/v2.0/routers/${t.router3.id}/add_router_interface`, { port_id: t[`inf${n}`].id });
    }
    await noFailedJobs();
  });

  it('gives each local router its interface and gateway, and router3 a copy per region with /32 routes only', async () => {
    const r1 = await copyOf('RegionOne', t.router1.id);
    const r2 = await copyOf('RegionTwo', t.router2.id);
    assert.deepEqual(r1.ips.sort(), ['10.0.1.1', r1.ips.find((ip) => ip.startsWith('163.3.124.'))].sort());
    assert.deepEqual(r2.ips.sort(), ['10.0.2.1', r2.ips.find((ip) => ip.startsWith('163.3.125.'))].sort());
    const three1 = await copyOf('RegionOne', t.router3.id);
    const three2 = await copyOf('RegionTwo', t.router3.id);
    const bridgeIp = (copy: { router: Json }) => copy.router.external_gateway_info.external_fixed_ips[0].ip_address as string;
    const vmIp = async (n: number) => {
      const [port] = await list(n === 1 ? 'RegionOne' : 'RegionTwo', `/v2.0/ports?device_id=${t[`vm${n}`].id}`, 'ports');
      return addressOf(port!.id);
    };
    assert.deepEqual(three1.router.routes, [{ destination: `${await vmIp(2)}/32`, nexthop: bridgeIp(three2) }]);
    assert.deepEqual(three2.router.routes, [{ destination: `${await vmIp(1)}/32`, nexthop: bridgeIp(three1) }]);
    t.three = { RegionOne: three1, RegionTwo: three2 };
  });

  it("routes each region's subnet to the other region's CIDR through router3's copy (host routes)", async () => {
    for (const [region, n, other] of [
      ['RegionOne', 1, '10.0.2.0/24'],
      ['RegionTwo', 2, '10.0.1.0/24'],
    ] as const) {
      const [subnet] = await list(region, `/v2.0/subnets?id=${t[`subnet${n}`].id}`, 'subnets');
      const hop = (t.three[region].ips as string[]).find((ip) => ip.startsWith(`10.0.${n}.`));
      assert.ok(hop && hop !== '10.0.1.1' && hop !== '10.0.2.1', `router3's copy in ${region} is not the gateway: ${hop}`);
      assert.equal(subnet?.gateway_ip, `10.0.${n}.1`);
      assert.deepEqual(subnet?.host_routes, [{ destination: other, nexthop: hop }]);
    }
  });

  it('tears down with router3 last, leaving no router or network in any region', async () => {
    for (const n of [1, 2]) await expectStatus(cloud.regions[n === 1 ? 'RegionOne' : 'RegionTwo']!.nova.remove(t[`vm${n}`].id), 204);
    for (const n of [1, 2]) {
      await put(`/v2.0/routers/${t[`router${n}`].id}`, { router: { external_gateway_info: null } }, ADMIN);
      await put(`/v2.0/routers/${t[`router${n}`].id}/remove_router_interface`, { subnet_id: t[`subnet${n}`].id });
      // Neutron deletes an interface's port with the interface, a port the user made too.
      await put(`/v2.0/routers/${t.router3.id}/remove_router_interface`, { port_id: t[`inf${n}`].id });
    }
    await noFailedJobs();
    for (const n of [1, 2]) await del(`/v2.0/routers/${t[`router${n}`].id}`);
    await del(`/v2.0/routers/${t.router3.id}`);
    for (const n of [1, 2]) await del(`/v2.0/networks/${t[`net${n}`].id}`);
    for (const n of [1, 2]) await del(`/v2.0/networks/${t[`ext${n}`].id}`, ADMIN);
    await noFailedJobs();
    for (const region of REGIONS) {
      assert.deepEqual(await list(region, '/v2.0/routers', 'routers'), [], `no router left in ${region}`);
      assert.deepEqual(await list(region, '/v2.0/networks', 'networks'), [], `no network left in ${region}`);
    }
  });
});

singleGatewayTopology('sqlite, xjob in process', sqlite);
singleGatewayTopology('postgresql, 2 xjob processes', postgres, { xjob: { processes: 2 } });
