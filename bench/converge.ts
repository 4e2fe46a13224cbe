import { parseArgs } from 'node:util';
import { engines } from '../test/support/engines.js';
import { CloudBuilder, expectStatus, startTricircleCloud, type TricircleCloud } from '../test/support/tricircle-cloud.js';
import { fmt, median, percentile, table } from './lib/stats.js';
import { integerFlag, listFlag, suiteRunner } from './lib/usage.js';

// Convergence: from a central API call's answer to the regions' bottom state being complete,
// i.e. every job the call implied (and the jobs those registered) has ended. The whole cloud
// runs in this process, on embedded SQLite, every service on its own loopback HTTP server
// (the test harness of test/support/tricircle-cloud.ts): the central role, one local Neutron
// and compute per region, and the xjob workers. After each timed step the bench checks the
// bottom state it waited for, so a fast wrong answer cannot pass for a fast one.
//
// - interface: a router already serving a network in RegionOne gets one in RegionTwo
//   (router_setup in RegionTwo, configure_route in both);
// - gateway: that router gets its gateway on an external network of RegionTwo (the NS router
//   in the call itself, then configure_route);
// - floating IP: a floating IP of RegionTwo's external network is associated with a server
//   port in RegionOne (shadow port and bottom floating IP in RegionTwo);
// - spanning N regions: a router with a network in each of N-1 regions gets its N-th, then
//   its gateway; every region's router gets new routes.

export const about = 'Time from a central L3 call to the bottom state in every region (interface add, gateway, floating IP; 2, 10 and 20 regions)';

const TARGET_P50_MS = 300;

const USAGE = `usage: npm run bench -- converge [flags]

  --samples N    timed repetitions of each 2-region case (default 20)
  --spans LIST   region counts for the spanning router (default 10,20)
  --span-samples N  repetitions per region count (default 3)

Example:
  npm run bench -- converge
  npm run bench -- converge --samples 5 --spans 5
`;

type Json = Record<string, any>;

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      samples: { type: 'string', default: '20' },
      spans: { type: 'string', default: '10,20' },
      'span-samples': { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    help: values.help,
    samples: integerFlag('samples', values.samples, 1),
    spans: listFlag(values.spans).map((n) => integerFlag('spans', n, 2)),
    spanSamples: integerFlag('span-samples', values['span-samples'], 1),
  };
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

interface Timing {
  /** The central API call itself (a gateway set does its region step inside it). */
  callMs: number;
  /** From the call's answer to every job having ended. */
  convergeMs: number;
}

/** Times `call`, then the convergence after it; a FAIL job aborts the bench. */
async function timeToConverge(cloud: TricircleCloud, call: () => Promise<unknown>): Promise<Timing> {
  const t0 = performance.now();
  await call();
  const t1 = performance.now();
  const failed = await cloud.settle(120_000, 2);
  const convergeMs = performance.now() - t1;
  if (failed.length) throw new Error(`jobs failed: ${JSON.stringify(failed)}`);
  return { callMs: t1 - t0, convergeMs };
}

/** The routers of a region named after the central router (bottom copies). */
async function bottomRouters(cloud: TricircleCloud, region: string, routerId: string): Promise<Json[]> {
  return (await expectStatus(cloud.regions[region]!.neutron.get(`/v2.0/routers?name=${routerId}`), 200)).routers;
}

async function check(what: string, ok: Promise<boolean>): Promise<void> {
  if (!(await ok)) throw new Error(`bottom state incomplete after convergence: ${what}`);
}

interface Row {
  scenario: string;
  regions: number;
  samples: Timing[];
}

async function twoRegionCases(samples: number): Promise<Row[]> {
  const cloud = await startTricircleCloud({ engine: await sqlite(), overrides: QUIET });
  try {
    const build = new CloudBuilder(cloud);
    const ext = await build.externalNetwork('RegionTwo');
    const rows: Row[] = [
      { scenario: 'router interface add', regions: 2, samples: [] },
      { scenario: 'gateway set', regions: 2, samples: [] },
      { scenario: 'floating IP associate', regions: 2, samples: [] },
    ];
    for (let i = 0; i < samples; i++) {
      const one = await build.servedNetwork('RegionOne');
      const two = await build.servedNetwork('RegionTwo');
      const router = await build.router();
      await build.attach(router.id, one.subnet.id);
      await cloud.settle(120_000, 2);
      rows[0]!.samples.push(await timeToConverge(cloud, () => build.attach(router.id, two.subnet.id)));
      await check(
        'a router in RegionTwo',
        bottomRouters(cloud, 'RegionTwo', router.id).then((r) => r.length === 1),
      );
      rows[1]!.samples.push(await timeToConverge(cloud, () => build.setGateway(router.id, ext.network.id)));
      const fip = await build.floatingIp(ext.network.id);
      rows[2]!.samples.push(await timeToConverge(cloud, () => build.associate(fip.id, one.portId)));
      await check(
        'the floating IP in RegionTwo',
        expectStatus(cloud.regions.RegionTwo!.neutron.get(`/v2.0/floatingips?floating_ip_address=${fip.floating_ip_address}`), 200).then(
          (b) => b.floatingips.length === 1,
        ),
      );
      progress(`2 regions, sample ${i + 1}/${samples}: ${rows.map((r) => `${r.scenario} ${fmt(r.samples.at(-1)!.convergeMs, 0)} ms`).join(', ')}`);
    }
    return rows;
  } finally {
    await cloud.close();
  }
}

async function spanningCase(regionCount: number, samples: number): Promise<Row[]> {
  const regions = Array.from({ length: regionCount }, (_, i) => `Region${i + 1}`);
  const cloud = await startTricircleCloud({ engine: await sqlite(), regions, overrides: QUIET });
  try {
    const build = new CloudBuilder(cloud);
    const ext = await build.externalNetwork(regions[0]!);
    const rows: Row[] = [
      { scenario: 'router interface add (N-th region)', regions: regionCount, samples: [] },
      { scenario: 'gateway set', regions: regionCount, samples: [] },
    ];
    for (let i = 0; i < samples; i++) {
      const router = await build.router();
      const networks: Array<{ subnet: Json }> = [];
      for (const region of regions) networks.push(await build.servedNetwork(region));
      for (const served of networks.slice(0, -1)) await build.attach(router.id, served.subnet.id);
      await cloud.settle(300_000, 2);
      rows[0]!.samples.push(await timeToConverge(cloud, () => build.attach(router.id, networks.at(-1)!.subnet.id)));
      await check(
        `a router in ${regions.at(-1)}`,
        bottomRouters(cloud, regions.at(-1)!, router.id).then((r) => r.length === 1),
      );
      rows[1]!.samples.push(await timeToConverge(cloud, () => build.setGateway(router.id, ext.network.id)));
      progress(`${regionCount} regions, sample ${i + 1}/${samples}: ${rows.map((r) => `${r.scenario} ${fmt(r.samples.at(-1)!.convergeMs, 0)} ms`).join(', ')}`);
    }
    return rows;
  } finally {
    await cloud.close();
  }
}

/** The embedded SQLite engine of the test harness: a fresh file per database. */
const sqlite = async () => (await engines()).find((engine) => engine.name === 'sqlite')!;

/** No quotas in the way of many samples. */
const QUIET = { QUOTAS: { quota_network: '-1', quota_subnet: '-1', quota_port: '-1', quota_router: '-1', quota_floatingip: '-1' } };

export const run = suiteRunner(
  'converge',
  USAGE,
  options,
  (opts) => `${opts.samples} samples of each 2-region case, spanning router over ${opts.spans.join(', ')} regions (${opts.spanSamples} samples each)`,
  async (opts) => {
    const rows = await twoRegionCases(opts.samples);
    for (const span of opts.spans) rows.push(...(await spanningCase(span, opts.spanSamples)));
    const body = rows.map((row) => {
      const converge = row.samples.map((t) => t.convergeMs).sort((a, b) => a - b);
      const call = row.samples.map((t) => t.callMs);
      return [
        row.scenario,
        String(row.regions),
        String(converge.length),
        fmt(median(call)),
        fmt(median(converge)),
        fmt(percentile(converge, 90)),
        fmt(converge.at(-1)!),
      ];
    });
    process.stdout.write(
      `${table(
        [
          { header: 'scenario', align: 'left' },
          { header: 'regions' },
          { header: 'n' },
          { header: 'call p50 ms' },
          { header: 'converge p50 ms' },
          { header: 'p90 ms' },
          { header: 'max ms' },
        ],
        body,
      )}\n`,
    );
    process.stdout.write(`target: p50 under ${TARGET_P50_MS} ms for the 2-region cases\n`);
  },
);
