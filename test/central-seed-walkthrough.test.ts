import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN as ADMIN_API, call } from './support/admin-server.js';
import { engines } from './support/engines.js';
import { ADMIN } from './support/neutron-server.js';
import { USER } from './support/region-cloud.js';
import { expectStatus, startTricircleCloud, type TricircleCloud } from './support/tricircle-cloud.js';

// The seed document's walkthrough (../shared/seed/, steps 5 to 15), in its order, over real
// HTTP: pods through the Admin API, networks, subnets, a router, its gateway and a floating
// IP through the central Neutron, servers through each region's compute. After each step the
// regions' own Neutrons are read (as an admin without a token, so reading copies nothing).

type Json = Record<string, any>;

const [sqlite] = await engines();
const VLAN_RANGES = { tricircle: { network_vlan_ranges: 'extern:3000:3100' } };

describe('the seed walkthrough, steps 5-15 (sqlite)', () => {
  let cloud: TricircleCloud;
  const central = () => cloud.centralNeutron;
  const region = (name: string) => cloud.regions[name]!;
  const state: Json = {};

  before(async () => {
    cloud = await startTricircleCloud({ engine: sqlite!, registerPods: false, overrides: VLAN_RANGES });
  });
  after(() => cloud.close());

  it('step 5: registers the central pod and two region pods through the Admin API', async () => {
    for (const pod of [{ region_name: 'CentralRegion' }, { region_name: 'RegionOne', az_name: 'az1' }, { region_name: 'RegionTwo', az_name: 'az2' }]) {
      await expectStatus(call(cloud.adminUrl, 'POST', '/v1.0/pods', { pod }, ADMIN_API), 200);
    }
    await cloud.connectRegions();
    const pods = (await expectStatus(call(cloud.adminUrl, 'GET', '/v1.0/pods', undefined, ADMIN_API), 200)).pods as Json[];
    assert.deepEqual(pods.map((pod) => pod.region_name).sort(), ['CentralRegion', 'RegionOne', 'RegionTwo']);
  });

  it('step 6: creates net1 and its subnet 10.0.1.0/24 on the central Neutron only', async () => {
    state.net1 = await central().network({ name: 'net1' }, USER);
    state.subnet1 = (
      await expectStatus(central().post('/v2.0/subnets', { subnet: { network_id: state.net1.id, ip_version: 4, cidr: '10.0.1.0/24' } }, USER), 201)
    ).subnet;
    for (const name of ['RegionOne', 'RegionTwo']) {
      assert.deepEqual((await expectStatus(region(name).neutron.get('/v2.0/networks'), 200)).networks, [], `${name} has no network yet`);
    }
  });

  it('step 7: finds an image and a flavor in RegionOne', async () => {
    const compute = region('RegionOne').computes[0]!.url;
    const images = (await expectStatus(call(compute, 'GET', '/v2/images', undefined, USER), 200)).images as Json[];
    const flavors = (await expectStatus(call(compute, 'GET', '/v2.1/flavors', undefined, USER), 200)).flavors as Json[];
    assert.ok(images.length > 0 && flavors.some((flavor) => flavor.id === '1'));
  });

  it('step 8: boots vm1 in RegionOne on net1, and vm2 in RegionTwo on net2', async () => {
    state.vm1 = (await expectStatus(region('RegionOne').nova.boot('vm1', [{ uuid: state.net1.id }]), 202)).server;
    state.net2 = await central().network({ name: 'net2' }, USER);
    state.subnet2 = (
      await expectStatus(central().post('/v2.0/subnets', { subnet: { network_id: state.net2.id, ip_version: 4, cidr: '10.0.2.0/24' } }, USER), 201)
    ).subnet;
    state.vm2 = (await expectStatus(region('RegionTwo').nova.boot('vm2', [{ uuid: state.net2.id }]), 202)).server;
    assert.deepEqual(await cloud.settle(), []);
  });

  it('step 9: each VM is ACTIVE on a port bound in its region, with the address central allocated', async () => {
    for (const [name, vm, net] of [
      ['RegionOne', state.vm1, state.net1],
      ['RegionTwo', state.vm2, state.net2],
    ] as const) {
      const server = (await expectStatus(region(name).nova.show(vm.id), 200)).server;
      assert.equal(server.status, 'ACTIVE');
      const port = (await expectStatus(central().get(`/v2.0/ports?device_id=${vm.id}`), 200)).ports[0] as Json;
      assert.equal(port.network_id, net.id);
      const local = (await expectStatus(region(name).neutron.get(`/v2.0/ports/${port.id}`), 200)).port;
      assert.deepEqual(local.fixed_ips, port.fixed_ips);
      assert.notEqual(local['binding:host_id'], '');
      state[`port_${vm.id}`] = port;
    }
  });

  it('step 10: creates ext-net (VLAN on extern, in RegionTwo) and ext-subnet, which appear in RegionTwo only', async () => {
    const body = {
      network: {
        name: 'ext-net',
        admin_state_up: true,
        'router:external': true,
        'provider:network_type': 'vlan',
        'provider:physical_network': 'extern',
        availability_zone_hints: ['RegionTwo'],
      },
    };
    state.ext = (await expectStatus(central().post('/v2.0/networks', body, ADMIN), 201)).network;
    state.extSubnet = (
      await expectStatus(
        central().post(
          '/v2.0/subnets',
          { subnet: { name: 'ext-subnet', network_id: state.ext.id, ip_version: 4, cidr: '163.3.124.0/24', enable_dhcp: false } },
          ADMIN,
        ),
        201,
      )
    ).subnet;
    const copy = (await expectStatus(region('RegionTwo').neutron.get(`/v2.0/networks/${state.ext.id}`), 200)).network;
    assert.equal(copy['router:external'], true);
    assert.equal(copy['provider:segmentation_id'], state.ext['provider:segmentation_id']);
    const subnet = (await expectStatus(region('RegionTwo').neutron.get(`/v2.0/subnets/${state.extSubnet.id}`), 200)).subnet;
    assert.equal(subnet.gateway_ip, '163.3.124.1');
    assert.equal((await region('RegionOne').neutron.get(`/v2.0/networks/${state.ext.id}`)).status, 404);
  });

  it('step 11: a router with both subnets gets a copy in each region, joined by the bridge network', async () => {
    state.router = (await expectStatus(central().post('/v2.0/routers', { router: { name: 'router' } }, USER), 201)).router;
    for (const subnet of [state.subnet1, state.subnet2]) {
      await expectStatus(central().put(`/v2.0/routers/${state.router.id}/add_router_interface`, { subnet_id: subnet.id }, USER), 200);
    }
    assert.deepEqual(await cloud.settle(), []);
    for (const [name, subnet] of [
      ['RegionOne', state.subnet1],
      ['RegionTwo', state.subnet2],
    ] as const) {
      const [bottom, ...more] = (await expectStatus(region(name).neutron.get(`/v2.0/routers?name=${state.router.id}`), 200)).routers;
      assert.equal(more.length, 0, name);
      assert.equal(bottom.external_gateway_info.enable_snat, false);
      assert.match(bottom.external_gateway_info.external_fixed_ips[0].ip_address, /^100\.0\.0\.\d+$/);
      const ports = (await expectStatus(region(name).neutron.get(`/v2.0/ports?device_id=${bottom.id}&device_owner=network:router_interface`), 200))
        .ports as Json[];
      assert.deepEqual(
        ports.map((port) => port.fixed_ips[0].subnet_id),
        [subnet.id],
      );
      state[`router_${name}`] = bottom;
    }
  });

  it('step 12: the gateway puts ns_router_<router> in RegionTwo and default routes via 100.0.0.1 in every router', async () => {
    await expectStatus(central().put(`/v2.0/routers/${state.router.id}`, { router: { external_gateway_info: { network_id: state.ext.id } } }, USER), 200);
    assert.deepEqual(await cloud.settle(), []);
    const gateway = (await expectStatus(central().get(`/v2.0/routers/${state.router.id}`), 200)).router.external_gateway_info;
    const ns = (await expectStatus(region('RegionTwo').neutron.get(`/v2.0/routers?name=ns_router_${state.router.id}`), 200)).routers[0] as Json;
    assert.equal(ns.external_gateway_info.external_fixed_ips[0].ip_address, gateway.external_fixed_ips[0].ip_address);
    const vmIp = (vm: Json) => state[`port_${vm.id}`].fixed_ips[0].ip_address as string;
    const bridgeIp = (name: string) => state[`router_${name}`].external_gateway_info.external_fixed_ips[0].ip_address as string;
    for (const [name, other, vm] of [
      ['RegionOne', 'RegionTwo', state.vm2],
      ['RegionTwo', 'RegionOne', state.vm1],
    ] as const) {
      const routes = (await expectStatus(region(name).neutron.get(`/v2.0/routers/${state[`router_${name}`].id}`), 200)).router.routes as Json[];
      assert.deepEqual(
        [...routes].sort((a, b) => a.destination.localeCompare(b.destination)),
        [
          { destination: '0.0.0.0/0', nexthop: '100.0.0.1' },
          { destination: `${vmIp(vm)}/32`, nexthop: bridgeIp(other) },
        ],
        name,
      );
    }
    const nsRoutes = (await expectStatus(region('RegionTwo').neutron.get(`/v2.0/routers/${ns.id}`), 200)).router.routes as Json[];
    assert.deepEqual(nsRoutes.map((route) => route.destination).sort(), [`${vmIp(state.vm1)}/32`, `${vmIp(state.vm2)}/32`].sort());
  });

  it('step 14: a floating IP of ext-net exists on the central Neutron only', async () => {
    state.fip = (await expectStatus(central().post('/v2.0/floatingips', { floatingip: { floating_network_id: state.ext.id } }, USER), 201)).floatingip;
    assert.deepEqual(await cloud.settle(), []);
    assert.deepEqual((await expectStatus(region('RegionTwo').neutron.get('/v2.0/floatingips'), 200)).floatingips, []);
  });

  it("step 15: associating it with vm1's port puts it in RegionTwo, on a shadow copy of that port", async () => {
    const port = state[`port_${state.vm1.id}`];
    await expectStatus(central().put(`/v2.0/floatingips/${state.fip.id}`, { floatingip: { port_id: port.id } }, USER), 200);
    assert.deepEqual(await cloud.settle(), []);
    const [bottom, ...more] = (
      await expectStatus(region('RegionTwo').neutron.get(`/v2.0/floatingips?floating_ip_address=${state.fip.floating_ip_address}`), 200)
    ).floatingips;
    assert.equal(more.length, 0);
    assert.equal(bottom.port_id, port.id);
    assert.equal(bottom.fixed_ip_address, port.fixed_ips[0].ip_address);
    const shadow = (await expectStatus(region('RegionTwo').neutron.get(`/v2.0/ports/${port.id}`), 200)).port;
    assert.equal(shadow.device_owner, 'compute:shadow');
    assert.equal(shadow.mac_address, port.mac_address);
  });
});
