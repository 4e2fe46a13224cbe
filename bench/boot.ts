import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CIRROS_IMAGE_ID } from '../src/compute/index.js';
import { withCleanup, type Cleanup } from './lib/cleanup.js';
import { formatProfile, summarizeProfile } from './lib/cpuprofile.js';
import { machineBusySeconds, machineSummary } from './lib/machine.js';
import { startServer, type ServerProcess } from './lib/server.js';
import { fmt, median, percentile, table } from './lib/stats.js';
import { integerFlag, suiteRunner } from './lib/usage.js';

// Server boot through the whole Tricircle path on loopback: `tricircle compute --region
// RegionOne` -> `tricircle neutron-server --role local --region RegionOne` -> a central
// `tricircle neutron-server`, each its own process (as deployed), each on its own embedded
// SQLite file. With --shared-region-db the local Neutron and the compute share the region's file
// instead: two processes writing one SQLite file, whose write transactions then queue on the
// file's write lock (BEGIN IMMEDIATE, src/db/sqlite-transactions.ts).
//
// The figure is POST /v2.1/servers to its 202: the compute service answers only once the
// server is stored ACTIVE (docs/compute.md, "A boot"), so no polling is involved.
//
// - cold: the region has never seen the network: a fresh central network and subnet before
//   each boot (not timed), so the boot copies network, subnet (region gateway port, DHCP port)
//   and then creates and binds the port;
// - warm: every boot on one network the region has already copied;
// - concurrent: batches of boots sent at once on the warm network; per-boot latency and the
//   batch's wall time.

export const about = 'Server boot through compute -> local Neutron -> central Neutron (separate processes, SQLite): cold, warm, 20 concurrent';

const REGION = 'RegionOne';
// The local role reaches central only for requests carrying a token (docs/neutron-local.md).
const CALLER = { 'x-user-id': 'bench-user', 'x-project-id': 'bench-project', 'x-roles': 'member', 'x-auth-token': 'bench-token' };
const TARGET = { warmP50Ms: 30, coldP50Ms: 80 };

const USAGE = `usage: npm run bench -- boot [flags]

  --rounds N       repetitions of every measurement; medians are reported (default 3)
  --warm N         measured warm boots per round, one at a time (default 100)
  --cold N         measured cold boots per round, one at a time, each on a fresh network (default 30)
  --concurrent N   boots sent at once in a batch (default 20)
  --batches N      concurrent batches per round (default 3)
  --warmup N       boots before the first round, half of them cold, not measured (default 20)
  --shared-region-db
                   the local Neutron and the compute on one SQLite file (default: a file each)
  --log-level L    log_level of the services (default warn)
  --cpu-prof       run the three services under node --cpu-prof and print where their time went
                   (start-up, warm-up boots and every round included)
  --out DIR        where the JSON results go (default ${join(tmpdir(), 'tricircle-bench')})

Example:
  npm run bench -- boot                        everything (~1-2 min on a quiet machine)
  npm run bench -- boot --rounds 1 --warm 30 --cold 10 --cpu-prof
`;

type Options = ReturnType<typeof options>;

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rounds: { type: 'string', default: '3' },
      warm: { type: 'string', default: '100' },
      cold: { type: 'string', default: '30' },
      concurrent: { type: 'string', default: '20' },
      batches: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '20' },
      'log-level': { type: 'string', default: 'warn' },
      'cpu-prof': { type: 'boolean', default: false },
      'shared-region-db': { type: 'boolean', default: false },
      out: { type: 'string', default: join(tmpdir(), 'tricircle-bench') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    help: values.help,
    rounds: integerFlag('rounds', values.rounds, 1),
    warm: integerFlag('warm', values.warm, 1),
    cold: integerFlag('cold', values.cold, 1),
    concurrent: integerFlag('concurrent', values.concurrent, 1),
    batches: integerFlag('batches', values.batches, 1),
    warmup: integerFlag('warmup', values.warmup, 0),
    logLevel: values['log-level'],
    cpuProf: values['cpu-prof'],
    sharedRegionDb: values['shared-region-db'],
    out: values.out,
  };
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** One JSON call as the bench's caller; throws on any status but `expect`. */
async function callJson(baseUrl: string, method: string, path: string, body: unknown, expect: number): Promise<any> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...CALLER, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await response.text();
  if (response.status !== expect) throw new Error(`${method} ${baseUrl}${path}: ${response.status} ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : undefined;
}

interface Cloud {
  central: ServerProcess;
  local: ServerProcess;
  compute: ServerProcess;
  profileDirs: Record<string, string>;
}

async function startCloud(workDir: string, opts: Options, cleanup: Cleanup): Promise<Cloud> {
  const common = {
    TRICIRCLE_DEFAULT__AUTH_STRATEGY: 'noauth',
    TRICIRCLE_DEFAULT__LOG_LEVEL: opts.logLevel,
    TRICIRCLE_DEFAULT__STATE_PATH: workDir,
    TRICIRCLE_QUOTAS__QUOTA_PORT: '-1',
    TRICIRCLE_QUOTAS__QUOTA_NETWORK: '-1',
    TRICIRCLE_QUOTAS__QUOTA_SUBNET: '-1',
  };
  const sqlite = (file: string) => `sqlite:///${join(workDir, file)}`;
  const profileDirs: Record<string, string> = {};
  const start = async (name: string, args: string[], bindSection: string, env: Record<string, string>) => {
    const profileDir = join(workDir, `profile-${name}`);
    if (opts.cpuProf) mkdirSync(profileDir, { recursive: true });
    profileDirs[name] = profileDir;
    const server = await startServer(
      {
        args,
        env: { ...common, ...env },
        bindSection,
        logFile: join(workDir, `${name}.log`),
        nodeFlags: opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
      },
      cleanup,
    );
    progress(`${name} pid ${server.pid} at ${server.url}`);
    return server;
  };
  const central = await start('central neutron', ['neutron-server'], 'NEUTRON', { TRICIRCLE_DATABASE__CONNECTION: sqlite('central.sqlite') });
  // The compute starts after the local Neutron has migrated a shared region database.
  const local = await start('local neutron', ['neutron-server', '--role', 'local', '--region', REGION], 'NEUTRON', {
    TRICIRCLE_DATABASE__CONNECTION: sqlite('region.sqlite'),
    TRICIRCLE_TRICIRCLE__CENTRAL_NEUTRON_URL: central.url,
  });
  const compute = await start('compute', ['compute', '--region', REGION], 'COMPUTE', {
    TRICIRCLE_DATABASE__CONNECTION: sqlite(opts.sharedRegionDb ? 'region.sqlite' : 'compute.sqlite'),
    TRICIRCLE_COMPUTE__NEUTRON_URL: local.url,
  });
  return { central, local, compute, profileDirs };
}

/** A central network with one subnet; `prefix` /16 leaves room for every warm boot. */
let networks = 0;
async function centralNetwork(cloud: Cloud, cidrPrefix: number): Promise<string> {
  networks += 1;
  const network = (await callJson(cloud.central.url, 'POST', '/v2.0/networks', { network: { name: `bench-net-${networks}` } }, 201)).network;
  const cidr = cidrPrefix === 16 ? `10.${networks % 250}.0.0/16` : `10.${networks % 250}.${Math.floor(networks / 250)}.0/24`;
  await callJson(cloud.central.url, 'POST', '/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr } }, 201);
  return network.id as string;
}

let boots = 0;
/** One boot; answers its milliseconds (POST to the 202, which comes once the server is ACTIVE). */
async function boot(cloud: Cloud, networkId: string): Promise<{ ms: number; id: string }> {
  boots += 1;
  const body = { server: { name: `bench-vm-${boots}`, flavorRef: '1', imageRef: CIRROS_IMAGE_ID, networks: [{ uuid: networkId }] } };
  const t0 = performance.now();
  const answer = await callJson(cloud.compute.url, 'POST', '/v2.1/servers', body, 202);
  return { ms: performance.now() - t0, id: answer.server.id as string };
}

interface Sample {
  /** Boot latencies, ms, ascending. */
  sorted: number[];
  p50: number;
  p99: number;
  mean: number;
  max: number;
  /** CPU ms per boot of each service, and of the whole machine. */
  cpuMsPerBoot: Record<string, number>;
  /** Concurrent batches only: the median batch wall time, ms. */
  batchWallMs?: number;
}

/** Runs `body` and summarizes the latencies it returns, with the services' CPU around it. */
async function measure(cloud: Cloud, count: number, body: () => Promise<{ latencies: number[]; batchWalls?: number[] }>): Promise<Sample> {
  const services = { central: cloud.central, local: cloud.local, compute: cloud.compute };
  const before = Object.fromEntries(Object.entries(services).map(([k, s]) => [k, s.cpuSeconds() ?? NaN]));
  const machineBefore = machineBusySeconds() ?? NaN;
  const { latencies, batchWalls } = await body();
  const cpuMsPerBoot: Record<string, number> = {};
  for (const [k, s] of Object.entries(services)) cpuMsPerBoot[k] = (((s.cpuSeconds() ?? NaN) - before[k]!) / count) * 1000;
  cpuMsPerBoot.machine = (((machineBusySeconds() ?? NaN) - machineBefore) / count) * 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    sorted,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
    max: sorted[sorted.length - 1]!,
    cpuMsPerBoot,
    batchWallMs: batchWalls ? median(batchWalls) : undefined,
  };
}

async function warmRound(cloud: Cloud, networkId: string, n: number): Promise<Sample> {
  return measure(cloud, n, async () => {
    const latencies: number[] = [];
    for (let i = 0; i < n; i++) latencies.push((await boot(cloud, networkId)).ms);
    return { latencies };
  });
}

async function coldRound(cloud: Cloud, n: number): Promise<Sample> {
  // The networks are made first, so that the CPU figures count boots only.
  const fresh: string[] = [];
  for (let i = 0; i < n; i++) fresh.push(await centralNetwork(cloud, 24));
  return measure(cloud, n, async () => {
    const latencies: number[] = [];
    for (const networkId of fresh) latencies.push((await boot(cloud, networkId)).ms);
    return { latencies };
  });
}

async function concurrentRound(cloud: Cloud, networkId: string, size: number, batches: number): Promise<Sample> {
  return measure(cloud, size * batches, async () => {
    const latencies: number[] = [];
    const batchWalls: number[] = [];
    for (let b = 0; b < batches; b++) {
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: size }, () => boot(cloud, networkId)));
      batchWalls.push(performance.now() - t0);
      latencies.push(...results.map((r) => r.ms));
    }
    return { latencies, batchWalls };
  });
}

type Scenario = 'cold' | 'warm' | 'concurrent';

function resultTable(cells: Record<Scenario, Sample[]>, opts: Options): string {
  const label: Record<Scenario, string> = {
    cold: `cold, 1 at a time (${opts.cold}/round, fresh network each)`,
    warm: `warm, 1 at a time (${opts.warm}/round)`,
    concurrent: `warm, ${opts.concurrent} at once (${opts.batches} batch(es)/round)`,
  };
  const m = (rounds: Sample[], f: (s: Sample) => number, d = 1) => fmt(median(rounds.map(f)), d);
  return table(
    [
      { header: 'POST /v2.1/servers -> 202 (ACTIVE)', align: 'left' },
      { header: 'p50 ms' },
      { header: 'p99 ms' },
      { header: 'mean ms' },
      { header: 'max ms' },
      { header: 'p50 range' },
      { header: 'batch wall ms' },
      { header: 'CPU ms/boot: compute' },
      { header: 'local' },
      { header: 'central' },
      { header: 'machine' },
    ],
    (Object.keys(label) as Scenario[]).map((s) => {
      const rounds = cells[s];
      return [
        label[s],
        m(rounds, (r) => r.p50),
        m(rounds, (r) => r.p99),
        m(rounds, (r) => r.mean),
        m(rounds, (r) => r.max),
        `${fmt(Math.min(...rounds.map((r) => r.p50)), 1)}-${fmt(Math.max(...rounds.map((r) => r.p50)), 1)}`,
        s === 'concurrent' ? m(rounds, (r) => r.batchWallMs ?? NaN, 0) : '',
        m(rounds, (r) => r.cpuMsPerBoot.compute!),
        m(rounds, (r) => r.cpuMsPerBoot.local!),
        m(rounds, (r) => r.cpuMsPerBoot.central!),
        m(rounds, (r) => r.cpuMsPerBoot.machine!),
      ];
    }),
  );
}

/** The main thread's profile of each service (thread 0; tsx's loader thread writes one too). */
function profiles(cloud: Cloud): string[] {
  return Object.entries(cloud.profileDirs).map(([name, dir]) => {
    const files = readdirSync(dir);
    const file = files.find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) ?? files.find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`${name} wrote no .cpuprofile in ${dir}`);
    return `${name}:\n${formatProfile(summarizeProfile(join(dir, file)), 20)}`;
  });
}

export const run = suiteRunner(
  'boot',
  USAGE,
  options,
  (opts) =>
    `${opts.rounds} round(s) of ${opts.cold} cold, ${opts.warm} warm, ${opts.batches} x ${opts.concurrent} concurrent boots; ${opts.warmup} warm-up boots`,
  async (opts) => {
    const cells: Record<Scenario, Sample[]> = { cold: [], warm: [], concurrent: [] };
    let profileText: string[] = [];
    await withCleanup(async (cleanup) => {
      const workDir = mkdtempSync(join(tmpdir(), 'tricircle-bench-boot-'));
      cleanup.add(`remove ${workDir}`, () => rmSync(workDir, { recursive: true, force: true }));
      const cloud = await startCloud(workDir, opts, cleanup);

      // The warm network: copied into the region by its first boot, which is checked to be ACTIVE.
      const warmNetwork = await centralNetwork(cloud, 16);
      const first = await boot(cloud, warmNetwork);
      const shown = (await callJson(cloud.compute.url, 'GET', `/v2.1/servers/${first.id}`, undefined, 200)).server;
      if (shown.status !== 'ACTIVE') throw new Error(`the first server is ${shown.status}, not ACTIVE`);
      progress(`first boot (copies the warm network): ${fmt(first.ms, 1)} ms`);
      for (let i = 0; i < opts.warmup; i++) await boot(cloud, i % 2 ? warmNetwork : await centralNetwork(cloud, 24));

      // Rounds interleave the scenarios, so that drift on this shared machine touches them all alike.
      for (let round = 1; round <= opts.rounds; round++) {
        const cold = await coldRound(cloud, opts.cold);
        const warm = await warmRound(cloud, warmNetwork, opts.warm);
        const concurrent = await concurrentRound(cloud, warmNetwork, opts.concurrent, opts.batches);
        cells.cold.push(cold);
        cells.warm.push(warm);
        cells.concurrent.push(concurrent);
        progress(
          `round ${round}/${opts.rounds}: cold p50 ${fmt(cold.p50, 1)} p99 ${fmt(cold.p99, 1)} ms; warm p50 ${fmt(warm.p50, 1)} p99 ${fmt(warm.p99, 1)} ms; ` +
            `${opts.concurrent} at once p50 ${fmt(concurrent.p50, 1)} p99 ${fmt(concurrent.p99, 1)} ms, batch ${fmt(concurrent.batchWallMs, 0)} ms`,
        );
      }
      if (opts.cpuProf) {
        // The profiles are written when the processes exit.
        for (const server of [cloud.compute, cloud.local, cloud.central]) await server.stop();
        profileText = profiles(cloud);
      }
    });

    const warmP50 = median(cells.warm.map((r) => r.p50));
    const coldP50 = median(cells.cold.map((r) => r.p50));
    process.stdout.write(
      [
        '',
        `Boot latency, compute -> local Neutron (${REGION}) -> central Neutron, each its own tricircle process on loopback, ` +
          `embedded SQLite (${opts.sharedRegionDb ? 'local Neutron and compute sharing one file' : 'a file each'}), noauth; ` +
          `medians of ${opts.rounds} round(s); CPU ms per boot from /proc (machine: all processes, the bench included)`,
        resultTable(cells, opts),
        '',
        `TARGET ${warmP50 < TARGET.warmP50Ms ? 'PASS' : 'FAIL'}: warm p50 ${fmt(warmP50, 1)} ms (target < ${TARGET.warmP50Ms} ms)`,
        `TARGET ${coldP50 < TARGET.coldP50Ms ? 'PASS' : 'FAIL'}: cold p50 ${fmt(coldP50, 1)} ms (target < ${TARGET.coldP50Ms} ms)`,
        '',
      ].join('\n'),
    );
    for (const p of profileText) process.stdout.write(`\nCPU profile, ${p}\n`);
    mkdirSync(opts.out, { recursive: true });
    const file = join(opts.out, 'boot.json');
    const rounds = Object.fromEntries(Object.entries(cells).map(([k, v]) => [k, v.map(({ sorted: _, ...r }) => r)]));
    writeFileSync(file, `${JSON.stringify({ suite: 'boot', date: new Date().toISOString(), machine: machineSummary(), settings: opts, rounds }, null, 2)}\n`);
    process.stdout.write(`\nJSON: ${file}\n`);
  },
);
