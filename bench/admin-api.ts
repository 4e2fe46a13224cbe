import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { withCleanup } from './lib/cleanup.js';
import { formatProfile, summarizeProfile } from './lib/cpuprofile.js';
import { DEFAULT_PG_ADMIN_URL, ENGINES, freshDatabase, onEachEngine, type EngineName } from './lib/databases.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { machineBusySeconds, machineSummary } from './lib/machine.js';
import { seedRoutings, type SeededRoutings } from './lib/seed.js';
import { scrapeRouteTiming, startServer, type ServerProcess } from './lib/server.js';
import { fmt, median, table } from './lib/stats.js';
import { UsageError, listFlag, numberFlag, suiteRunner } from './lib/usage.js';

// The Admin API's read paths under load: routings list (first page, deep marker page, filtered)
// and show, on each database engine, at 1 and 16 concurrent clients, against a real
// `tricircle admin-api` process. Figures are medians over rounds; rounds interleave the
// scenarios so that drift on this noisy 2-core machine touches them all alike.

export const about = 'Admin API routings: list (first page, deep marker, filter) and show; req/s, p50/p99';

const USAGE = `usage: npm run bench -- admin-api [flags]

  --engines LIST       sqlite,postgres (default: both; postgres is skipped if unreachable
                       unless named explicitly)
  --duration S         measured seconds per run (default 5)
  --warmup S           warm-up seconds before each run (default 1)
  --rounds N           runs per scenario and concurrency; medians are reported (default 3)
  --concurrency LIST   concurrent clients (default 1,16)
  --scenarios LIST     ${'first-page,deep-marker,filter,show'} (default: all)
  --routings N         routings to seed (default 10000)
  --pods N             region pods to seed (default 100)
  --log-level L        the server's log_level (default warn)
  --pg-url URL         PostgreSQL maintenance database (default ${DEFAULT_PG_ADMIN_URL})
  --out DIR            where the JSON results go (default ${join(tmpdir(), 'tricircle-bench')})
  --cpu-prof           run the server under node --cpu-prof and print where its time went
`;

interface Context {
  seeded: SeededRoutings;
  deepMarker: number;
}

interface Scenario {
  name: string;
  label: string;
  /** The server route (for its own timing from /metrics). */
  route: string;
  path(ctx: Context): string | ((sequence: number) => string);
  /** What is wrong with one answer, or undefined when it is right. */
  check(body: any, ctx: Context): string | undefined;
}

const LIST = '/v1.0/routings';
const FULL_PAGE = (body: any) =>
  Array.isArray(body?.routings) && body.routings.length === 100 ? undefined : `expected 100 routings, got ${body?.routings?.length}`;

const SCENARIOS: Scenario[] = [
  {
    name: 'first-page',
    label: 'list, first page (limit=100)',
    route: LIST,
    path: () => `${LIST}?limit=100`,
    check: (body) => FULL_PAGE(body) ?? (body.routings_links ? undefined : 'no routings_links on a first page'),
  },
  {
    name: 'deep-marker',
    label: 'list, deep marker (limit=100)',
    route: LIST,
    path: (ctx) => `${LIST}?limit=100&marker=${ctx.deepMarker}`,
    check: (body, ctx) => FULL_PAGE(body) ?? (body.routings.every((r: any) => r.id < ctx.deepMarker) ? undefined : 'ids not below the marker'),
  },
  {
    name: 'filter',
    label: 'list, resource_type=port (limit=100)',
    route: LIST,
    path: () => `${LIST}?resource_type=port&limit=100`,
    check: (body) => FULL_PAGE(body) ?? (body.routings.every((r: any) => r.resource_type === 'port') ? undefined : 'a non-port routing'),
  },
  {
    name: 'show',
    label: 'show by id (ids cycled)',
    route: `${LIST}/:id`,
    path: (ctx) => {
      // Every id, in a shuffled order, so that shows do not all hit the same rows.
      const ids = [...ctx.seeded.ids];
      for (let i = ids.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [ids[i], ids[j]] = [ids[j]!, ids[i]!];
      }
      return (sequence) => `${LIST}/${ids[sequence % ids.length]}`;
    },
    check: (body, ctx) => (typeof body?.routing?.id === 'number' && ctx.seeded.ids.includes(body.routing.id) ? undefined : 'no routing in the answer'),
  },
];

/** The figure the issue sets: first-page list on SQLite, at the concurrency that loads the server. */
/** Above this much CPU used by other processes (% of one core), a verdict is flagged as noisy. */
const NOISY_OTHER_CPU_PERCENT = 25;

const TARGET = { engine: 'sqlite', scenario: 'first-page', concurrency: 16, minRps: 2000, maxP99Ms: 20 };

interface RunRecord extends LoadResult {
  /** Mean time per request as the server's own metrics measured it (onRequest to response sent). */
  serverMeanMs: number;
  serverCpuPercent: number | undefined;
  /** Server CPU time per request served in the window (µs): steadier than req/s on a busy machine. */
  serverCpuMicrosPerRequest: number;
  /** CPU used by everything else on the machine (% of one core): noise when it is high. */
  otherCpuPercent: number | undefined;
}

interface Cell {
  scenario: string;
  label: string;
  path: string;
  concurrency: number;
  runs: RunRecord[];
  median: {
    requestsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    serverMeanMs: number;
    serverCpuPercent: number;
    serverCpuMicrosPerRequest: number;
    clientCpuPercent: number;
    otherCpuPercent: number;
  };
  errors: number;
  minRps: number;
  maxRps: number;
  target?: { verdict: 'PASS' | 'MISS'; minRps: number; maxP99Ms: number };
}

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      engines: { type: 'string' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '1,16' },
      scenarios: { type: 'string' },
      routings: { type: 'string', default: '10000' },
      pods: { type: 'string', default: '100' },
      'log-level': { type: 'string', default: 'warn' },
      'pg-url': { type: 'string', default: DEFAULT_PG_ADMIN_URL },
      out: { type: 'string', default: join(tmpdir(), 'tricircle-bench') },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const engines = listFlag(values.engines ?? ENGINES.join(','));
  for (const e of engines) if (!(ENGINES as readonly string[]).includes(e)) throw new UsageError(`unknown engine '${e}' (${ENGINES.join(', ')})`);
  const scenarios = values.scenarios ? listFlag(values.scenarios) : SCENARIOS.map((s) => s.name);
  for (const s of scenarios)
    if (!SCENARIOS.some((x) => x.name === s)) throw new UsageError(`unknown scenario '${s}' (${SCENARIOS.map((x) => x.name).join(', ')})`);
  const routings = numberFlag('routings', values.routings, 1000);
  return {
    help: values.help,
    engines: engines as EngineName[],
    enginesExplicit: values.engines !== undefined,
    durationMs: numberFlag('duration', values.duration, 0.1) * 1000,
    warmupMs: numberFlag('warmup', values.warmup, 0) * 1000,
    rounds: Math.floor(numberFlag('rounds', values.rounds, 1)),
    concurrency: listFlag(values.concurrency).map((c) => Math.floor(numberFlag('concurrency', c, 1))),
    scenarios: SCENARIOS.filter((s) => scenarios.includes(s.name)),
    routings,
    pods: Math.floor(numberFlag('pods', values.pods, 1)),
    logLevel: values['log-level'],
    pgUrl: values['pg-url'],
    out: values.out,
    cpuProf: values['cpu-prof'],
  };
}

type Options = ReturnType<typeof options>;

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** One request per scenario, checked, so that we never measure a stream of 400s. */
async function sanityCheck(server: ServerProcess, scenarios: Scenario[], ctx: Context): Promise<void> {
  for (const scenario of scenarios) {
    const path = scenario.path(ctx);
    const url = `${server.url}${typeof path === 'string' ? path : path(0)}`;
    const response = await fetch(url);
    const body = (await response.json()) as unknown;
    const problem = response.status !== 200 ? `status ${response.status}: ${JSON.stringify(body)}` : scenario.check(body, ctx);
    if (problem) throw new Error(`sanity check of ${scenario.name} (GET ${url}) failed: ${problem}`);
  }
}

async function measure(server: ServerProcess, scenario: Scenario, ctx: Context, concurrency: number, opts: Options): Promise<RunRecord> {
  let before: { count: number; sumSeconds: number } | undefined;
  let cpuBefore: number | undefined;
  let machineBefore: number | undefined;
  let wallBefore = 0;
  const result = await runLoad({
    baseUrl: server.url,
    path: scenario.path(ctx),
    concurrency,
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs,
    onWindowStart: async () => {
      cpuBefore = server.cpuSeconds();
      machineBefore = machineBusySeconds();
      wallBefore = performance.now();
      before = await scrapeRouteTiming(server.url, scenario.route);
    },
  });
  const cpuAfter = server.cpuSeconds();
  const machineAfter = machineBusySeconds();
  const wall = (performance.now() - wallBefore) / 1000;
  const after = await scrapeRouteTiming(server.url, scenario.route);
  const served = after.count - (before?.count ?? 0);
  const serverCpuPercent = cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) / wall) * 100 : undefined;
  const machineCpuPercent = machineBefore !== undefined && machineAfter !== undefined ? ((machineAfter - machineBefore) / wall) * 100 : undefined;
  return {
    ...result,
    serverMeanMs: served > 0 ? ((after.sumSeconds - (before?.sumSeconds ?? 0)) / served) * 1000 : NaN,
    serverCpuPercent,
    serverCpuMicrosPerRequest: cpuBefore !== undefined && cpuAfter !== undefined && served > 0 ? ((cpuAfter - cpuBefore) / served) * 1e6 : NaN,
    otherCpuPercent:
      serverCpuPercent !== undefined && machineCpuPercent !== undefined
        ? Math.max(0, machineCpuPercent - serverCpuPercent - result.clientCpuPercent)
        : undefined,
  };
}

function summarize(scenario: Scenario, path: string, concurrency: number, runs: RunRecord[], engine: string): Cell {
  const rps = runs.map((r) => r.requestsPerSecond);
  const cell: Cell = {
    scenario: scenario.name,
    label: scenario.label,
    path,
    concurrency,
    runs,
    median: {
      requestsPerSecond: median(rps),
      p50Ms: median(runs.map((r) => r.latencyMs.p50)),
      p99Ms: median(runs.map((r) => r.latencyMs.p99)),
      serverMeanMs: median(runs.map((r) => r.serverMeanMs)),
      serverCpuPercent: median(runs.map((r) => r.serverCpuPercent ?? NaN)),
      serverCpuMicrosPerRequest: median(runs.map((r) => r.serverCpuMicrosPerRequest)),
      clientCpuPercent: median(runs.map((r) => r.clientCpuPercent)),
      otherCpuPercent: median(runs.map((r) => r.otherCpuPercent ?? NaN)),
    },
    errors: runs.reduce((n, r) => n + r.errors, 0),
    minRps: Math.min(...rps),
    maxRps: Math.max(...rps),
  };
  if (engine === TARGET.engine && scenario.name === TARGET.scenario && concurrency === TARGET.concurrency) {
    const pass = cell.median.requestsPerSecond >= TARGET.minRps && cell.median.p99Ms < TARGET.maxP99Ms && cell.errors === 0;
    cell.target = { verdict: pass ? 'PASS' : 'MISS', minRps: TARGET.minRps, maxP99Ms: TARGET.maxP99Ms };
  }
  return cell;
}

function report(engine: EngineName, cells: Cell[], seeded: SeededRoutings, opts: Options): string {
  const rows = cells.map((c) => [
    c.label,
    String(c.concurrency),
    fmt(c.median.requestsPerSecond),
    c.runs.length > 1 ? `${fmt(c.minRps)}-${fmt(c.maxRps)}` : '',
    fmt(c.median.p50Ms, 2),
    fmt(c.median.p99Ms, 2),
    fmt(c.errors),
    fmt(c.median.serverMeanMs, 2),
    fmt(c.median.serverCpuPercent),
    fmt(c.median.serverCpuMicrosPerRequest),
    fmt(c.median.clientCpuPercent),
    fmt(c.median.otherCpuPercent),
    c.target ? `${c.target.verdict} (target >= ${fmt(c.target.minRps)} req/s, p99 < ${c.target.maxP99Ms} ms)` : '',
  ]);
  const heading =
    `Admin API on ${engine}: ${fmt(seeded.ids.length)} routings across ${fmt(seeded.podIds.length)} pods; ` +
    `medians of ${opts.rounds} run(s) of ${opts.durationMs / 1000} s after ${opts.warmupMs / 1000} s warm-up`;
  const legend = [
    'req/s, p50, p99: medians over the runs (range: slowest-fastest run); latency as the client sees it',
    'srv ms: mean time inside the server per request (Fastify onRequest to response sent, from its /metrics)',
    'srv cpu%, srv cpu us/req: server process CPU (% of one core; per request served), steadier than req/s on a busy machine',
    `load cpu%: this load generator; other cpu%: everything else on the machine${engine === 'postgres' ? ', PostgreSQL included' : ''} (high = noisy row)`,
  ].join('\n');
  return [
    heading,
    '',
    table(
      [
        { header: 'scenario', align: 'left' },
        { header: 'clients' },
        { header: 'req/s' },
        { header: 'range' },
        { header: 'p50 ms' },
        { header: 'p99 ms' },
        { header: 'errors' },
        { header: 'srv ms' },
        { header: 'srv cpu%' },
        { header: 'srv cpu us/req' },
        { header: 'load cpu%' },
        { header: 'other cpu%' },
        { header: 'target', align: 'left' },
      ],
      rows,
    ),
    '',
    legend,
  ].join('\n');
}

async function benchEngine(engine: EngineName, opts: Options): Promise<void> {
  await withCleanup(async (cleanup) => {
    const workDir = mkdtempSync(join(tmpdir(), `tricircle-bench-${engine}-`));
    cleanup.add(`remove ${workDir}`, () => rmSync(workDir, { recursive: true, force: true }));
    const connection = await freshDatabase(engine, workDir, cleanup, opts.pgUrl);

    progress(`[${engine}] seeding ${fmt(opts.routings)} routings across ${opts.pods} pods`);
    const seeded = await seedRoutings({ connection, pods: opts.pods, routings: opts.routings });
    progress(
      `[${engine}] seeded in ${fmt(seeded.seconds, 2)} s (${Object.entries(seeded.byType)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ')})`,
    );
    // "The 9000th newest" of 10,000: a marker near the old end, so the page sits deep in the index.
    const deepIndex = seeded.ids.length - Math.floor(seeded.ids.length * 0.9);
    const ctx: Context = { seeded, deepMarker: seeded.ids[deepIndex]! };

    const profileDir = join(opts.out, `admin-api-${engine}-profile`);
    if (opts.cpuProf) {
      rmSync(profileDir, { recursive: true, force: true });
      mkdirSync(profileDir, { recursive: true });
    }
    const server = await startServer(
      {
        args: ['admin-api'],
        env: {
          TRICIRCLE_DEFAULT__AUTH_STRATEGY: 'noauth',
          TRICIRCLE_DEFAULT__LOG_LEVEL: opts.logLevel,
          TRICIRCLE_DEFAULT__STATE_PATH: workDir,
          TRICIRCLE_DATABASE__CONNECTION: connection,
        },
        logFile: join(workDir, 'server.log'),
        nodeFlags: opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
      },
      cleanup,
    );
    progress(`[${engine}] server pid ${server.pid} at ${server.url}`);
    await sanityCheck(server, opts.scenarios, ctx);

    const runs = new Map<string, RunRecord[]>();
    const key = (s: Scenario, c: number) => `${s.name}@${c}`;
    for (let round = 1; round <= opts.rounds; round++) {
      for (const scenario of opts.scenarios) {
        for (const concurrency of opts.concurrency) {
          const record = await measure(server, scenario, ctx, concurrency, opts);
          runs.set(key(scenario, concurrency), [...(runs.get(key(scenario, concurrency)) ?? []), record]);
          progress(
            `[${engine}] round ${round}/${opts.rounds} ${scenario.name.padEnd(11)} c=${String(concurrency).padEnd(3)} ` +
              `${fmt(record.requestsPerSecond).padStart(6)} req/s  p50 ${fmt(record.latencyMs.p50, 2)} ms  p99 ${fmt(record.latencyMs.p99, 2)} ms` +
              (record.errors ? `  errors ${record.errors} ${JSON.stringify(record.statuses)}` : ''),
          );
        }
      }
    }
    await server.stop();

    const cells = opts.scenarios.flatMap((scenario) =>
      opts.concurrency.map((concurrency) => {
        const path = scenario.path(ctx);
        return summarize(scenario, typeof path === 'string' ? path : `${LIST}/<id>`, concurrency, runs.get(key(scenario, concurrency))!, engine);
      }),
    );
    process.stdout.write(`\n${report(engine, cells, seeded, opts)}\n`);
    const target = cells.find((c) => c.target);
    if (target) {
      const others = cells.filter((c) => c.scenario === target.scenario && c !== target);
      process.stdout.write(
        `\nTARGET ${target.target!.verdict}: ${engine} ${target.label} at ${target.concurrency} clients: ` +
          `${fmt(target.median.requestsPerSecond)} req/s (need >= ${fmt(TARGET.minRps)}), p99 ${fmt(target.median.p99Ms, 2)} ms (need < ${TARGET.maxP99Ms})` +
          others.map((c) => `; at ${c.concurrency} client(s): ${fmt(c.median.requestsPerSecond)} req/s, p99 ${fmt(c.median.p99Ms, 2)} ms`).join('') +
          (target.median.otherCpuPercent > NOISY_OTHER_CPU_PERCENT
            ? `\n  (noisy: other processes used ${fmt(target.median.otherCpuPercent)}% of a core during these runs; rerun on a quiet machine)`
            : '') +
          '\n',
      );
    }

    mkdirSync(opts.out, { recursive: true });
    const file = join(opts.out, `admin-api-${engine}.json`);
    const json = {
      suite: 'admin-api',
      engine,
      date: new Date().toISOString(),
      machine: machineSummary(),
      settings: {
        routings: seeded.ids.length,
        pods: seeded.podIds.length,
        routingsByType: seeded.byType,
        deepMarker: ctx.deepMarker,
        durationSeconds: opts.durationMs / 1000,
        warmupSeconds: opts.warmupMs / 1000,
        rounds: opts.rounds,
        serverLogLevel: opts.logLevel,
        cpuProfile: opts.cpuProf,
      },
      seedSeconds: seeded.seconds,
      results: cells,
    };
    writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
    process.stdout.write(`\nJSON: ${file}\n`);

    if (opts.cpuProf) {
      const profile = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (!profile) throw new Error(`the server wrote no .cpuprofile in ${profileDir}`);
      process.stdout.write(`\nServer CPU profile (${join(profileDir, profile)}):\n${formatProfile(summarizeProfile(join(profileDir, profile)))}\n`);
    }
  });
}

export const run = suiteRunner(
  'admin-api',
  USAGE,
  options,
  (opts) => `engines ${opts.engines.join(', ')}; clients ${opts.concurrency.join(', ')}; ${opts.rounds} round(s) x ${opts.durationMs / 1000} s`,
  async (opts) => {
    await onEachEngine(opts, (engine) => benchEngine(engine, opts));
  },
);
