import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines } from './support/engines.js';
import { until } from './support/xjob-processes.js';
import { CloudBuilder, expectStatus, startTricircleCloud, type TricircleCloud } from './support/tricircle-cloud.js';

// Issue 6's faults, end to end over real HTTP between the central role, two regions' local
// Neutrons and computes, and the xjob workers: a region that is down while a router
// interface is added, an xjob process killed in the middle of router_setup, two interface
// adds racing on one router, and one floating IP associated twice in quick succession. Each
// must end in the right bottom state with nothing duplicated. SQLite, except the killed
// process, which needs a database two processes share (PostgreSQL).

type Json = Record<string, any>;

const [sqlite, postgres] = await engines();

/** The bottom routers of a region that copy `routerId` (named after it). */
async function bottomRouters(cloud: TricircleCloud, region: string, routerId: string): Promise<Json[]> {
  return (await expectStatus(cloud.regions[region]!.neutron.get(`/v2.0/routers?name=${routerId}`), 200)).routers;
}

/** The subnets a region's router has interfaces on. */
async function interfaceSubnets(cloud: TricircleCloud, region: string, bottomRouterId: string): Promise<string[]> {
  const ports = (await expectStatus(cloud.regions[region]!.neutron.get(`/v2.0/ports?device_id=${bottomRouterId}&device_owner=network:router_interface`), 200))
    .ports as Json[];
  return ports.flatMap((port) => (port.fixed_ips as Json[]).map((ip) => ip.subnet_id as string)).sort();
}

/** The networks of a region named like the project's bridge network. */
async function bridgeNetworks(cloud: TricircleCloud, region: string): Promise<Json[]> {
  const networks = (await expectStatus(cloud.regions[region]!.neutron.get('/v2.0/networks'), 200)).networks as Json[];
  return networks.filter((network) => String(network.name).startsWith('bridge_net_'));
}

describe('central L3 under faults (sqlite)', () => {
  let cloud: TricircleCloud;
  let build: CloudBuilder;
  before(async () => {
    cloud = await startTricircleCloud({
      engine: sqlite!,
      // Few quick retries, then the periodic redo every second brings FAIL jobs back.
      overrides: { DEFAULT: { periodic_interval: '1' }, xjob: { retry_attempts: '2', retry_base_delay: '0.1', retry_max_delay: '0.2' } },
    });
    build = new CloudBuilder(cloud);
  });
  after(() => cloud.close());

  it('converges a router interface added while the region is down once the region is back', async () => {
    const one = await build.servedNetwork('RegionOne');
    const two = await build.servedNetwork('RegionTwo');
    const router = await build.router();
    await build.attach(router.id, one.subnet.id);
    assert.deepEqual(await cloud.settle(), []);

    await cloud.stopNeutron('RegionTwo');
    await build.attach(router.id, two.subnet.id);
    const failed = await until(
      'router_setup for RegionTwo to fail',
      async () => {
        const rows = await cloud.db.kysely.selectFrom('async_jobs').select(['type', 'status', 'error']).where('status', '=', 'FAIL').execute();
        return rows.length > 0 && rows;
      },
      30_000,
      50,
    );
    assert.ok(
      failed.some((job) => job.type === 'router_setup' && /RegionTwo/.test(job.error ?? '')),
      JSON.stringify(failed),
    );

    await cloud.restartNeutron('RegionTwo');
    await until(
      'the redo to converge RegionTwo',
      async () => {
        const left = await cloud.db.kysely.selectFrom('async_jobs').select('id').where('status', 'in', ['NEW', 'RUNNING', 'FAIL']).execute();
        return left.length === 0;
      },
      30_000,
      100,
    );
    const [bottom, ...more] = await bottomRouters(cloud, 'RegionTwo', router.id);
    assert.equal(more.length, 0);
    assert.deepEqual(await interfaceSubnets(cloud, 'RegionTwo', bottom!.id), [two.subnet.id]);
    assert.equal((await bridgeNetworks(cloud, 'RegionTwo')).length, 1);
  });

  it('gives one bottom router per region and one bridge network for two interface adds racing on one router', async () => {
    const [a, b, c] = [await build.servedNetwork('RegionOne'), await build.servedNetwork('RegionOne'), await build.servedNetwork('RegionTwo')];
    const router = await build.router();
    await Promise.all([build.attach(router.id, a.subnet.id), build.attach(router.id, b.subnet.id), build.attach(router.id, c.subnet.id)]);
    assert.deepEqual(await cloud.settle(), []);
    const [regionOne, ...moreOne] = await bottomRouters(cloud, 'RegionOne', router.id);
    const [regionTwo, ...moreTwo] = await bottomRouters(cloud, 'RegionTwo', router.id);
    assert.equal(moreOne.length + moreTwo.length, 0, 'one bottom router per region');
    assert.deepEqual(await interfaceSubnets(cloud, 'RegionOne', regionOne!.id), [a.subnet.id, b.subnet.id].sort());
    assert.deepEqual(await interfaceSubnets(cloud, 'RegionTwo', regionTwo!.id), [c.subnet.id]);
    for (const region of ['RegionOne', 'RegionTwo']) assert.equal((await bridgeNetworks(cloud, region)).length, 1, region);
  });

  it('leaves one bottom floating IP, on the last port, when one floating IP is associated twice in quick succession', async () => {
    const ext = await build.externalNetwork('RegionTwo', '163.4.0.0/16');
    const one = await build.servedNetwork('RegionOne');
    const two = await build.servedNetwork('RegionTwo');
    const router = await build.router();
    await build.attach(router.id, one.subnet.id);
    await build.attach(router.id, two.subnet.id);
    await build.setGateway(router.id, ext.network.id);
    const fip = await build.floatingIp(ext.network.id);
    await build.associate(fip.id, one.portId);
    await build.associate(fip.id, two.portId);
    assert.deepEqual(await cloud.settle(), []);
    const bottom = (await expectStatus(cloud.regions.RegionTwo!.neutron.get(`/v2.0/floatingips?floating_ip_address=${fip.floating_ip_address}`), 200))
      .floatingips as Json[];
    assert.equal(bottom.length, 1, JSON.stringify(bottom));
    assert.equal(bottom[0]!.port_id, two.portId);
  });
  it('gives a second router of the project with a gateway in the same region its own north-south router and default route', async () => {
    const ext = await build.externalNetwork('RegionTwo', '163.5.0.0/16');
    const routes = async (routerId: string) => {
      const [bottom] = await bottomRouters(cloud, 'RegionOne', routerId);
      return (await expectStatus(cloud.regions.RegionOne!.neutron.get(`/v2.0/routers/${bottom!.id}`), 200)).router.routes as Json[];
    };
    const nextHops = [];
    for (const n of [1, 2]) {
      const served = await build.servedNetwork('RegionOne');
      const router = await build.router();
      await build.attach(router.id, served.subnet.id);
      await build.setGateway(router.id, ext.network.id);
      assert.deepEqual(await cloud.settle(), [], `router ${n}`);
      const [ns, ...more] = (await expectStatus(cloud.regions.RegionTwo!.neutron.get(`/v2.0/routers?name=ns_router_${router.id}`), 200)).routers as Json[];
      assert.equal(more.length, 0);
      const nsBridge = (await expectStatus(cloud.regions.RegionTwo!.neutron.get(`/v2.0/ports?device_id=${ns!.id}&device_owner=network:router_interface`), 200))
        .ports[0].fixed_ips[0].ip_address as string;
      const defaultRoute = (await routes(router.id)).find((route) => route.destination === '0.0.0.0/0');
      assert.equal(defaultRoute?.nexthop, nsBridge, `router ${n} goes north-south through its own NS router`);
      nextHops.push(nsBridge);
    }
    assert.notEqual(nextHops[0], nextHops[1]);
  });
  it('clears a gateway right after its floating IPs were deleted, before router_setup removed their region copies', async () => {
    const ext = await build.externalNetwork('RegionTwo', '163.6.0.0/16');
    const served = await build.servedNetwork('RegionTwo');
    const router = await build.router();
    await build.attach(router.id, served.subnet.id);
    await build.setGateway(router.id, ext.network.id);
    const fip = await build.floatingIp(ext.network.id, served.portId);
    assert.deepEqual(await cloud.settle(), []);
    const inRegion = async () =>
      (await expectStatus(cloud.regions.RegionTwo!.neutron.get(`/v2.0/floatingips?floating_ip_address=${fip.floating_ip_address}`), 200)).floatingips as Json[];
    assert.equal((await inRegion()).length, 1);
    await cloud.stopXJob();
    try {
      await expectStatus(build.central.del(`/v2.0/floatingips/${fip.id}`, build.user), 204);
      assert.equal((await inRegion()).length, 1, 'the region copy waits for router_setup');
      await build.setGateway(router.id, null);
      assert.deepEqual(await inRegion(), []);
      assert.deepEqual((await expectStatus(cloud.regions.RegionTwo!.neutron.get(`/v2.0/routers?name=ns_router_${router.id}`), 200)).routers, []);
    } finally {
      await cloud.startXJob();
    }
    assert.deepEqual(await cloud.settle(), []);
  });
});

describe('central L3 with a killed xjob process (postgres)', { skip: postgres!.skip }, () => {
  let cloud: TricircleCloud;
  before(async () => {
    cloud = await startTricircleCloud({ engine: postgres!, xjob: { processes: 1 }, overrides: { xjob: { job_run_expire: '3' } } });
  });
  after(() => cloud?.close());

  it('converges router_setup after the process running it is killed, in another process once the run expires', async () => {
    const build = new CloudBuilder(cloud);
    const one = await build.servedNetwork('RegionOne');
    const router = await build.router();
    const processes = cloud.xjobProcesses!;
    const [first] = processes.list();
    await build.attach(router.id, one.subnet.id);
    await until(
      'router_setup to run',
      async () => {
        const running = await cloud.db.kysely
          .selectFrom('async_jobs')
          .select('id')
          .where('type', '=', 'router_setup')
          .where('status', '=', 'RUNNING')
          .execute();
        return running.length > 0;
      },
      30_000,
      2,
    );
    first!.child.kill('SIGKILL');
    await first!.exited;
    await processes.start(cloud.xjobConfigFile!);
    assert.deepEqual(await cloud.settle(60_000), []);
    const [bottom, ...more] = await bottomRouters(cloud, 'RegionOne', router.id);
    assert.equal(more.length, 0);
    assert.deepEqual(await interfaceSubnets(cloud, 'RegionOne', bottom!.id), [one.subnet.id]);
  });
});
