import { parseArgs } from 'node:util';
import { engines } from '../test/support/engines.js';
import { startTricircleCloud, CloudBuilder, expectStatus, type TricircleCloud } from '../test/support/tricircle-cloud.js';
import { fmt, median, percentile, table } from './lib/stats.js';
import { integerFlag, listFlag, suiteRunner } from './lib/usage.js';

// Cross-region L2: the time from a server becoming ACTIVE in one region (the compute answers
// the boot once it is) to its shadow ports being ACTIVE in every other region, on one
// stretched VxLAN network, with the whole cloud in this process on embedded SQLite (the test
// harness of test/support/tricircle-cloud.ts). Every region holds the network (one server each)
// before the timed servers boot, one after another, round robin over the regions. Shadow-port calls are the region Neutron requests the workers make for
// shadow ports (creates and force_up updates), counted on this process's fetch.

export const about = "Time from a server's boot to its shadow ports being ACTIVE in every other region (3 and 10 regions), and shadow-port calls per boot";

const TARGET_P50_MS = 500;

const USAGE = `usage: npm run bench -- stretch [flags]

  --regions LIST   region counts (default 3,10)
  --servers N      servers booted per region count (default 200)

Example:
  npm run bench -- stretch
  npm run bench -- stretch --regions 3 --servers 30
`;

type Json = Record<string, any>;

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      regions: { type: 'string', default: '3,10' },
      servers: { type: 'string', default: '200' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    help: values.help,
    regions: listFlag(values.regions).map((n) => integerFlag('regions', n, 2)),
    servers: integerFlag('servers', values.servers, 1),
  };
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** Counts this process's requests that create or force up shadow ports. */
function countShadowCalls(): { count(): number; restore(): void } {
  const original = globalThis.fetch;
  let calls = 0;
  globalThis.fetch = (input, init) => {
    const body = typeof init?.body === 'string' ? init.body : '';
    const method = init?.method ?? 'GET';
    if ((method === 'POST' || method === 'PUT') && String(input).includes('/v2.0/ports') && /shadow_port_|force_up/.test(body)) calls++;
    return original(input, init);
  };
  return { count: () => calls, restore: () => (globalThis.fetch = original) };
}

/** Polls every other region until the port's shadow is ACTIVE there; returns when all are. */
async function shadowsActive(cloud: TricircleCloud, regions: string[], home: string, portId: string): Promise<void> {
  const pending = new Set(regions.filter((r) => r !== home));
  const deadline = Date.now() + 60_000;
  while (pending.size) {
    for (const region of [...pending]) {
      const reply = await cloud.regions[region]!.neutron.get(`/v2.0/ports?id=${portId}&device_owner=compute:shadow&fields=status`);
      if ((reply.body?.ports as Json[] | undefined)?.[0]?.status === 'ACTIVE') pending.delete(region);
    }
    if (Date.now() > deadline) throw new Error(`no ACTIVE shadow of ${portId} in ${[...pending].join(', ')} after 60 s`);
    if (pending.size) await new Promise((r) => setTimeout(r, 2));
  }
}

interface Row {
  regions: number;
  latencies: number[];
  callsPerBoot: number;
}

async function stretch(regionCount: number, servers: number): Promise<Row> {
  const regions = Array.from({ length: regionCount }, (_, i) => `Region${i + 1}`);
  const sqlite = (await engines()).find((engine) => engine.name === 'sqlite')!;
  const cloud = await startTricircleCloud({
    engine: sqlite,
    regions,
    overrides: { QUOTAS: { quota_port: '-1', quota_network: '-1', quota_subnet: '-1' } },
  });
  const calls = countShadowCalls();
  try {
    const build = new CloudBuilder(cloud);
    const network = await build.central.network({ name: 'stretched' }, build.user);
    await expectStatus(build.central.post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '10.128.0.0/16' } }, build.user), 201);
    // Shadows go only where the network already is: one server per region first, not timed.
    for (const region of regions) await expectStatus(cloud.regions[region]!.nova.boot(`anchor-${region}`, [{ uuid: network.id }]), 202);
    await cloud.settle(300_000);
    const latencies: number[] = [];
    const before = calls.count();
    for (let i = 0; i < servers; i++) {
      const home = regions[i % regions.length]!;
      const port = (await expectStatus(build.central.post('/v2.0/ports', { port: { network_id: network.id } }, build.user), 201)).port;
      await expectStatus(cloud.regions[home]!.nova.boot(`vm-${i}`, [{ port: port.id }]), 202);
      const t0 = performance.now();
      await shadowsActive(cloud, regions, home, port.id);
      latencies.push(performance.now() - t0);
      if ((i + 1) % 50 === 0) progress(`${regionCount} regions: ${i + 1}/${servers} servers, p50 so far ${fmt(median(latencies))} ms`);
    }
    const failed = await cloud.settle(300_000);
    if (failed.length) throw new Error(`jobs failed: ${JSON.stringify(failed.slice(0, 3))}`);
    return { regions: regionCount, latencies, callsPerBoot: (calls.count() - before) / servers };
  } finally {
    calls.restore();
    await cloud.close();
  }
}

export const run = suiteRunner(
  'stretch',
  USAGE,
  options,
  (opts) => `${opts.servers} servers on one stretched VxLAN network, over ${opts.regions.join(', ')} regions`,
  async (opts) => {
    const rows: Row[] = [];
    for (const count of opts.regions) rows.push(await stretch(count, opts.servers));
    const body = rows.map((row) => {
      const sorted = [...row.latencies].sort((a, b) => a - b);
      return [String(row.regions), String(sorted.length), fmt(median(sorted)), fmt(percentile(sorted, 90)), fmt(sorted.at(-1)!), fmt(row.callsPerBoot, 1)];
    });
    process.stdout.write(
      `${table(
        [{ header: 'regions' }, { header: 'servers' }, { header: 'p50 ms' }, { header: 'p90 ms' }, { header: 'max ms' }, { header: 'shadow calls/boot' }],
        body,
      )}\n`,
    );
    process.stdout.write(`target: p50 under ${TARGET_P50_MS} ms for 3 regions; shadow calls per boot linear in the number of regions\n`);
  },
);
