import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import { sql } from 'kysely';
import { destination, pino } from 'pino';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config/index.js';
import { migrateToLatest, openDb, parseConnection, type Db } from '../src/db/index.js';
import { JobRepository } from '../src/tricircle/index.js';
import { RabbitWaker, amqpUrls, startXJob } from '../src/xjob/index.js';
import { withCleanup, type Cleanup } from './lib/cleanup.js';
import { formatProfile, summarizeProfile } from './lib/cpuprofile.js';
import { DEFAULT_PG_ADMIN_URL, freshDatabase, postgresProblem, postgresSettings, type EngineName } from './lib/databases.js';
import { machineBusySeconds, machineSummary } from './lib/machine.js';
import { procCpuSeconds, runTricircle, startServer, type ServerProcess } from './lib/server.js';
import { fmt, median, percentile, table } from './lib/stats.js';
import { UsageError, integerFlag, listFlag, numberFlag, suiteRunner } from './lib/usage.js';
import { BENCH_JOB_TYPE, STARTS_PORT_ENV, onHandlerStart, parseStart, wallClockMs } from './lib/xjob-handlers.js';

// The job engine's two figures that matter: how soon a registered job starts (commit of the
// registration to the handler's first line), in process and through RabbitMQ; and how many
// no-op jobs 1 and 2 `tricircle xjob` processes get through on PostgreSQL.
//
// Latency: jobs registered one at a time, each on its own resource, the next one only after the
// previous handler started and a short gap, so the figure is the wake-up path and not a queue.
// The commit time is taken when JobRepository.transaction() resolves (the commit has been
// acknowledged and the wake-up sent); the handler start is taken at its first line. Both are
// wall-clock milliseconds (performance.timeOrigin + performance.now()), comparable between
// processes on this machine.
//
// Throughput: the xjob processes start on an empty database and go idle; then a backlog is
// committed in one transaction and they drain it, finding it by polling (no wake-ups). The rate
// is jobs over the span from the first run's start to the last run's end, from the processes'
// own `job run` log lines (log_level info, as deployed); the drain time (commit to the last job
// in async_job_logs, including up to one worker_sleep_time before the first poll) is shown too.
//
// Steady state: the processes run while the bench registers jobs at a fixed rate, each woken
// through RabbitMQ as in production: whether they keep up, and the latency under that load.

export const about = 'XJob engine: wake-up latency (in process, through RabbitMQ), no-op throughput of 1 and 2 tricircle xjob processes, steady state';

const HANDLERS_MODULE = fileURLToPath(new URL('./lib/xjob-handlers.ts', import.meta.url));
const DEFAULT_RABBIT_URL = 'rabbit://guest:guest@127.0.0.1:5672/';
const PROJECT = 'bench';

const USAGE = `usage: npm run bench -- xjob [flags]

What to run:
  --scenarios LIST     latency,throughput,steady (default: all)
  --latency-modes LIST sqlite,postgres,rabbit: in process on SQLite / on PostgreSQL, and one
                       tricircle xjob process woken through RabbitMQ (default: all; those whose
                       server is unreachable are skipped unless named explicitly)
  --rounds N           repetitions of every measurement; medians are reported (default 3)

Latency:
  --jobs N             measured registrations per round, each on its own resource (default 500)
  --warmup N           registrations before those, not measured (default 20)
  --gap MS             pause after each handler start before the next registration (default 10)

Throughput (PostgreSQL, a fresh database per run, tricircle db sync):
  --backlog N          jobs committed at once for the processes to drain (default 20000)
  --per-resource LIST  jobs per resource; a run consumes every NEW job of its resource, so
                       1 means one run per job (default 1,10)
  --processes LIST     tricircle xjob processes (default 1,2)
  --workers N          [xjob] workers of each process (default 16)
  --pool N             [database] max_pool_size of each process (default 16)
  --sleep S            [xjob] worker_sleep_time, the poll interval (default 1)
  --no-analyze         leave async_jobs without statistics for the backlog (by default it is
                       ANALYZEd in the backlog's transaction, as autovacuum would soon do)
  --cpu-prof           run the xjob processes under node --cpu-prof (first round only) and
                       print where their time went

Steady state (PostgreSQL, RabbitMQ wake-ups, --processes, --workers, --pool, --sleep as above):
  --steady-rate N      jobs registered per second, each in its own transaction on its own
                       resource (default 300)
  --steady-duration S  seconds of registering (default 10)
  --registrars N       registrations under way at once at most (default 8)

  --log-level L        log_level of the workers (default info: one line per run, as deployed)
  --pg-url URL         PostgreSQL maintenance database (default ${DEFAULT_PG_ADMIN_URL})
  --rabbit-url URL     transport_url of the broker (default ${DEFAULT_RABBIT_URL})
  --out DIR            where the JSON results go (default ${join(tmpdir(), 'tricircle-bench')})

Examples:
  npm run bench -- xjob                                      everything (~5 min on a quiet machine)
  npm run bench -- xjob --scenarios latency --rounds 1 --jobs 100
  npm run bench -- xjob --scenarios throughput --backlog 5000 --processes 2 --workers 8 --pool 8
`;

const SCENARIO_NAMES = ['latency', 'throughput', 'steady'] as const;
const LATENCY_MODES = ['sqlite', 'postgres', 'rabbit'] as const;
type LatencyMode = (typeof LATENCY_MODES)[number];

const TARGET = { inProcessP50Ms: 20, rabbitP50Ms: 50, jobsPerSecond: 1000, processes: 2 };

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenarios: { type: 'string' },
      'latency-modes': { type: 'string' },
      rounds: { type: 'string', default: '3' },
      jobs: { type: 'string', default: '500' },
      warmup: { type: 'string', default: '20' },
      gap: { type: 'string', default: '10' },
      backlog: { type: 'string', default: '20000' },
      'per-resource': { type: 'string', default: '1,10' },
      processes: { type: 'string', default: '1,2' },
      workers: { type: 'string', default: '16' },
      pool: { type: 'string', default: '16' },
      sleep: { type: 'string', default: '1' },
      'steady-rate': { type: 'string', default: '300' },
      'steady-duration': { type: 'string', default: '10' },
      registrars: { type: 'string', default: '8' },
      'no-analyze': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'info' },
      'pg-url': { type: 'string', default: DEFAULT_PG_ADMIN_URL },
      'rabbit-url': { type: 'string', default: DEFAULT_RABBIT_URL },
      out: { type: 'string', default: join(tmpdir(), 'tricircle-bench') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const choose = <T extends string>(flag: string, text: string | undefined, all: readonly T[]): T[] => {
    const chosen = listFlag(text ?? all.join(','));
    for (const c of chosen) if (!(all as readonly string[]).includes(c)) throw new UsageError(`unknown --${flag} value '${c}' (${all.join(', ')})`);
    return all.filter((a) => chosen.includes(a));
  };
  return {
    help: values.help,
    scenarios: choose('scenarios', values.scenarios, SCENARIO_NAMES),
    latencyModes: choose('latency-modes', values['latency-modes'], LATENCY_MODES),
    latencyModesExplicit: values['latency-modes'] !== undefined,
    rounds: integerFlag('rounds', values.rounds, 1),
    jobs: integerFlag('jobs', values.jobs, 1),
    warmup: integerFlag('warmup', values.warmup, 0),
    gapMs: numberFlag('gap', values.gap, 0),
    backlog: integerFlag('backlog', values.backlog, 1),
    perResource: listFlag(values['per-resource']).map((v) => integerFlag('per-resource', v, 1)),
    processes: listFlag(values.processes).map((v) => integerFlag('processes', v, 1)),
    workers: integerFlag('workers', values.workers, 1),
    pool: integerFlag('pool', values.pool, 1),
    sleep: numberFlag('sleep', values.sleep, 0.01),
    steadyRate: numberFlag('steady-rate', values['steady-rate'], 1),
    steadyDuration: numberFlag('steady-duration', values['steady-duration'], 1),
    registrars: integerFlag('registrars', values.registrars, 1),
    analyze: !values['no-analyze'],
    cpuProf: values['cpu-prof'],
    logLevel: values['log-level'],
    pgUrl: values['pg-url'],
    rabbitUrl: values['rabbit-url'],
    out: values.out,
  };
}

type Options = ReturnType<typeof options>;

const progress = (line: string) => process.stderr.write(`${line}\n`);

function workDirFor(name: string, cleanup: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), `tricircle-bench-xjob-${name}-`));
  cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh PostgreSQL database brought up to date by the real `tricircle db sync`. */
async function syncedPostgres(workDir: string, cleanup: Cleanup, opts: Options): Promise<string> {
  const connection = await freshDatabase('postgres', workDir, cleanup, opts.pgUrl);
  await runTricircle(['db', 'sync'], { TRICIRCLE_DATABASE__CONNECTION: connection });
  return connection;
}

/** The bench's own connection to a database (registrations, counting), closed by `cleanup`. */
function benchDb(connection: string, workDir: string, cleanup: Cleanup, poolSize: number): Db {
  const db = openDb(parseConnection(connection, workDir), poolSize);
  cleanup.add('close the bench database connection', () => db.close());
  return db;
}

/** An INI file for `tricircle xjob --config-file`: the benchmark's handler module, and the given options. */
function writeXJobConfig(workDir: string, name: string, sections: Record<string, Record<string, string | number>>): string {
  const file = join(workDir, `${name}.conf`);
  const text = Object.entries(sections)
    .map(([section, values]) => [`[${section}]`, ...Object.entries(values).map(([k, v]) => `${k} = ${v}`)].join('\n'))
    .join('\n\n');
  writeFileSync(file, `${text}\n`);
  return file;
}

/** Starts one xjob process on `configFile`, logging to `<name>.log`, and waits until its /healthz answers. */
async function startWorker(name: string, configFile: string, workDir: string, cleanup: Cleanup, env: Record<string, string>, nodeFlags: string[] = []) {
  const logFile = join(workDir, `${name}.log`);
  const server = await startServer(
    { args: ['xjob', '--config-file', configFile], env, bindSection: 'XJOB', readyPath: '/healthz', logFile, nodeFlags, startTimeoutMs: 60_000 },
    cleanup,
  );
  return { server, logFile };
}

// ---------------------------------------------------------------------------------------------
// Latency

/** Handler starts the bench is waiting for, by resource id. */
class StartWaiter {
  private readonly waiting = new Map<string, (wallMs: number) => void>();
  /** Every start seen, waited for or not. */
  readonly seen = new Map<string, number>();

  expect(resourceId: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(resourceId);
        reject(new Error(`the handler for ${resourceId} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(resourceId, (wallMs) => {
        clearTimeout(timer);
        this.waiting.delete(resourceId);
        resolve(wallMs);
      });
    });
  }

  started(resourceId: string, wallMs: number): void {
    this.seen.set(resourceId, wallMs);
    this.waiting.get(resourceId)?.(wallMs);
  }
}

/** Registers one job on `resourceId` in its own transaction; answers when the commit was acknowledged. */
async function registerOne(jobs: JobRepository, resourceId: string): Promise<number> {
  await jobs.transaction((tx) => jobs.add(tx, { type: BENCH_JOB_TYPE, resourceId, projectId: PROJECT }));
  return wallClockMs();
}

/** `count` registrations one at a time: commit-to-handler-start milliseconds of each. */
async function latencySeries(jobs: JobRepository, starts: StartWaiter, prefix: string, count: number, gapMs: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const resourceId = `${prefix}-${i}`;
    const started = starts.expect(resourceId, 30_000);
    const committed = await registerOne(jobs, resourceId);
    latencies.push((await started) - committed);
    await sleep(gapMs);
  }
  return latencies;
}

/**
 * Registers probe jobs until one starts: the broker link of the bench's waker and the worker's
 * queue binding come up asynchronously, and a wake-up sent before both are up is lost (its job
 * then waits for the next poll, harmlessly).
 */
async function untilWakeUpsArrive(jobs: JobRepository, starts: StartWaiter, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    const resourceId = `probe-${attempt}`;
    const started = starts.expect(resourceId, 1000);
    await registerOne(jobs, resourceId);
    try {
      await started;
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`no wake-up reached the xjob process within ${deadlineMs / 1000} s: ${(err as Error).message}`);
    }
  }
}

interface LatencyRound {
  p50: number;
  p99: number;
  mean: number;
  max: number;
  /** Busy CPU of the whole machine during the series, % of one core. */
  machineCpuPercent: number;
}

function latencyRound(latencies: number[], machineCpuPercent: number): LatencyRound {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    max: sorted[sorted.length - 1]!,
    machineCpuPercent,
  };
}

/** Runs the warm-up and the measured series, with the machine's CPU around the latter. */
async function measuredSeries(jobs: JobRepository, starts: StartWaiter, label: string, round: number, opts: Options): Promise<LatencyRound> {
  await latencySeries(jobs, starts, `warmup-${round}`, opts.warmup, opts.gapMs);
  const busyBefore = machineBusySeconds();
  const t0 = performance.now();
  const latencies = await latencySeries(jobs, starts, `lat-${round}`, opts.jobs, opts.gapMs);
  const busyAfter = machineBusySeconds();
  const wall = (performance.now() - t0) / 1000;
  const result = latencyRound(latencies, busyBefore !== undefined && busyAfter !== undefined ? ((busyAfter - busyBefore) / wall) * 100 : NaN);
  progress(
    `[latency ${label}] round ${round}/${opts.rounds}: p50 ${fmt(result.p50, 2)} ms  p99 ${fmt(result.p99, 2)} ms  ` +
      `max ${fmt(result.max, 1)} ms  (machine CPU ${fmt(result.machineCpuPercent)}%)`,
  );
  return result;
}

/** Workers in the bench process (startXJob, as `tricircle up` runs them), woken directly by the JobRepository. */
async function inProcessLatency(engine: EngineName, round: number, opts: Options): Promise<LatencyRound> {
  return withCleanup(async (cleanup) => {
    const workDir = workDirFor(`latency-${engine}`, cleanup);
    const connection = await freshDatabase(engine, workDir, cleanup, opts.pgUrl);
    const { config } = loadConfig({
      env: {},
      overrides: {
        database: { connection, max_pool_size: String(opts.pool) },
        xjob: { workers: String(opts.workers), worker_sleep_time: '30', handler_modules: HANDLERS_MODULE },
      },
    });
    const db = benchDb(connection, workDir, cleanup, opts.pool);
    await migrateToLatest(db);
    const logger = pino({ level: opts.logLevel, base: { pid: process.pid } }, destination({ dest: join(workDir, 'xjob.log'), sync: true }));
    const service = await startXJob({ config, db, logger, registry: new Registry() });
    cleanup.add('stop the in-process workers', () => service.stop(10));
    const starts = new StartWaiter();
    onHandlerStart((resourceId, wallMs) => starts.started(resourceId, wallMs));
    cleanup.add('stop listening for handler starts', () => onHandlerStart(null));
    return measuredSeries(new JobRepository(db, service.engine), starts, `in process, ${engine}`, round, opts);
  });
}

/** Deletes the run's exchange and its xjob queue (durable: they would outlive the run). */
async function removeBrokerObjects(rabbitUrl: string, exchange: string): Promise<void> {
  const connection = await amqp.connect(amqpUrls(rabbitUrl)[0]!, { timeout: 5000 });
  try {
    const channel = await connection.createChannel();
    // The queue the xjob processes share is named after the exchange (src/xjob/rabbit.ts).
    await channel.deleteQueue(`${exchange}.xjob`);
    await channel.deleteExchange(exchange);
  } finally {
    await connection.close();
  }
}

/** Why the broker cannot be used, or undefined when it answers. */
async function rabbitProblem(rabbitUrl: string): Promise<string | undefined> {
  try {
    const connection = await amqp.connect(amqpUrls(rabbitUrl)[0]!, { timeout: 5000 });
    await connection.close();
    return undefined;
  } catch (err) {
    return `RabbitMQ at ${rabbitUrl.replace(/\/\/[^@]*@/, '//')} is not reachable: ${(err as Error).message}`;
  }
}

interface BrokerSetup {
  /** Registers with a RabbitWaker in the bench process: the wake-ups go through the broker. */
  jobs: JobRepository;
  /** Fed by the handlers' datagrams. */
  starts: StartWaiter;
  workers: Array<{ server: ServerProcess; logFile: string }>;
}

/**
 * `processes` real `tricircle xjob` processes on a fresh PostgreSQL database, consuming this
 * run's own exchange, each handler start reported to the bench; returns once a wake-up is
 * known to go through.
 */
async function brokerSetup(processes: number, workerSleepTime: number, workDir: string, cleanup: Cleanup, opts: Options): Promise<BrokerSetup> {
  const connection = await syncedPostgres(workDir, cleanup, opts);
  const exchange = `bench_xjob_${randomBytes(4).toString('hex')}`;
  cleanup.add(`delete exchange ${exchange}`, () => removeBrokerObjects(opts.rabbitUrl, exchange));

  const starts = new StartWaiter();
  const socket = createSocket('udp4');
  socket.on('message', (message) => {
    const start = parseStart(message);
    if (start) starts.started(start.resourceId, start.wallMs);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  cleanup.add('close the handler-start socket', () => new Promise<void>((resolve) => socket.close(() => resolve())));

  const configFile = writeXJobConfig(workDir, 'xjob', {
    DEFAULT: { transport_url: opts.rabbitUrl, control_exchange: exchange, log_level: opts.logLevel },
    database: { connection, max_pool_size: opts.pool },
    xjob: { workers: opts.workers, worker_sleep_time: workerSleepTime, handler_modules: HANDLERS_MODULE },
  });
  const workers = [];
  for (let i = 1; i <= processes; i++) {
    workers.push(await startWorker(`xjob-${i}`, configFile, workDir, cleanup, { [STARTS_PORT_ENV]: String(socket.address().port) }));
  }

  const db = benchDb(connection, workDir, cleanup, opts.registrars);
  const waker = new RabbitWaker(amqpUrls(opts.rabbitUrl), exchange, pino({ level: 'warn' }));
  cleanup.add('close the bench waker', () => waker.close());
  const jobs = new JobRepository(db, waker);
  await untilWakeUpsArrive(jobs, starts, 30_000);
  return { jobs, starts, workers };
}

/** One `tricircle xjob` process on PostgreSQL, woken through RabbitMQ by a RabbitWaker in the bench process. */
async function rabbitLatency(round: number, opts: Options): Promise<LatencyRound> {
  return withCleanup(async (cleanup) => {
    // A poll every 30 s cannot be what starts a job within the series' timings: the wake-up is.
    const { jobs, starts } = await brokerSetup(1, 30, workDirFor('latency-rabbit', cleanup), cleanup, opts);
    return measuredSeries(jobs, starts, 'RabbitMQ', round, opts);
  });
}

// ---------------------------------------------------------------------------------------------
// Steady state: registrations and runs at the same time, woken through RabbitMQ

interface SteadyRound {
  processes: number;
  /** Jobs registered per second, as achieved (the offered rate is --steady-rate). */
  registeredPerSecond: number;
  /** Handler starts per second, first to last. */
  startedPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  machineCpuPercent: number;
}

/**
 * `processes` xjob processes while the bench registers --steady-rate jobs a second (each in
 * its own transaction, on its own resource, --registrars at a time) for --steady-duration
 * seconds: whether they keep up, and the commit-to-start latency under that load.
 */
async function steadyRound(processes: number, round: number, opts: Options): Promise<SteadyRound> {
  return withCleanup(async (cleanup) => {
    const label = `${processes} process(es), ${opts.steadyRate}/s offered`;
    const { jobs, starts } = await brokerSetup(processes, opts.sleep, workDirFor('steady', cleanup), cleanup, opts);
    const total = Math.round(opts.steadyRate * opts.steadyDuration);
    const committed = new Map<string, number>();
    let next = 0;
    const busyBefore = machineBusySeconds();
    const t0 = performance.now();
    const registrar = async () => {
      while (next < total) {
        const i = next++;
        const due = t0 + (i * 1000) / opts.steadyRate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const resourceId = `steady-${i}`;
        committed.set(resourceId, await registerOne(jobs, resourceId));
      }
    };
    await Promise.all(Array.from({ length: opts.registrars }, registrar));
    const deadline = performance.now() + 120_000;
    const missing = () => [...committed.keys()].filter((id) => !starts.seen.has(id)).length;
    while (missing() > 0) {
      if (performance.now() > deadline) throw new Error(`${label}: ${missing()} of ${total} jobs not started 120 s after the last registration`);
      await sleep(50);
    }
    const wall = (performance.now() - t0) / 1000;
    const busyAfter = machineBusySeconds();
    const commits = [...committed.values()];
    const startTimes = [...committed.keys()].map((id) => starts.seen.get(id)!);
    const latencies = [...committed].map(([id, at]) => starts.seen.get(id)! - at).sort((a, b) => a - b);
    const span = (times: number[]) => (Math.max(...times) - Math.min(...times)) / 1000;
    const result: SteadyRound = {
      processes,
      registeredPerSecond: total / span(commits),
      startedPerSecond: total / span(startTimes),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1]!,
      machineCpuPercent: busyBefore !== undefined && busyAfter !== undefined ? ((busyAfter - busyBefore) / wall) * 100 : NaN,
    };
    progress(
      `[steady ${label}] round ${round}/${opts.rounds}: registered ${fmt(result.registeredPerSecond)}/s, started ${fmt(result.startedPerSecond)}/s, ` +
        `commit -> start p50 ${fmt(result.p50, 1)} ms  p99 ${fmt(result.p99, 1)} ms  max ${fmt(result.max)} ms (machine CPU ${fmt(result.machineCpuPercent)}%)`,
    );
    return result;
  });
}

// ---------------------------------------------------------------------------------------------
// Throughput

interface RunLine {
  time: number;
  ms: number;
  jobs: number;
  outcome: string;
}

/** The `job run` lines of an xjob process's JSON log. */
function runLines(logFile: string): RunLine[] {
  const lines: RunLine[] = [];
  for (const text of readFileSync(logFile, 'utf8').split('\n')) {
    if (!text.includes('"job run')) continue;
    const line = JSON.parse(text) as RunLine & { msg?: string };
    if (line.msg === 'job run') lines.push(line);
  }
  return lines;
}

interface ThroughputRound {
  processes: number;
  perResource: number;
  jobs: number;
  runs: number;
  /** First run's start to the last run's end, from the logs. */
  seconds: number;
  jobsPerSecond: number;
  runsPerSecond: number;
  /** Backlog commit to the last job in async_job_logs. */
  drainSeconds: number;
  /** Seconds to register the backlog (one transaction). */
  registerSeconds: number;
  /** CPU of all xjob processes together, % of one core, over the drain. */
  workersCpuPercent: number;
  /** The PostgreSQL backends serving the workers, % of one core, over the drain. */
  postgresCpuPercent: number;
  /** CPU of the workers and their backends per job (ms): steadier than the rate on a busy machine. */
  cpuMsPerJob: number;
  /** Everything else on the machine (other work besides this bench: noise), % of one core, over the drain. */
  otherCpuPercent: number;
  /** Database transactions per job (each autocommit statement is one), over the drain. */
  transactionsPerJob: number;
  /** Runs of each process. */
  runsByProcess: number[];
  profiles?: string[];
}

/** The database's committed and rolled back transactions so far (autocommit statements count one each). */
async function transactionsSoFar(db: Db): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`.execute(
    db.kysely,
  );
  return Number(rows[0]!.n);
}

/** CPU seconds so far of each PostgreSQL backend serving this database, but for the asking connection. */
async function backendCpu(db: Db): Promise<Map<number, number>> {
  const { rows } = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(
    db.kysely,
  );
  return new Map(rows.map((r) => [r.pid, procCpuSeconds(r.pid) ?? NaN]));
}

/** CPU the backends used between two snapshots (one that started since counts from zero; one that ended is lost). */
function backendCpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let seconds = 0;
  for (const [pid, cpu] of after) seconds += cpu - (before.get(pid) ?? 0);
  return seconds;
}

async function countLogged(db: Db): Promise<number> {
  const row = await db.kysely
    .selectFrom('async_job_logs')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function throughputRound(processes: number, perResource: number, round: number, opts: Options): Promise<ThroughputRound> {
  return withCleanup(async (cleanup) => {
    const label = `${processes} process(es), ${perResource} job(s)/resource`;
    const workDir = workDirFor('throughput', cleanup);
    const connection = await syncedPostgres(workDir, cleanup, opts);
    const configFile = writeXJobConfig(workDir, 'xjob', {
      DEFAULT: { log_level: opts.logLevel },
      database: { connection, max_pool_size: opts.pool },
      xjob: { workers: opts.workers, worker_sleep_time: opts.sleep, handler_modules: HANDLERS_MODULE },
    });
    const profiling = opts.cpuProf && round === 1;
    const profileDirs = Array.from({ length: processes }, (_, i) => join(workDir, `profile-${i + 1}`));
    const workers: Array<{ server: ServerProcess; logFile: string }> = [];
    for (const [i, dir] of profileDirs.entries()) {
      if (profiling) mkdirSync(dir);
      workers.push(await startWorker(`xjob-${i + 1}`, configFile, workDir, cleanup, {}, profiling ? ['--cpu-prof', '--cpu-prof-dir', dir] : []));
    }

    // No waker: the idle workers find the whole backlog by polling once it commits.
    // One connection, so that every other backend of the database is a worker's.
    const db = benchDb(connection, workDir, cleanup, 1);
    const jobs = new JobRepository(db);
    const resources = Math.ceil(opts.backlog / perResource);
    const r0 = performance.now();
    await jobs.transaction(async (tx) => {
      for (let i = 0; i < opts.backlog; i++) await jobs.add(tx, { type: BENCH_JOB_TYPE, resourceId: `tp-${i % resources}`, projectId: PROJECT });
      // Statistics that count the backlog, as autovacuum's analyze would soon give them (it is
      // off on this server): committed with it, so that no poll plans on an empty table's.
      if (opts.analyze) await sql`ANALYZE async_jobs`.execute(tx);
    });
    const committed = performance.now();
    const xactsBefore = await transactionsSoFar(db);
    const cpuBefore = workers.map((w) => w.server.cpuSeconds() ?? NaN);
    const pgBefore = await backendCpu(db);
    const benchBefore = process.cpuUsage();
    const machineBefore = machineBusySeconds();
    const deadline = committed + Math.max(120_000, opts.backlog * 10);
    let logged = 0;
    while ((logged = await countLogged(db)) < opts.backlog) {
      if (performance.now() > deadline) throw new Error(`${label}: only ${logged} of ${opts.backlog} jobs done after ${fmt((deadline - committed) / 1000)} s`);
      await sleep(50);
    }
    const drained = performance.now();
    const cpuAfter = workers.map((w) => w.server.cpuSeconds() ?? NaN);
    const machineAfter = machineBusySeconds();
    const bench = process.cpuUsage(benchBefore);
    const pgCpu = backendCpuBetween(pgBefore, await backendCpu(db));
    for (const w of workers) await w.server.stop();
    // A backend reports its counts when it exits: the workers' have now (the bench's own polls of the count are in too, a few per second).
    await sleep(200);
    const xacts = (await transactionsSoFar(db)) - xactsBefore;

    const byProcess = workers.map((w) => runLines(w.logFile));
    const all = byProcess.flat();
    const notOk = all.filter((l) => l.outcome !== 'success');
    if (notOk.length) throw new Error(`${label}: ${notOk.length} runs did not succeed, e.g. ${JSON.stringify(notOk[0])}`);
    const jobsRun = all.reduce((n, l) => n + l.jobs, 0);
    if (jobsRun !== opts.backlog) throw new Error(`${label}: the logs account for ${jobsRun} jobs, not ${opts.backlog} (is log_level info?)`);
    const first = Math.min(...all.map((l) => l.time - l.ms));
    const last = Math.max(...all.map((l) => l.time));
    const seconds = (last - first) / 1000;
    const drainSeconds = (drained - committed) / 1000;
    const workersCpu = cpuAfter.reduce((s, c, i) => s + c - cpuBefore[i]!, 0);
    const machineCpu = machineBefore !== undefined && machineAfter !== undefined ? machineAfter - machineBefore : NaN;
    const result: ThroughputRound = {
      processes,
      perResource,
      jobs: jobsRun,
      runs: all.length,
      seconds,
      jobsPerSecond: jobsRun / seconds,
      runsPerSecond: all.length / seconds,
      drainSeconds,
      registerSeconds: (committed - r0) / 1000,
      workersCpuPercent: (workersCpu / drainSeconds) * 100,
      postgresCpuPercent: (pgCpu / drainSeconds) * 100,
      cpuMsPerJob: ((workersCpu + pgCpu) / jobsRun) * 1000,
      otherCpuPercent: ((machineCpu - workersCpu - pgCpu - (bench.user + bench.system) / 1e6) / drainSeconds) * 100,
      transactionsPerJob: xacts / jobsRun,
      runsByProcess: byProcess.map((lines) => lines.length),
    };
    progress(
      `[throughput ${label}] round ${round}/${opts.rounds}: ${fmt(result.jobsPerSecond)} jobs/s, ${fmt(result.runsPerSecond)} runs/s ` +
        `(${fmt(result.runs)} runs in ${fmt(seconds, 2)} s; drain ${fmt(drainSeconds, 2)} s; runs per process ${result.runsByProcess.join('/')}; ${fmt(result.transactionsPerJob, 1)} DB transactions/job; ` +
        `${fmt(result.cpuMsPerJob, 2)} CPU ms/job; ` +
        `CPU: xjob ${fmt(result.workersCpuPercent)}%, PostgreSQL ${fmt(result.postgresCpuPercent)}%, other ${fmt(result.otherCpuPercent)}%)`,
    );
    if (profiling) {
      result.profiles = profileDirs.map((dir, i) => {
        // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader thread writes one too).
        const files = readdirSync(dir);
        const profile = files.find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) ?? files.find((f) => f.endsWith('.cpuprofile'));
        if (!profile) throw new Error(`xjob process ${i + 1} wrote no .cpuprofile in ${dir}`);
        return `xjob process ${i + 1} of ${processes}, ${perResource} job(s)/resource:\n${formatProfile(summarizeProfile(join(dir, profile)), 20)}`;
      });
    }
    return result;
  });
}

// ---------------------------------------------------------------------------------------------
// Report

interface LatencyCell {
  mode: LatencyMode;
  label: string;
  rounds: LatencyRound[];
  p50: number;
  p99: number;
  targetP50: number;
}

const LATENCY_LABELS: Record<LatencyMode, string> = {
  sqlite: 'in process, SQLite (direct wake-up)',
  postgres: 'in process, PostgreSQL (direct wake-up)',
  rabbit: '1 tricircle xjob, PostgreSQL, via RabbitMQ',
};

function latencyTable(cells: LatencyCell[]): string {
  return table(
    [
      { header: 'commit -> handler start', align: 'left' },
      { header: 'p50 ms' },
      { header: 'p99 ms' },
      { header: 'mean ms' },
      { header: 'max ms' },
      { header: 'p50 range' },
      { header: 'machine CPU' },
    ],
    cells.map((c) => [
      c.label,
      fmt(c.p50, 2),
      fmt(c.p99, 2),
      fmt(median(c.rounds.map((r) => r.mean)), 2),
      fmt(median(c.rounds.map((r) => r.max)), 1),
      `${fmt(Math.min(...c.rounds.map((r) => r.p50)), 2)}-${fmt(Math.max(...c.rounds.map((r) => r.p50)), 2)}`,
      `${fmt(median(c.rounds.map((r) => r.machineCpuPercent)))}%`,
    ]),
  );
}

interface ThroughputCell {
  processes: number;
  perResource: number;
  rounds: ThroughputRound[];
  jobsPerSecond: number;
  runsPerSecond: number;
}

function throughputTable(cells: ThroughputCell[]): string {
  const m = (c: ThroughputCell, f: (r: ThroughputRound) => number, d = 0) => fmt(median(c.rounds.map(f)), d);
  return table(
    [
      { header: 'xjob processes' },
      { header: 'jobs/resource' },
      { header: 'jobs' },
      { header: 'runs' },
      { header: 'jobs/s' },
      { header: 'runs/s' },
      { header: 'jobs/s range' },
      { header: 'drain s' },
      { header: 'DB xacts/job' },
      { header: 'CPU ms/job' },
      { header: 'xjob CPU' },
      { header: 'PG CPU' },
      { header: 'other CPU' },
    ],
    cells.map((c) => [
      String(c.processes),
      String(c.perResource),
      m(c, (r) => r.jobs),
      m(c, (r) => r.runs),
      fmt(c.jobsPerSecond),
      fmt(c.runsPerSecond),
      `${fmt(Math.min(...c.rounds.map((r) => r.jobsPerSecond)))}-${fmt(Math.max(...c.rounds.map((r) => r.jobsPerSecond)))}`,
      m(c, (r) => r.drainSeconds, 2),
      m(c, (r) => r.transactionsPerJob, 1),
      m(c, (r) => r.cpuMsPerJob, 2),
      `${m(c, (r) => r.workersCpuPercent)}%`,
      `${m(c, (r) => r.postgresCpuPercent)}%`,
      `${m(c, (r) => r.otherCpuPercent)}%`,
    ]),
  );
}

function steadyTable(cells: Array<{ processes: number; rounds: SteadyRound[] }>): string {
  const m = (c: { rounds: SteadyRound[] }, f: (r: SteadyRound) => number, d = 0) => fmt(median(c.rounds.map(f)), d);
  return table(
    [
      { header: 'xjob processes' },
      { header: 'registered/s' },
      { header: 'started/s' },
      { header: 'p50 ms' },
      { header: 'p99 ms' },
      { header: 'max ms' },
      { header: 'machine CPU' },
    ],
    cells.map((c) => [
      String(c.processes),
      m(c, (r) => r.registeredPerSecond),
      m(c, (r) => r.startedPerSecond),
      m(c, (r) => r.p50, 1),
      m(c, (r) => r.p99, 1),
      m(c, (r) => r.max),
      `${m(c, (r) => r.machineCpuPercent)}%`,
    ]),
  );
}

function writeJson(opts: Options, data: object): void {
  mkdirSync(opts.out, { recursive: true });
  const file = join(opts.out, 'xjob.json');
  writeFileSync(file, `${JSON.stringify({ suite: 'xjob', date: new Date().toISOString(), machine: machineSummary(), settings: opts, ...data }, null, 2)}\n`);
  process.stdout.write(`\nJSON: ${file}\n`);
}

export const run = suiteRunner(
  'xjob',
  USAGE,
  options,
  (opts) =>
    `${opts.rounds} round(s); latency: ${opts.jobs} registrations per round, ${opts.gapMs} ms gap; ` +
    `throughput: backlog ${fmt(opts.backlog)}, [xjob] workers ${opts.workers}, [database] max_pool_size ${opts.pool}, worker_sleep_time ${opts.sleep} s`,
  async (opts) => {
    const pgProblem = await postgresProblem(opts.pgUrl);
    const brokerProblem = opts.scenarios.includes('latency') && opts.latencyModes.includes('rabbit') ? await rabbitProblem(opts.rabbitUrl) : undefined;
    const skipped = new Map<LatencyMode, string>();
    if (pgProblem) for (const mode of ['postgres', 'rabbit'] as const) skipped.set(mode, pgProblem);
    if (brokerProblem) skipped.set('rabbit', brokerProblem);
    const notes: string[] = [];
    if (!pgProblem) {
      const pgs = await postgresSettings(opts.pgUrl);
      notes.push(
        `PostgreSQL ${pgs.server_version}: autovacuum ${pgs.autovacuum}, synchronous_commit ${pgs.synchronous_commit}, fsync ${pgs.fsync}, ` +
          `shared_buffers ${pgs.shared_buffers}, max_connections ${pgs.max_connections}`,
      );
    }

    const latencyCells: LatencyCell[] = [];
    if (opts.scenarios.includes('latency')) {
      const modes = opts.latencyModes.filter((mode) => {
        const problem = skipped.get(mode);
        if (!problem) return true;
        if (opts.latencyModesExplicit) throw new Error(problem);
        notes.push(`latency ${mode}: SKIPPED (${problem})`);
        return false;
      });
      const rounds = new Map<LatencyMode, LatencyRound[]>(modes.map((m) => [m, []]));
      // Rounds interleave the modes, so that drift on this shared machine touches them all alike.
      for (let round = 1; round <= opts.rounds; round++) {
        for (const mode of modes) {
          const result = mode === 'rabbit' ? await rabbitLatency(round, opts) : await inProcessLatency(mode, round, opts);
          rounds.get(mode)!.push(result);
        }
      }
      for (const mode of modes) {
        const r = rounds.get(mode)!;
        latencyCells.push({
          mode,
          label: LATENCY_LABELS[mode],
          rounds: r,
          p50: median(r.map((x) => x.p50)),
          p99: median(r.map((x) => x.p99)),
          targetP50: mode === 'rabbit' ? TARGET.rabbitP50Ms : TARGET.inProcessP50Ms,
        });
      }
    }

    const throughputCells: ThroughputCell[] = [];
    if (opts.scenarios.includes('throughput')) {
      if (pgProblem) throw new Error(`the throughput scenario needs PostgreSQL: ${pgProblem}`);
      const cells = opts.perResource.flatMap((perResource) => opts.processes.map((processes) => ({ processes, perResource, rounds: [] as ThroughputRound[] })));
      for (let round = 1; round <= opts.rounds; round++) {
        for (const cell of cells) cell.rounds.push(await throughputRound(cell.processes, cell.perResource, round, opts));
      }
      for (const cell of cells) {
        throughputCells.push({
          ...cell,
          jobsPerSecond: median(cell.rounds.map((r) => r.jobsPerSecond)),
          runsPerSecond: median(cell.rounds.map((r) => r.runsPerSecond)),
        });
      }
    }

    const steadyCells: Array<{ processes: number; rounds: SteadyRound[] }> = [];
    if (opts.scenarios.includes('steady')) {
      const problem = pgProblem ?? (await rabbitProblem(opts.rabbitUrl));
      if (problem) throw new Error(`the steady scenario needs PostgreSQL and RabbitMQ: ${problem}`);
      steadyCells.push(...opts.processes.map((processes) => ({ processes, rounds: [] as SteadyRound[] })));
      for (let round = 1; round <= opts.rounds; round++) {
        for (const cell of steadyCells) cell.rounds.push(await steadyRound(cell.processes, round, opts));
      }
    }

    const out: string[] = ['', ...notes];
    if (latencyCells.length) {
      out.push(
        '',
        `Wake-up latency: ${opts.jobs} jobs per round registered one at a time on distinct resources (${opts.gapMs} ms gap after each start), ` +
          `medians of ${opts.rounds} round(s); [xjob] workers ${opts.workers}, worker_sleep_time 30 s (so no poll starts a job)`,
        latencyTable(latencyCells),
      );
    }
    if (throughputCells.length) {
      out.push(
        '',
        `No-op throughput on PostgreSQL: a backlog of ${fmt(opts.backlog)} jobs committed at once, drained by polling; ` +
          `[xjob] workers ${opts.workers} and [database] max_pool_size ${opts.pool} per process, worker_sleep_time ${opts.sleep} s, log_level ${opts.logLevel}; ` +
          `medians of ${opts.rounds} round(s). jobs/s and runs/s: first run start to last run end (the processes' logs); ` +
          `drain: commit to the last job logged; CPU in % of one core over the drain (PG: the workers' backends; other: the rest of the machine, i.e. noise)`,
        throughputTable(throughputCells),
      );
    }
    if (steadyCells.length) {
      out.push(
        '',
        `Steady state through RabbitMQ on PostgreSQL: ${opts.steadyRate} jobs/s offered for ${opts.steadyDuration} s, each in its own transaction on its own resource ` +
          `(${opts.registrars} registrations at once at most, from the bench process); [xjob] workers ${opts.workers}, max_pool_size ${opts.pool}; medians of ${opts.rounds} round(s)`,
        steadyTable(steadyCells),
      );
    }
    process.stdout.write(`${out.join('\n')}\n\n`);
    for (const c of latencyCells) {
      const verdict = c.p50 < c.targetP50 ? 'PASS' : 'MISS';
      process.stdout.write(`TARGET ${verdict}: latency p50 ${c.label}: ${fmt(c.p50, 2)} ms (target < ${c.targetP50} ms)\n`);
    }
    for (const c of throughputCells.filter((t) => t.processes === TARGET.processes)) {
      const verdict = c.jobsPerSecond >= TARGET.jobsPerSecond ? 'PASS' : 'MISS';
      process.stdout.write(
        `TARGET ${verdict}: throughput, ${c.processes} processes, ${c.perResource} job(s)/resource: ${fmt(c.jobsPerSecond)} jobs/s (target >= ${fmt(TARGET.jobsPerSecond)})\n`,
      );
    }
    for (const c of throughputCells) for (const r of c.rounds) for (const p of r.profiles ?? []) process.stdout.write(`\nCPU profile, ${p}\n`);
    writeJson(opts, {
      notes,
      latency: latencyCells,
      steady: steadyCells,
      throughput: throughputCells.map((c) => ({ ...c, rounds: c.rounds.map(({ profiles: _, ...r }) => r) })),
    });
  },
);
