import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { engines } from './support/engines.js';
import { startIdentityApi } from './support/identity-server.js';
import { neutronClient } from './support/neutron-server.js';
import { until } from './support/xjob-processes.js';
import { CENTRAL_REGION, CloudBuilder, expectStatus, startTricircleCloud, type TricircleCloud } from './support/tricircle-cloud.js';

// `tricircle status` and `tricircle topology` as an operator runs them: the real bin/tricircle.js
// as a child process against a whole cloud on loopback (noauth: the CLI sends the admin's
// identity headers), a router across two regions with servers and a gateway in RegionTwo.

type Json = Record<string, any>;

const BIN = join(import.meta.dirname, '..', 'bin', 'tricircle.js');
const run = promisify(execFile);
const [sqlite] = await engines();
const COUNTED = ['networks', 'subnets', 'ports', 'routers', 'floatingips'];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tricircle <args>` with `osEnv` as its only OS_* variables, whatever its exit status. */
async function tricircle(args: string[], osEnv: Record<string, string> = {}): Promise<CliResult> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_'))), ...osEnv };
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw err;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('tricircle status and topology (sqlite)', () => {
  let cloud: TricircleCloud;
  let build: CloudBuilder;
  let endpoints: Record<string, string>;
  let ext: { network: Json; subnet: Json };
  let one: Json;
  let two: Json;
  let router: Json;
  let fip: Json;

  /** The connection flags: the Admin API and every region's Neutron, or only `regions`'. */
  const flags = (regions = Object.keys(endpoints)) => [
    '--os-endpoint',
    cloud.adminUrl,
    ...regions.flatMap((region) => ['--neutron-endpoint', `${region}=${endpoints[region]}`]),
  ];

  before(async () => {
    cloud = await startTricircleCloud({
      engine: sqlite!,
      // Failing runs give up quickly, and no periodic redo turns a FAIL job back to NEW mid-test.
      overrides: { DEFAULT: { periodic_interval: '3600' }, xjob: { retry_attempts: '2', retry_base_delay: '0.1', retry_max_delay: '0.2' } },
    });
    build = new CloudBuilder(cloud);
    endpoints = {
      [CENTRAL_REGION]: cloud.central.url,
      ...Object.fromEntries(Object.entries(cloud.regions).map(([name, region]) => [name, region.neutrons[0]!.url])),
    };
    ext = await build.externalNetwork('RegionTwo');
    one = await build.servedNetwork('RegionOne');
    two = await build.servedNetwork('RegionTwo');
    router = await build.router();
    await build.attach(router.id, one.subnet.id);
    await build.attach(router.id, two.subnet.id);
    await build.setGateway(router.id, ext.network.id);
    fip = await build.floatingIp(ext.network.id, two.portId);
    assert.deepEqual(await cloud.settle(), []);
  });
  after(() => cloud?.close());

  it('status: every region reachable, with the counts its Neutron holds, and exit 0', async () => {
    const result = await tricircle(['status', '--format', 'json', ...flags()]);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const status = JSON.parse(result.stdout) as Json;
    assert.deepEqual(
      status.regions.map((r: Json) => [r.region, r.central, r.reachable, r.error]),
      [
        [CENTRAL_REGION, true, true, null],
        ['RegionOne', false, true, null],
        ['RegionTwo', false, true, null],
      ],
    );
    for (const region of status.regions as Json[]) {
      assert.equal(region.pod_id, cloud.podIds[region.region]);
      assert.ok(Number.isInteger(region.response_ms) && region.response_ms >= 0, JSON.stringify(region));
      const neutron = neutronClient(endpoints[region.region]!);
      const held: Json = {};
      for (const collection of COUNTED) held[collection] = (await expectStatus(neutron.get(`/v2.0/${collection}`), 200))[collection].length;
      assert.deepEqual(region.counts, held, region.region);
    }
    // What the topology built shows in the counts: a router copy in each region, the floating IP in RegionTwo.
    const counts = Object.fromEntries(status.regions.map((r: Json) => [r.region, r.counts]));
    assert.ok(counts.RegionOne.routers >= 1 && counts.RegionTwo.routers >= 2, JSON.stringify(counts));
    assert.equal(counts.RegionTwo.floatingips, 1);
    assert.equal(counts.RegionOne.floatingips, 0);
    assert.deepEqual(status.jobs, { new: 0, running: 0, fail: [], truncated: false });
    assert.equal(status.healthy, true);

    const table = await tricircle(['status', ...flags()]);
    assert.equal(table.code, 0, table.stderr);
    const regionOneRow = table.stdout.split('\n').find((line) => line.startsWith('| RegionOne '));
    assert.match(regionOneRow ?? '', new RegExp(`\\| yes +\\| \\d+ ms +\\| ${counts.RegionOne.networks} +\\| ${counts.RegionOne.subnets} +\\|`), table.stdout);
    assert.match(table.stdout, /jobs: 0 NEW, 0 RUNNING, 0 FAIL/);
    assert.match(table.stdout, /status: OK\n$/);
  });

  it('status: a region without a Neutron endpoint is unreachable, naming the flag to give', async () => {
    const result = await tricircle(['status', '--format', 'json', ...flags([CENTRAL_REGION, 'RegionTwo'])]);
    assert.equal(result.code, 1);
    const regionOne = (JSON.parse(result.stdout) as Json).regions.find((r: Json) => r.region === 'RegionOne');
    assert.equal(regionOne.reachable, false);
    assert.equal(regionOne.endpoint, null);
    assert.match(regionOne.error, /--neutron-endpoint RegionOne=URL/);
  });

  it('status: a region whose endpoint answers errors, or nothing within --timeout, is unreachable', async () => {
    // Silent: accepts connections and never answers.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const args = [...flags([CENTRAL_REGION]), '--neutron-endpoint', `RegionOne=${cloud.adminUrl}`, '--neutron-endpoint', `RegionTwo=${silentUrl}`];
      const result = await tricircle(['status', '--format', 'json', '--timeout', '0.5', ...args]);
      assert.equal(result.code, 1, result.stderr);
      const byRegion = Object.fromEntries((JSON.parse(result.stdout) as Json).regions.map((r: Json) => [r.region, r]));
      assert.equal(byRegion[CENTRAL_REGION].reachable, true);
      // The Admin API has no /v2.0: its 404 makes RegionOne's "Neutron" unusable.
      assert.equal(byRegion.RegionOne.reachable, false);
      assert.match(byRegion.RegionOne.error, /^Neutron of region RegionOne answered 404 to GET http:\/\/.*\/v2\.0\/[a-z]+\?fields=id: /);
      assert.equal(byRegion.RegionTwo.reachable, false);
      assert.match(byRegion.RegionTwo.error, /^Neutron of region RegionTwo at .* did not answer within 0\.5 s$/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('refuses a malformed --neutron-endpoint and an unreachable Admin API with a clear message', async () => {
    const bad = await tricircle(['status', '--os-endpoint', cloud.adminUrl, '--neutron-endpoint', 'RegionOne']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /expected REGION=URL, not 'RegionOne'/);
    const noAdmin = await tricircle(['topology', '--os-endpoint', 'http://127.0.0.1:1', '--neutron-endpoint', `${CENTRAL_REGION}=${cloud.central.url}`]);
    assert.equal(noAdmin.code, 1);
    assert.match(noAdmin.stderr, /cannot connect to the Admin API at http:\/\/127\.0\.0\.1:1\/v1\.0\/pods/);
    // A token without $OS_AUTH_URL: nothing says its project, which only topology needs.
    const tokenOnly = await tricircle(['topology', '--os-token', 'some-token', ...flags()]);
    assert.equal(tokenOnly.code, 1);
    assert.match(tokenOnly.stderr, /the token's project is unknown .*: give --project/);
    const noCentral = await tricircle(['topology', ...flags(['RegionOne'])]);
    assert.equal(noCentral.code, 1);
    assert.match(noCentral.stderr, /no Neutron endpoint for the central region CentralRegion: .*--neutron-endpoint CentralRegion=URL/);
  });

  it('topology --format json: each network and router with the regions its routing rows place it in', async () => {
    const result = await tricircle(['topology', '--project', 'p2', '--format', 'json', ...flags()]);
    assert.equal(result.code, 0, result.stderr);
    const topology = JSON.parse(result.stdout) as Json;
    assert.equal(topology.project_id, 'p2');
    assert.equal(topology.routers.length, 1);
    const [shown] = topology.routers as Json[];
    assert.equal(shown!.id, router.id);
    assert.deepEqual(shown!.regions, ['RegionOne', 'RegionTwo']);
    assert.deepEqual(shown!.interfaces, [one.network.id, two.network.id].sort());
    assert.equal(shown!.gateway, ext.network.id);
    // The router's placements are exactly its routing rows (RegionTwo also holds its north-south router).
    const rows = (await cloud.routings(router.id)).map((row) => [row.pod_id, row.resource_type, row.bottom_id]);
    const regionOf = Object.fromEntries(Object.entries(cloud.podIds).map(([region, id]) => [id, region]));
    const placed = (p: Json) => [cloud.podIds[p.region], p.resource_type, p.bottom_id];
    assert.deepEqual(shown!.placements.map(placed).sort(), rows.sort());
    assert.ok(
      shown!.placements.some((p: Json) => p.region === 'RegionTwo' && p.resource_type === 'ns_router'),
      JSON.stringify(shown),
    );

    const network = (id: string) => (topology.networks as Json[]).find((n) => n.id === id)!;
    assert.deepEqual(network(one.network.id).regions, ['RegionOne']);
    assert.deepEqual(network(one.network.id).cidrs, [one.subnet.cidr]);
    assert.deepEqual(network(two.network.id).regions, ['RegionTwo']);
    assert.deepEqual(network(ext.network.id).regions, ['RegionTwo']);
    assert.equal(network(ext.network.id).external, true);
    assert.equal(network(ext.network.id).project_id, 'admin');
    // The project's bridge network joins the router's copies in both regions.
    const bridge = (topology.networks as Json[]).find((n) => n.name === 'bridge_net_p2');
    assert.deepEqual(bridge?.regions, ['RegionOne', 'RegionTwo']);
    for (const shownNetwork of topology.networks as Json[]) {
      const expected = (await cloud.routings(shownNetwork.id))
        .filter((row) => ['network', 'shadow_network'].includes(row.resource_type))
        .map((row) => regionOf[row.pod_id]);
      assert.deepEqual(shownNetwork.regions, [...new Set(expected)].sort(), shownNetwork.name);
    }
    // Another project's view has none of it.
    const other = JSON.parse((await tricircle(['topology', '--project', 'p3', '--format', 'json', ...flags()])).stdout) as Json;
    assert.deepEqual(other, { project_id: 'p3', project_name: null, routers: [], networks: [] });
  });

  it('topology as text: router, then its networks, then their regions', async () => {
    const result = await tricircle(['topology', '--project', 'p2', ...flags()]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    const at = (text: string) => lines.findIndex((line) => line.includes(text));
    assert.match(lines[at(`router ${router.name} ${router.id}`)]!, /in RegionOne, RegionTwo \(ns_router, router\)$/);
    const interfaceOne = at(`interface ${one.network.name} ${one.network.id} ${one.subnet.cidr}`);
    assert.ok(interfaceOne > at(router.id), result.stdout);
    assert.equal(lines[interfaceOne + 1], '│   └── RegionOne', result.stdout);
    const gateway = at(`gateway ${ext.network.name} ${ext.network.id} ${ext.subnet.cidr} [external]`);
    assert.ok(gateway > interfaceOne, result.stdout);
    assert.match(lines[gateway]!, /^└── /);
    assert.equal(lines[gateway + 1], '    └── RegionTwo', result.stdout);
    const loose = at('networks on no router');
    assert.ok(loose > gateway && lines.slice(loose).some((line) => line.includes('network bridge_net_p2')), result.stdout);
  });

  it('topology --format dot: routers and networks as nodes labelled with their regions, edges for interfaces and the gateway', async () => {
    const result = await tricircle(['topology', '--project', 'p2', '--format', 'dot', ...flags()]);
    assert.equal(result.code, 0, result.stderr);
    const dot = result.stdout;
    assert.match(dot, /^graph topology \{\n/);
    assert.match(dot, /\}\n$/);
    const node = (id: string) => dot.split('\n').find((line) => line.startsWith(`  "${id}" [`)) ?? '';
    assert.match(node(router.id), /shape=box, label="router-\d+\\nRegionOne, RegionTwo \(ns_router, router\)"/);
    assert.match(node(one.network.id), new RegExp(`shape=ellipse, label="${one.network.name}\\\\n${one.subnet.cidr}\\\\nRegionOne"`));
    assert.match(node(two.network.id), /\\nRegionTwo"/);
    assert.match(node(ext.network.id), /shape=doubleoctagon, .*\\nRegionTwo"/);
    assert.ok(dot.includes(`  "${router.id}" -- "${one.network.id}" [label="interface"];`), dot);
    assert.ok(dot.includes(`  "${router.id}" -- "${two.network.id}" [label="interface"];`), dot);
    assert.ok(dot.includes(`  "${router.id}" -- "${ext.network.id}" [label="gateway", style=dashed];`), dot);
  });

  it('finds the Admin API and every Neutron in the catalog of an identity service, and the project in the token', async () => {
    const database = await sqlite!.create();
    const catalog = () => [
      { type: 'tricircle' as const, region: CENTRAL_REGION, url: cloud.adminUrl },
      ...Object.entries(endpoints).map(([region, url]) => ({ type: 'network' as const, region, url })),
    ];
    const identity = await startIdentityApi(database.connection, catalog);
    try {
      const osEnv = {
        OS_AUTH_URL: `${identity.url}/v3`,
        OS_USERNAME: 'admin',
        OS_PASSWORD: 'admin',
        OS_PROJECT_NAME: 'admin',
        OS_USER_DOMAIN_NAME: 'Default',
        OS_PROJECT_DOMAIN_NAME: 'Default',
      };
      const status = await tricircle(['status', '--format', 'json'], osEnv);
      assert.equal(status.code, 0, status.stderr + status.stdout);
      assert.deepEqual(
        (JSON.parse(status.stdout) as Json).regions.map((r: Json) => [r.region, r.endpoint, r.reachable]),
        Object.entries(endpoints).map(([region, url]) => [region, url, true]),
      );
      // Without --project, the token's project: the identity service's admin project has no resources here.
      const issued = await fetch(`${identity.url}/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: { methods: ['password'], password: { user: { name: 'admin', password: 'admin', domain: { id: 'default' } } } },
            scope: { project: { name: 'admin', domain: { id: 'default' } } },
          },
        }),
      });
      const adminProject = ((await issued.json()) as Json).token.project.id;
      const own = await tricircle(['topology', '--format', 'json'], osEnv);
      assert.equal(own.code, 0, own.stderr);
      assert.deepEqual(JSON.parse(own.stdout), { project_id: adminProject, project_name: 'admin', routers: [], networks: [] });
      // A name Keystone knows becomes its id; other text is taken as an id (p2 is no Keystone project here).
      const demo = JSON.parse((await tricircle(['topology', '--format', 'json', '--project', 'demo'], osEnv)).stdout) as Json;
      assert.match(demo.project_id, /^[0-9a-f]{32}$/);
      assert.equal(demo.project_name, 'demo');
      assert.notEqual(demo.project_id, adminProject);
      const named = JSON.parse((await tricircle(['topology', '--format', 'json', '--project', 'p2'], osEnv)).stdout) as Json;
      assert.equal(named.project_name, null);
      assert.deepEqual(named.routers[0].regions, ['RegionOne', 'RegionTwo']);
      // A wrong password is Keystone's refusal, said as such.
      const refused = await tricircle(['status'], { ...osEnv, OS_PASSWORD: 'wrong' });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /Keystone authentication failed: .*\(HTTP 401\)/);
    } finally {
      await identity.close();
      await database.drop();
    }
  });

  // Last: it leaves RegionTwo down.
  it('status: a stopped region is unreachable and its FAIL job shows with its error; exit 1', async () => {
    await cloud.stopNeutron('RegionTwo');
    // Taking the floating IP off its port needs RegionTwo, where the floating IP is.
    await build.associate(fip.id, null);
    const failRows = () => cloud.db.kysely.selectFrom('async_jobs').select(['id', 'type', 'error']).where('status', '=', 'FAIL').execute();
    await until('a job for RegionTwo to fail', async () => (await failRows()).length > 0, 30_000, 50);
    await cloud.settle();
    const failed = await failRows();

    const result = await tricircle(['status', '--format', 'json', ...flags()]);
    assert.equal(result.code, 1, result.stderr);
    const status = JSON.parse(result.stdout) as Json;
    const byRegion = Object.fromEntries(status.regions.map((r: Json) => [r.region, r]));
    assert.equal(byRegion.RegionOne.reachable, true);
    assert.equal(byRegion.RegionTwo.reachable, false);
    assert.equal(byRegion.RegionTwo.counts, null);
    assert.match(byRegion.RegionTwo.error, /Neutron of region RegionTwo at .* cannot be reached: .*ECONNREFUSED/);
    assert.deepEqual(status.jobs.fail.map((job: Json) => [job.id, job.type, job.error]).sort(), failed.map((job) => [job.id, job.type, job.error]).sort());
    assert.ok(
      status.jobs.fail.some((job: Json) => /RegionTwo/.test(job.error)),
      JSON.stringify(status.jobs),
    );
    assert.equal(status.healthy, false);

    const table = await tricircle(['status', ...flags()]);
    assert.equal(table.code, 1);
    assert.match(table.stdout, /\| RegionTwo +\| az2 +\| NO +\|/);
    assert.match(table.stdout, /RegionTwo: Neutron of region RegionTwo at .* cannot be reached/);
    assert.match(table.stdout, new RegExp(`jobs: 0 NEW, 0 RUNNING, ${failed.length} FAIL`));
    for (const job of failed) {
      assert.ok(table.stdout.includes(`  FAIL ${job.id} ${job.type} (project p2) region=RegionTwo, `), table.stdout);
      assert.ok(table.stdout.includes(`       ${job.error}\n`), table.stdout);
    }
    assert.match(table.stdout, new RegExp(`status: FAILING \\(1 region unreachable, ${failed.length} jobs? FAIL\\)\\n$`));
  });
});
