import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines } from './support/engines.js';
import { closedPort } from './support/net.js';
import { ADMIN, OTHER } from './support/neutron-server.js';
import { ok, USER } from './support/region-cloud.js';
import { CENTRAL_REGION, startTricircleCloud, type TricircleCloud } from './support/tricircle-cloud.js';
import { until } from './support/xjob-processes.js';

// The central role's routers, gateways and floating IPs over real HTTP (central, local
// Neutrons, computes, in-process xjob): the location rules, the project's bridge network, the
// north-south router a gateway makes in the external network's region and what clearing the
// gateway and deleting the router leave (nothing), and the router_setup a floating IP casts.
// The east-west bottom routers are router_setup's (test/central-*-topology tests).

type Json = Record<string, any>;

const [sqlite] = await engines();
const PROJECT = USER['x-project-id']!;

describe('central routers, gateways, floating IPs and the bridge network (sqlite)', () => {
  let cloud: TricircleCloud;
  const central = () => cloud.centralNeutron;
  const region = (name: string) => cloud.regions[name]!.neutron;
  const state: Json = {};

  const create = async (collection: string, body: Json, headers = USER) => {
    const key = collection.slice(0, -1);
    return (await ok(central().post(`/v2.0/${collection}`, { [key]: body }, headers), 201))[key] as Json;
  };
  const network = async (name: string, cidr: string, attrs: Json = {}, headers = USER) => {
    const net = await create('networks', { name, ...attrs }, headers);
    const subnet = await create('subnets', { network_id: net.id, ip_version: 4, cidr }, headers);
    return { net, subnet };
  };
  const addInterface = (routerId: string, subnetId: string) => central().put(`/v2.0/routers/${routerId}/add_router_interface`, { subnet_id: subnetId }, USER);
  const removeInterface = (routerId: string, subnetId: string) =>
    ok(central().put(`/v2.0/routers/${routerId}/remove_router_interface`, { subnet_id: subnetId }, USER));
  const setGateway = async (routerId: string, info: Json | null) =>
    (await ok(central().put(`/v2.0/routers/${routerId}`, { router: { external_gateway_info: info } }, USER))).router as Json;
  /** Central resources by name, as the admin sees them. */
  const named = async (collection: string, name: string) => (await ok(central().get(`/v2.0/${collection}?name=${name}`)))[collection] as Json[];
  /** What a region's own Neutron holds (as an admin without a token: nothing is copied by reading). */
  const inRegion = async (name: string, collection: string, query: string) =>
    (await ok(region(name).get(`/v2.0/${collection}?${query}`)))[collection] as Json[];
  /** Jobs of a type and resource id waiting to run (with the workers stopped, every one registered since). */
  const waiting = async (type: string, resourceId: string) =>
    (
      await cloud.db.kysely
        .selectFrom('async_jobs')
        .select('id')
        .where('type', '=', type)
        .where('resource_id', '=', resourceId)
        .where('status', '=', 'NEW')
        .execute()
    ).length;

  before(async () => {
    cloud = await startTricircleCloud({ engine: sqlite! });
    state.ext = await network('ext', '163.3.124.0/24', { 'router:external': true, availability_zone_hints: ['RegionTwo'] }, ADMIN);
  });
  after(() => cloud?.close());

  it('refuses a network outside a router’s regions (RouterNetworkLocationMismatch) and attaches nothing', async () => {
    const local = await create('routers', { name: 'local-r1', availability_zone_hints: ['RegionOne'] });
    const nonLocal = await create('routers', { name: 'az1-router', availability_zone_hints: ['az1'] });
    const { subnet } = await network('net-r2', '10.9.0.0/24', { availability_zone_hints: ['RegionTwo'] });
    for (const router of [local, nonLocal]) {
      const reply = await addInterface(router.id, subnet.id);
      assert.equal(reply.status, 400, reply.text);
      assert.equal(reply.body.NeutronError.type, 'RouterNetworkLocationMismatch');
      assert.deepEqual((await ok(central().get(`/v2.0/ports?device_id=${router.id}`))).ports, []);
      await ok(central().del(`/v2.0/routers/${router.id}`, USER), 204);
    }
    assert.deepEqual(await named('networks', `bridge_net_${PROJECT}`), [], 'no bridge network for a refused interface');
  });

  it('gives the project one bridge network and subnet 100.0.0.0/24 for its non-local routers', async () => {
    state.r1 = await create('routers', { name: 'r1' });
    state.r2 = await create('routers', { name: 'r2' });
    state.net1 = await network('net1', '10.0.1.0/24');
    state.net2 = await network('net2', '10.0.2.0/24');
    await ok(addInterface(state.r1.id, state.net1.subnet.id));
    await ok(addInterface(state.r2.id, state.net2.subnet.id));

    const [pool, ...morePools] = await named('subnetpools', 'bridge_subnet_pool');
    const [net, ...moreNets] = await named('networks', `bridge_net_${PROJECT}`);
    const [subnet, ...moreSubnets] = await named('subnets', `bridge_subnet_${PROJECT}`);
    assert.deepEqual([morePools, moreNets, moreSubnets], [[], [], []], 'one of each for both routers');
    assert.deepEqual(pool!.prefixes, ['100.0.0.0/9']);
    assert.equal(pool!.shared, true);
    assert.equal(net!.project_id, PROJECT);
    assert.equal(net!.shared, false);
    assert.equal(net!['provider:network_type'], 'vxlan');
    assert.equal(subnet!.cidr, '100.0.0.0/24');
    assert.equal(subnet!.gateway_ip, '100.0.0.1');
    assert.equal(subnet!.enable_dhcp, false);
    assert.equal(subnet!.subnetpool_id, pool!.id);
    state.bridge = { net, subnet };

    const centralPod = cloud.podIds[CENTRAL_REGION];
    for (const [name, type, id] of [
      ['bridge_subnet_pool', 'subnetpool', pool!.id],
      [`bridge_net_${PROJECT}`, 'network', net!.id],
      [`bridge_subnet_${PROJECT}`, 'subnet', subnet!.id],
    ]) {
      const rows = await cloud.routings(name);
      assert.deepEqual(
        rows.map((row) => [row.pod_id, row.resource_type, row.bottom_id]),
        [[centralPod, type, id]],
        `routing of ${name}`,
      );
    }
  });

  it('attaches a local network to a local router in its region: the copy, its routing rows, router_setup there', async () => {
    const router = await create('routers', { name: 'local-r1', availability_zone_hints: ['RegionOne'] });
    const { net, subnet } = await network('net-local', '10.5.0.0/24', { availability_zone_hints: ['RegionOne'] });
    await cloud.stopXJob();
    await ok(addInterface(router.id, subnet.id));
    assert.equal((await inRegion('RegionOne', 'networks', `id=${net.id}`)).length, 1, 'copied into RegionOne at once');
    assert.deepEqual(await inRegion('RegionTwo', 'networks', `id=${net.id}`), []);
    for (const [id, type] of [
      [net.id, 'network'],
      [subnet.id, 'subnet'],
    ]) {
      assert.deepEqual(
        (await cloud.routings(id)).map((row) => [row.pod_id, row.resource_type, row.bottom_id]),
        [[cloud.podIds.RegionOne, type, id]],
      );
    }
    assert.equal(await waiting('router_setup', `${cloud.podIds.RegionOne}#${router.id}#${net.id}`), 1);
    await cloud.startXJob();
    state.local = { router, net, subnet };
  });

  it('refuses a local router a network whose gateway a non-local router holds (NetAttachedToNonLocalRouter)', async () => {
    const port = await create('ports', { network_id: state.net1.net.id });
    const reply = await central().put(`/v2.0/routers/${state.local.router.id}/add_router_interface`, { port_id: port.id }, USER);
    assert.equal(reply.status, 409, reply.text);
    assert.equal(reply.body.NeutronError.type, 'NetAttachedToNonLocalRouter');
    assert.equal((await ok(central().get(`/v2.0/ports/${port.id}`))).port.device_id, '', 'the port stays free');
    await ok(central().del(`/v2.0/ports/${port.id}`, USER), 204);
  });

  it('sets a local router’s gateway on its own bottom router: no north-south router, no configure_route', async () => {
    const router = await create('routers', { name: 'local-r2', availability_zone_hints: ['RegionTwo'] });
    await cloud.stopXJob();
    const [gateway] = (await setGateway(router.id, { network_id: state.ext.net.id })).external_gateway_info.external_fixed_ips as Json[];
    const [bottom, ...others] = await inRegion('RegionTwo', 'routers', `name=${router.id}`);
    assert.deepEqual(others, []);
    assert.deepEqual(bottom!.external_gateway_info.external_fixed_ips, [gateway]);
    assert.deepEqual(await inRegion('RegionTwo', 'routers', `name=ns_router_${router.id}`), []);
    assert.deepEqual(
      (await cloud.routings(router.id)).map((row) => [row.pod_id, row.resource_type, row.bottom_id]),
      [[cloud.podIds.RegionTwo, 'router', bottom!.id]],
    );
    assert.equal(await waiting('configure_route', router.id), 0, 'routes of a local router are left alone');
    await setGateway(router.id, null);
    assert.equal((await inRegion('RegionTwo', 'routers', `name=${router.id}`))[0]!.external_gateway_info, null);
    await cloud.startXJob();
    await ok(central().del(`/v2.0/routers/${router.id}`, USER), 204);
    assert.deepEqual(await inRegion('RegionTwo', 'routers', `name=${router.id}`), []);
    assert.deepEqual(await cloud.routings(router.id), []);
  });

  it('makes one bridge network for concurrent interface adds of a new project’s routers', async () => {
    const other = { ...OTHER, 'x-auth-token': 'token-of-other-user' };
    const pairs = await Promise.all(
      [1, 2, 3].map(async (i) => ({ router: await create('routers', { name: `c${i}` }, other), ...(await network(`c-net${i}`, `10.7.${i}.0/24`, {}, other)) })),
    );
    await Promise.all(pairs.map(({ router, subnet }) => ok(central().put(`/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id }, other))));
    const [net, ...more] = await named('networks', `bridge_net_${OTHER['x-project-id']}`);
    assert.deepEqual(more, []);
    const [subnet] = await named('subnets', `bridge_subnet_${OTHER['x-project-id']}`);
    assert.equal(subnet!.cidr, '100.0.1.0/24', 'the next /24 of the pool');
    assert.equal(subnet!.network_id, net!.id);
    for (const { router, subnet: own } of pairs) {
      await ok(central().put(`/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: own.id }, other));
      await ok(central().del(`/v2.0/routers/${router.id}`, other), 204);
    }
    assert.deepEqual(await named('networks', `bridge_net_${OTHER['x-project-id']}`), [], 'gone with the project’s last non-local router');
  });

  it('sets a non-local router’s gateway through ns_router_<id> in the external network’s region', async () => {
    await cloud.stopXJob();
    const router = await setGateway(state.r1.id, { network_id: state.ext.net.id });
    const [gateway] = router.external_gateway_info.external_fixed_ips as Json[];

    const [ns, ...others] = await inRegion('RegionTwo', 'routers', `name=ns_router_${state.r1.id}`);
    assert.deepEqual(others, []);
    assert.equal(ns!.external_gateway_info.network_id, state.ext.net.id);
    assert.deepEqual(ns!.external_gateway_info.external_fixed_ips, [gateway], 'the same gateway address as central');
    const interfaces = await inRegion('RegionTwo', 'ports', `device_id=${ns!.id}&device_owner=network:router_interface`);
    assert.deepEqual(
      interfaces.map((port) => port.fixed_ips),
      [[{ subnet_id: state.bridge.subnet.id, ip_address: '100.0.0.1' }]],
    );
    const [bridgePort] = await named('ports', `bridge_port_${PROJECT}_${ns!.id}`);
    assert.equal(interfaces[0]!.id, bridgePort!.id, 'the region port is the central bridge port');
    const [bridgeCopy] = await inRegion('RegionTwo', 'networks', `id=${state.bridge.net.id}`);
    assert.equal(bridgeCopy!['router:external'], true);
    assert.deepEqual(
      (await cloud.routings(state.r1.id)).filter((row) => row.resource_type === 'ns_router').map((row) => [row.pod_id, row.bottom_id]),
      [[cloud.podIds.RegionTwo, ns!.id]],
    );
    assert.equal(await waiting('configure_route', state.r1.id), 1);
    await cloud.startXJob();
    state.ns = ns;
  });

  it('moves the north-south router when the gateway moves to an external network of another region', async () => {
    const ext2 = await network('ext2', '163.3.125.0/24', { 'router:external': true, availability_zone_hints: ['RegionOne'] }, ADMIN);
    const [gateway] = (await setGateway(state.r1.id, { network_id: ext2.net.id })).external_gateway_info.external_fixed_ips as Json[];
    assert.deepEqual(await inRegion('RegionTwo', 'routers', `name=ns_router_${state.r1.id}`), [], 'gone from RegionTwo');
    assert.deepEqual(await named('ports', `bridge_port_${PROJECT}_${state.ns.id}`), []);
    const [ns] = await inRegion('RegionOne', 'routers', `name=ns_router_${state.r1.id}`);
    assert.deepEqual(ns!.external_gateway_info.external_fixed_ips, [gateway]);
    assert.equal((await inRegion('RegionOne', 'ports', `device_id=${ns!.id}&device_owner=network:router_interface`))[0]!.fixed_ips[0].ip_address, '100.0.0.1');
    const [back] = (await setGateway(state.r1.id, { network_id: state.ext.net.id })).external_gateway_info.external_fixed_ips as Json[];
    assert.deepEqual(await inRegion('RegionOne', 'routers', `name=ns_router_${state.r1.id}`), []);
    [state.ns] = await inRegion('RegionTwo', 'routers', `name=ns_router_${state.r1.id}`);
    assert.deepEqual(state.ns.external_gateway_info.external_fixed_ips, [back]);
    await ok(central().del(`/v2.0/subnets/${ext2.subnet.id}`), 204);
    await ok(central().del(`/v2.0/networks/${ext2.net.id}`), 204);
  });

  it('clearing the gateway removes the north-south router and its bridge port', async () => {
    const router = await setGateway(state.r1.id, null);
    assert.equal(router.external_gateway_info, null);
    assert.deepEqual(await inRegion('RegionTwo', 'routers', `name=ns_router_${state.r1.id}`), []);
    assert.deepEqual(await inRegion('RegionTwo', 'ports', `network_id=${state.bridge.net.id}`), []);
    assert.deepEqual(await named('ports', `bridge_port_${PROJECT}_${state.ns.id}`), []);
    assert.deepEqual(
      (await cloud.routings(state.r1.id)).filter((row) => row.resource_type === 'ns_router'),
      [],
    );
  });

  it('a region that cannot be reached fails the gateway (BottomPodOperationFailure) and leaves the router as it was', async () => {
    const endpoint = () => cloud.db.kysely.updateTable('cached_endpoints').where('pod_id', '=', cloud.podIds.RegionTwo!);
    const { service_url: url } = await cloud.db.kysely
      .selectFrom('cached_endpoints')
      .select('service_url')
      .where('pod_id', '=', cloud.podIds.RegionTwo!)
      .executeTakeFirstOrThrow();
    await cloud.settle();
    await cloud.stopXJob();
    await endpoint()
      .set({ service_url: `http://127.0.0.1:${await closedPort()}` })
      .execute();
    try {
      const reply = await central().put(`/v2.0/routers/${state.r1.id}`, { router: { external_gateway_info: { network_id: state.ext.net.id } } }, USER);
      assert.equal(reply.status, 502, reply.text);
      assert.equal(reply.body.NeutronError.type, 'BottomPodOperationFailure');
    } finally {
      await endpoint().set({ service_url: url }).execute();
    }
    assert.equal((await ok(central().get(`/v2.0/routers/${state.r1.id}`))).router.external_gateway_info, null);
    assert.deepEqual(
      (await cloud.routings(state.r1.id)).filter((row) => row.resource_type === 'ns_router'),
      [],
    );
    assert.equal(await waiting('configure_route', state.r1.id), 0);
    await cloud.startXJob();
  });

  it('a floating IP on a port bound in a region casts router_setup for that region', async () => {
    await setGateway(state.r1.id, { network_id: state.ext.net.id });
    const nova = cloud.regions.RegionOne!.nova;
    const server = (await ok(nova.boot('vm1', [{ uuid: state.net1.net.id }]), 202)).server;
    const [port] = (await ok(central().get(`/v2.0/ports?device_id=${server.id}`))).ports as Json[];
    await until('the VM port bound in RegionOne', async () => (await cloud.routings(port!.id)).some((row) => row.pod_id === cloud.podIds.RegionOne));
    await cloud.settle();
    await cloud.stopXJob();
    const setup = `${cloud.podIds.RegionOne}#${state.r1.id}#${state.net1.net.id}`;
    const before = await waiting('router_setup', setup);
    const fip = await create('floatingips', { floating_network_id: state.ext.net.id, port_id: port!.id });
    assert.equal(fip.router_id, state.r1.id);
    assert.equal(await waiting('router_setup', setup), before + 1, 'associating casts router_setup');
    await ok(central().put(`/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: null } }, USER));
    assert.equal(await waiting('router_setup', setup), before + 2, 'disassociating casts it for the old port');
    await ok(central().del(`/v2.0/floatingips/${fip.id}`, USER), 204);
    assert.equal(await waiting('router_setup', setup), before + 2, 'a floating IP without a port casts nothing on delete');
    await cloud.startXJob();
    await ok(nova.remove(server.id), 204);
    await until('the VM port gone', async () => (await ok(central().get(`/v2.0/ports?device_id=${server.id}`))).ports.length === 0);
  });

  it('deleting the routers leaves no bottom router, bridge port or bridge network anywhere', async () => {
    await removeInterface(state.r1.id, state.net1.subnet.id);
    await removeInterface(state.r2.id, state.net2.subnet.id);
    await removeInterface(state.local.router.id, state.local.subnet.id);
    await ok(central().del(`/v2.0/routers/${state.local.router.id}`, USER), 204);
    await cloud.settle();
    // r1 keeps its gateway, and its north-south router has lost the bridge interface already (upstream's delete failed on that 404).
    const [ns] = await inRegion('RegionTwo', 'routers', `name=ns_router_${state.r1.id}`);
    const [bridgeInterface] = await inRegion('RegionTwo', 'ports', `device_id=${ns!.id}&device_owner=network:router_interface`);
    await ok(region('RegionTwo').put(`/v2.0/routers/${ns!.id}`, { router: { routes: [] } }));
    await ok(region('RegionTwo').put(`/v2.0/routers/${ns!.id}/remove_router_interface`, { port_id: bridgeInterface!.id }));
    await ok(central().del(`/v2.0/routers/${state.r1.id}`, USER), 204);
    assert.equal((await named('networks', `bridge_net_${PROJECT}`)).length, 1, 'r2 still needs the bridge');
    await ok(central().del(`/v2.0/routers/${state.r2.id}`, USER), 204);
    await cloud.settle();

    for (const name of ['RegionOne', 'RegionTwo']) {
      const routers = (await inRegion(name, 'routers', '')).filter((r) =>
        [state.r1.id, state.r2.id, state.local.router.id, `ns_router_${state.r1.id}`].includes(r.name),
      );
      assert.deepEqual(routers, [], `no bottom router in ${name}`);
      assert.deepEqual(await inRegion(name, 'networks', `id=${state.bridge.net.id}`), [], `no bridge network in ${name}`);
      assert.deepEqual(await inRegion(name, 'ports', `network_id=${state.bridge.net.id}`), [], `no bridge port in ${name}`);
    }
    assert.deepEqual(await named('networks', `bridge_net_${PROJECT}`), []);
    assert.deepEqual(await named('subnets', `bridge_subnet_${PROJECT}`), []);
    assert.deepEqual((await ok(central().get(`/v2.0/ports?network_id=${state.bridge.net.id}`))).ports, []);
    const left = (await cloud.routings()).filter(
      (row) => [state.r1.id, state.r2.id, state.bridge.net.id, state.bridge.subnet.id].includes(row.top_id) || row.top_id.startsWith('bridge_'),
    );
    assert.deepEqual(
      left.filter((row) => row.top_id !== 'bridge_subnet_pool'),
      [],
      'no routing row of the routers or the bridge',
    );
  });
});
