import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { interfacePortName } from '../src/tricircle/index.js';
import { engines } from './support/engines.js';
import { CloudBuilder, expectStatus, startTricircleCloud, type TricircleCloud } from './support/tricircle-cloud.js';

// Issue 8 over real HTTP with three regions (central role, a local Neutron and a compute per
// region, in-process workers; SQLite): a stretched network behind a non-local router with its
// gateway in RegionTwo, whose RegionOne server gets a floating IP; and twenty servers booted
// at once over the three regions on one new VxLAN network, which must end with every region
// holding exactly one shadow of every other region's server.

type Json = Record<string, any>;

const [sqlite] = await engines();
const REGIONS = ['RegionOne', 'RegionTwo', 'RegionThree'];

describe('stretched networks across three regions (sqlite)', () => {
  let cloud: TricircleCloud;
  let build: CloudBuilder;
  const inRegion = async (region: string, path: string, key: string) => (await expectStatus(cloud.regions[region]!.neutron.get(path), 200))[key] as Json[];

  before(async () => {
    cloud = await startTricircleCloud({ engine: sqlite!, regions: REGIONS });
    build = new CloudBuilder(cloud);
  });
  after(() => cloud?.close());

  it("routes a stretched network through each region's own gateway, and puts a RegionOne server's floating IP in RegionTwo", async () => {
    const ext = await build.externalNetwork('RegionTwo', '163.7.0.0/16');
    const network = await build.central.network({ name: 'stretched-l3' }, build.user);
    const subnet = (
      await expectStatus(build.central.post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '10.50.0.0/24' } }, build.user), 201)
    ).subnet;
    const ports: Record<string, Json> = {};
    for (const region of ['RegionOne', 'RegionTwo']) {
      ports[region] = (await expectStatus(build.central.post('/v2.0/ports', { port: { network_id: network.id } }, build.user), 201)).port;
      await expectStatus(cloud.regions[region]!.nova.boot(`vm-${region}`, [{ port: ports[region]!.id }]), 202);
    }
    const router = await build.router();
    await build.attach(router.id, subnet.id);
    await build.setGateway(router.id, ext.network.id);
    const fip = await build.floatingIp(ext.network.id, ports.RegionOne!.id);
    assert.deepEqual(await cloud.settle(), []);

    for (const region of ['RegionOne', 'RegionTwo']) {
      const [copy, ...more] = await inRegion(region, `/v2.0/routers?name=${router.id}`, 'routers');
      assert.equal(more.length, 0, region);
      const [gatewayPort] = (await expectStatus(build.central.get(`/v2.0/ports?name=${interfacePortName(region, subnet.id)}`), 200)).ports as Json[];
      const interfaces = await inRegion(region, `/v2.0/ports?device_id=${copy!.id}&device_owner=network:router_interface&network_id=${network.id}`, 'ports');
      assert.deepEqual(
        interfaces.map((port) => port.fixed_ips[0].ip_address),
        [gatewayPort!.fixed_ips[0].ip_address],
        `${region}'s copy sits at ${region}'s gateway of the subnet`,
      );
      const routes = (await expectStatus(cloud.regions[region]!.neutron.get(`/v2.0/routers/${copy!.id}`), 200)).router.routes as Json[];
      // Both regions have servers on the one subnet: no /32 between them, only the way out.
      assert.deepEqual(routes, [{ destination: '0.0.0.0/0', nexthop: '100.0.0.1' }], region);
    }
    assert.deepEqual(await inRegion('RegionThree', `/v2.0/routers?name=${router.id}`, 'routers'), [], 'no server there, no copy');
    const [bottom, ...others] = await inRegion('RegionTwo', `/v2.0/floatingips?floating_ip_address=${fip.floating_ip_address}`, 'floatingips');
    assert.equal(others.length, 0);
    assert.equal(bottom!.port_id, ports.RegionOne!.id);
    assert.equal(bottom!.fixed_ip_address, ports.RegionOne!.fixed_ips[0].ip_address);
  });

  it('ends twenty concurrent boots over three regions with one shadow of every other region’s server in each region', async () => {
    const network = await build.central.network({ name: 'stretched-l2' }, build.user);
    await expectStatus(build.central.post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '10.51.0.0/24' } }, build.user), 201);
    const booted = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const region = REGIONS[i % REGIONS.length]!;
        const server = (await expectStatus(cloud.regions[region]!.nova.boot(`burst-${i}`, [{ uuid: network.id }]), 202)).server;
        return { region, serverId: server.id as string };
      }),
    );
    assert.deepEqual(await cloud.settle(120_000), []);
    const central = (await expectStatus(build.central.get(`/v2.0/ports?network_id=${network.id}&device_owner=compute:nova`), 200)).ports as Json[];
    assert.equal(central.length, 20);
    const homeOf = new Map(central.map((port) => [port.id as string, booted.find((b) => b.serverId === port.device_id)!.region]));
    for (const region of REGIONS) {
      const shadows = await inRegion(region, `/v2.0/ports?network_id=${network.id}&device_owner=compute:shadow`, 'ports');
      const ids = shadows.map((port) => port.id as string).sort();
      assert.equal(new Set(ids).size, ids.length, `${region}: no duplicate shadow`);
      const expected = [...homeOf]
        .filter(([, home]) => home !== region)
        .map(([id]) => id)
        .sort();
      assert.deepEqual(ids, expected, `${region} shadows every other region's server`);
      assert.ok(
        shadows.every((port) => port.status === 'ACTIVE'),
        `${region}: every shadow ACTIVE`,
      );
    }
  });
});
