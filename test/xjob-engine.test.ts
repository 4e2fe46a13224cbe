import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { migrateToLatest, openDb, parseConnection, systemClock, type Db } from '../src/db/index.js';
import { JobRepository, JobRuns, type Job, type JobKey, type JobWaker } from '../src/tricircle/index.js';
import { loadConfig } from '../src/config/index.js';
import { JobFailure, JobMetrics, XJobEngine, jobServices, type EngineOptions, type JobHandlerSpec, type JobRunContext } from '../src/xjob/index.js';
import { engines, type TestDatabase } from './support/engines.js';
import { until } from './support/xjob-processes.js';

// The XJob engine in process, against each real database: jobs run after the commit that
// registered them; one run per (type, resource) at a time across engines; jobs registered
// during a run cause exactly one more; transient failures are retried, permanent ones fail;
// the poll, the periodic redo and the takeover of a dead worker's lock find what wake-ups
// did not; stop() lets handlers finish within the grace and gives the others back.

/** What one handler call saw, in performance.now() milliseconds. */
interface Call {
  type: string;
  resourceId: string;
  resource: Record<string, string>;
  projectId: string | null;
  attempt: number;
  start: number;
  end?: number;
  /** Whether the run's signal was aborted when the handler ended. */
  aborted?: boolean;
}

/** What a test's handler does for one resource; the default succeeds after a moment. */
type Script = (ctx: JobRunContext) => Promise<void>;

/** Job types for this file only; each resolves its behaviour by resource id through `scripts`. */
const TEST_TYPES = { xtest: ['key'], xtest_retry: ['key'], xtest_metrics: ['key'], configure_route: ['router_id'] } as const;

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${predicate.toString()}`);
    await sleep(20);
  }
}

/** A promise the test settles: a handler waits on it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const failingWith = (status: number, message: string) => Object.assign(new Error(message), { status });

/** The handler of a job type that a test never gets a reply from: it ends only by aborting, as a fetch with the signal does. */
const untilAborted = (ctx: JobRunContext) =>
  new Promise<void>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true }));

/** The most intervals that overlap at one instant. */
function maxConcurrency(calls: Call[]): number {
  const edges = calls.flatMap((c) => [
    { at: c.start, delta: 1 },
    { at: c.end!, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (now += edge.delta));
  return most;
}

for (const engine of await engines()) {
  describe(`XJob engine on ${engine.name}`, { skip: engine.skip, timeout: 120_000 }, () => {
    let database: TestDatabase;
    let db: Db;
    /** A second connection pool, as a second xjob process would have. */
    let second: Db;
    const registry = new Registry();
    const metrics = JobMetrics.of(registry);
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const calls: Call[] = [];
    const scripts = new Map<string, Script>();
    const running: XJobEngine[] = [];

    const handle = async (ctx: JobRunContext) => {
      const { type, resourceId, resource, projectId, attempt } = ctx;
      const call: Call = { type, resourceId, resource, projectId, attempt, start: performance.now() };
      calls.push(call);
      try {
        await (scripts.get(resourceId) ?? (() => sleep(5)))(ctx);
      } finally {
        call.end = performance.now();
        call.aborted = ctx.signal.aborted;
      }
    };
    const handlers = new Map<string, JobHandlerSpec>(Object.entries(TEST_TYPES).map(([type, resource]) => [type, { resource, handle }]));

    const key = (resourceId: string, type = 'xtest'): JobKey => ({ type, resourceId, projectId: 'p1' });
    const callsOf = (resourceId: string) => calls.filter((c) => c.resourceId === resourceId);
    /** The engine's one log line per run. */
    const runLines = (resourceId: string) => lines.filter((l) => l.resource_id === resourceId && 'outcome' in l);
    const activeRows = (resourceId: string) =>
      db.kysely.selectFrom('async_jobs').select(['id', 'status', 'run_id']).where('resource_id', '=', resourceId).orderBy('timestamp').execute();

    /** An engine on `pool`, started; the test's afterEach stops it. Redo is off unless asked for: a span of 0 finds no failure. */
    function startEngine(options: Partial<EngineOptions> = {}, pool = db): XJobEngine {
      const runExpire = options.runExpire ?? 2;
      const clients = { neutron: (region: string) => Promise.reject(new JobFailure(`no region ${region} in this test`, false)) };
      const started: XJobEngine = new XJobEngine({
        runs: new JobRuns(pool, runExpire),
        handlers,
        clients,
        services: jobServices(loadConfig({ env: {} }).config, pool, clients, { wake: (keys) => started.wake(keys) }),
        logger,
        metrics,
        workers: 4,
        pollInterval: 0.05,
        pollMinAge: 0,
        runExpire,
        redo: { interval: 3600, fuzzyDelay: 0, timeSpan: 0 },
        retry: { attempts: 3, baseDelay: 0.01, maxDelay: 0.05 },
        ...options,
      });
      started.start();
      running.push(started);
      return started;
    }

    const repository = (waker?: JobWaker) => new JobRepository(db, waker, systemClock, (type) => metrics.registered.inc({ type }));

    /** The job once its run ended it (SUCCESS or FAIL). */
    async function ended(jobs: JobRepository, id: string): Promise<Job> {
      let job: Job | undefined;
      await waitFor(async () => ['SUCCESS', 'FAIL'].includes((job = await jobs.get(id)).status));
      return job!;
    }

    before(async () => {
      database = await engine.create();
      db = openDb(parseConnection(database.connection, '.'), 8);
      await migrateToLatest(db);
      second = openDb(parseConnection(database.connection, '.'), 8);
      metrics.watchBacklog(registry, new JobRuns(db, 2));
    });
    const stopAll = () => Promise.all(running.splice(0).map((e) => e.stop(0)));
    afterEach(stopAll);
    after(async () => {
      await stopAll();
      await second?.close();
      await db?.close();
      await database?.drop();
    });

    it('runs a job registered in a transaction once it commits, and never one whose transaction rolled back', async () => {
      // No poll: the run can only come from the wake-up after the commit.
      const jobs = repository(startEngine({ pollInterval: 3600 }));
      const rolledBack: string[] = [];
      await assert.rejects(
        jobs.transaction(async (tx) => {
          rolledBack.push((await jobs.register(tx, { projectId: 'p1' }, 'configure_route', { router_id: 'rolled-back' })).id);
          throw new Error('the change failed');
        }),
        /the change failed/,
      );
      const job = await jobs.transaction(async (tx) => {
        const registered = await jobs.register(tx, { projectId: 'p1' }, 'configure_route', { router_id: 'committed' });
        await sleep(100); // time for a wake-up sent too early to start a run
        assert.deepEqual(callsOf('committed'), [], 'nothing runs before the commit');
        return registered;
      });
      assert.equal((await ended(jobs, job.id)).status, 'SUCCESS');
      assert.deepEqual(await activeRows('committed'), [], 'the job left the active table for the log');
      const [call] = callsOf('committed');
      assert.deepEqual([call?.type, call?.resource, call?.projectId, call?.attempt], ['configure_route', { router_id: 'committed' }, 'p1', 1]);
      assert.equal(await jobs.find(rolledBack[0]!), null);
      assert.deepEqual(callsOf('rolled-back'), []);
    });

    it('runs one run per (type, resource) at a time across two engines on two connection pools, and different resources in parallel', async () => {
      // On SQLite the two engines share one connection: two connections to one file in one
      // thread stall each other, as the driver waits synchronously for the other's write lock
      // (separate processes, each with its own thread, do not).
      const a = startEngine();
      const b = startEngine({}, engine.name === 'sqlite' ? db : second);
      const jobs = repository({ wake: (keys) => [a, b].forEach((e) => e.wake(keys)) });
      const resources = ['par-0', 'par-1', 'par-2', 'par-3'];
      for (const r of resources) scripts.set(r, () => sleep(40));
      const ids = await jobs.transaction(async (tx) => {
        const registered: string[] = [];
        for (const r of resources) for (let i = 0; i < 3; i++) registered.push((await jobs.add(tx, key(r))).id);
        return registered;
      });
      // More registrations while those run, each waking both engines.
      for (let round = 0; round < 6; round++) {
        await sleep(15);
        for (const job of await Promise.all(resources.map((r) => jobs.add(db.kysely, key(r))))) ids.push(job.id);
      }
      for (const id of ids) assert.equal((await ended(jobs, id)).status, 'SUCCESS');
      for (const r of resources) {
        const runs = callsOf(r).sort((x, y) => x.start - y.start);
        assert.ok(runs.length >= 1 && runs.length <= 9, `${r}: ${runs.length} runs for 9 jobs`);
        for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.start >= runs[i - 1]!.end!, `${r}: run ${i} started before run ${i - 1} ended`);
        const consumed = runLines(r).reduce((sum, l) => sum + Number(l.jobs), 0);
        assert.equal(consumed, 9, `${r}: every job consumed by exactly one run`);
      }
      assert.ok(maxConcurrency(resources.flatMap(callsOf)) > 1, 'different resources run in parallel');
      // Contention between the engines is a lost race each time, never a database failure.
      assert.deepEqual(
        lines.filter((l) => Number(l.level) >= 50).map((l) => l.msg),
        [],
      );
    });

    it('runs a key exactly once more for the jobs registered while it runs', async () => {
      const worker = startEngine();
      const jobs = repository(worker);
      const release = gate();
      scripts.set('again', async () => {
        if (callsOf('again').length === 1) await release.opened;
      });
      const ids = [(await jobs.add(db.kysely, key('again'))).id];
      await waitFor(() => callsOf('again').length === 1);
      for (let i = 0; i < 3; i++) ids.push((await jobs.add(db.kysely, key('again'))).id);
      release.open();
      for (const id of ids) assert.equal((await ended(jobs, id)).status, 'SUCCESS');
      await waitFor(() => worker.busy === 0);
      assert.equal(callsOf('again').length, 2);
      assert.deepEqual(
        runLines('again').map((l) => [l.outcome, l.jobs]),
        [
          ['success', 1],
          ['success', 3],
        ],
      );
    });

    it('retries transient failures with backoff and fails permanent ones at once, storing the error', async () => {
      const jobs = repository(startEngine());
      const cases: Array<{ resource: string; script: Script; status: 'SUCCESS' | 'FAIL'; attempts: number; error?: string }> = [
        {
          resource: 'unavailable-twice',
          script: async (ctx) => {
            if (ctx.attempt < 3) throw failingWith(503, 'RegionOne answered 503');
          },
          status: 'SUCCESS',
          attempts: 3,
        },
        {
          resource: 'transient-job-failure',
          script: async (ctx) => {
            if (ctx.attempt < 2) throw new JobFailure('RegionOne is busy', true);
          },
          status: 'SUCCESS',
          attempts: 2,
        },
        {
          resource: 'always-unavailable',
          script: () => Promise.reject(failingWith(503, 'RegionTwo answered 503')),
          status: 'FAIL',
          attempts: 3,
          error: 'RegionTwo answered 503',
        },
        {
          resource: 'bad-request',
          script: () => Promise.reject(failingWith(400, 'Invalid input for cidr')),
          status: 'FAIL',
          attempts: 1,
          error: 'Invalid input for cidr',
        },
        { resource: 'not-found', script: () => Promise.reject(failingWith(404, 'Network not found')), status: 'FAIL', attempts: 1, error: 'Network not found' },
        { resource: 'plain-error', script: () => Promise.reject(new Error('a bug')), status: 'FAIL', attempts: 1, error: 'a bug' },
        {
          resource: 'permanent-job-failure',
          script: () => Promise.reject(new JobFailure('cannot bind port', false, { cause: new Error('no such host') })),
          status: 'FAIL',
          attempts: 1,
          error: 'cannot bind port: no such host',
        },
      ];
      for (const c of cases) scripts.set(c.resource, c.script);
      const registered = await Promise.all(cases.map((c) => jobs.add(db.kysely, key(c.resource, 'xtest_retry'))));
      for (const [i, c] of cases.entries()) {
        const job = await ended(jobs, registered[i]!.id);
        // The run's log line follows its commit: the job can be seen ended a moment before.
        await until(`the run line of ${c.resource}`, async () => runLines(c.resource).length > 0, 5_000, 10);
        assert.equal(job.status, c.status, c.resource);
        assert.equal(job.error, c.error ?? null, c.resource);
        assert.deepEqual(
          callsOf(c.resource).map((call) => call.attempt),
          Array.from({ length: c.attempts }, (_, n) => n + 1),
          `${c.resource}: the attempts the handler saw`,
        );
        assert.deepEqual(
          runLines(c.resource).map((l) => [l.outcome, l.attempts]),
          [[c.status === 'SUCCESS' ? 'success' : 'fail', c.attempts]],
          `${c.resource}: all attempts in one run`,
        );
      }
      const retries = (await metrics.retried.get()).values.find((v) => v.labels.type === 'xtest_retry')?.value;
      assert.equal(
        retries,
        cases.reduce((sum, c) => sum + c.attempts - 1, 0),
      );
    });

    it('fails a job whose type has no handler, naming the type', async () => {
      const jobs = repository(startEngine());
      const job = await jobs.add(db.kysely, key('orphan', 'xtest_unknown'));
      const failed = await ended(jobs, job.id);
      assert.equal(failed.status, 'FAIL');
      assert.match(failed.error ?? '', /xtest_unknown/);
    });

    it('finds, by polling the database, a job nobody woke it for', async () => {
      startEngine();
      const jobs = repository();
      const job = await jobs.add(db.kysely, key('unannounced'));
      assert.equal((await ended(jobs, job.id)).status, 'SUCCESS');
      assert.equal(callsOf('unannounced').length, 1);
    });

    it('runs a failed job again in the periodic redo, which ends it SUCCESS under its own id', async () => {
      const jobs = repository(startEngine({ redo: { interval: 0.2, fuzzyDelay: 0.2, timeSpan: 3600 } }));
      const redone = gate();
      scripts.set('flaky', async () => {
        if (callsOf('flaky').length === 1) throw new JobFailure('RegionOne is down', false);
        await redone.opened;
      });
      const job = await jobs.add(db.kysely, key('flaky'));
      await waitFor(() => callsOf('flaky').length === 2);
      const failed = await jobs.get(job.id);
      assert.deepEqual([failed.status, failed.error], ['FAIL', 'RegionOne is down'], 'FAIL until the redo succeeds');
      redone.open();
      await waitFor(async () => (await jobs.get(job.id)).status === 'SUCCESS');
      assert.deepEqual(await activeRows('flaky'), []);
      assert.deepEqual(
        callsOf('flaky').map((c) => c.attempt),
        [1, 1],
        'two runs, not a retry',
      );
      assert.deepEqual(
        runLines('flaky').map((l) => l.outcome),
        ['fail', 'success'],
      );
    });

    it('stop() lets a handler finish within the grace, aborts one that outlives it and gives its run back, then ignores wake-ups', async () => {
      const finishing = startEngine();
      scripts.set('finishes-in-grace', () => sleep(300));
      const jobs = repository(finishing);
      const quick = await jobs.add(db.kysely, key('finishes-in-grace'));
      await waitFor(() => callsOf('finishes-in-grace').length === 1);
      await finishing.stop(30);
      assert.equal((await jobs.get(quick.id)).status, 'SUCCESS', 'finished before stop() returned');

      const aborting = startEngine();
      const stuckJobs = repository(aborting);
      scripts.set('outlives-grace', (ctx) => (callsOf('outlives-grace').length === 1 ? untilAborted(ctx) : sleep(5)));
      const stuck = await stuckJobs.add(db.kysely, key('outlives-grace'));
      await waitFor(() => callsOf('outlives-grace').length === 1);
      await aborting.stop(0.2);
      assert.equal(callsOf('outlives-grace')[0]!.aborted, true, 'the handler saw its signal abort');
      assert.deepEqual(await activeRows('outlives-grace'), [{ id: stuck.id, status: 'NEW', run_id: null }], 'job NEW again, no lock left');
      assert.deepEqual(
        runLines('outlives-grace').map((l) => l.outcome),
        ['abandoned'],
      );

      const late = await stuckJobs.add(db.kysely, key('after-stop'));
      assert.equal(aborting.busy, 0, 'a wake-up after stop starts no run');
      let acked = false;
      aborting.deliver(key('after-stop'), () => (acked = true));
      assert.ok(acked, 'a broker message after stop is acknowledged at once, not held');
      await sleep(300);
      assert.deepEqual(callsOf('after-stop'), []);

      // Another engine takes up what the stopped one gave back or never ran.
      startEngine();
      assert.equal((await ended(jobs, stuck.id)).status, 'SUCCESS');
      assert.equal((await ended(jobs, late.id)).status, 'SUCCESS');
    });

    it("takes over a dead worker's lock once job_run_expire has passed", async () => {
      const runExpire = 1;
      const jobs = repository();
      const job = await jobs.add(db.kysely, key('orphaned-lock'));
      const deadWorker = new JobRuns(db, runExpire);
      const claimedAt = performance.now();
      const deadRun = (await deadWorker.claim(key('orphaned-lock')))!;
      assert.ok(deadRun);
      assert.equal(await deadWorker.mark(key('orphaned-lock'), deadRun), 1);
      startEngine({ runExpire }).wake([key('orphaned-lock')]);
      assert.equal((await ended(jobs, job.id)).status, 'SUCCESS');
      const [call] = callsOf('orphaned-lock');
      assert.ok(call!.start - claimedAt >= runExpire * 1000, 'not run while the lock was alive');
      assert.equal(callsOf('orphaned-lock').length, 1);
      assert.deepEqual(await activeRows('orphaned-lock'), [], 'the dead lock is gone');
      assert.deepEqual(await deadWorker.finish(deadRun, key('orphaned-lock'), { ok: true }), { held: false }, 'a late finish of the dead run changes nothing');
    });

    it('counts registered, started, succeeded, failed and timed runs by type, and reads the backlog from the database', async () => {
      const working = startEngine();
      const jobs = repository(working);
      for (const r of ['m-fail-0', 'm-fail-1']) scripts.set(r, () => Promise.reject(new JobFailure('RegionTwo refused', false)));
      const registered = await Promise.all(['m-ok-0', 'm-ok-1', 'm-ok-2', 'm-fail-0', 'm-fail-1'].map((r) => jobs.add(db.kysely, key(r, 'xtest_metrics'))));
      for (const job of registered) await ended(jobs, job.id);
      await working.stop(0);

      const byType = async (name: string) => registry.getSingleMetricAsString(name);
      assert.match(await byType('xjob_jobs_registered_total'), /^xjob_jobs_registered_total\{type="xtest_metrics"\} 5$/m);
      assert.match(await byType('xjob_runs_started_total'), /^xjob_runs_started_total\{type="xtest_metrics"\} 5$/m);
      assert.match(await byType('xjob_jobs_succeeded_total'), /^xjob_jobs_succeeded_total\{type="xtest_metrics"\} 3$/m);
      assert.match(await byType('xjob_jobs_failed_total'), /^xjob_jobs_failed_total\{type="xtest_metrics"\} 2$/m);
      assert.match(await byType('xjob_run_duration_seconds'), /^xjob_run_duration_seconds_count\{type="xtest_metrics",outcome="success"\} 3$/m);
      assert.match(await byType('xjob_run_duration_seconds'), /^xjob_run_duration_seconds_count\{type="xtest_metrics",outcome="fail"\} 2$/m);

      // No engine runs now: NEW jobs stay, and the gauges read them from the database.
      const gauges = async () => {
        const json = await registry.getMetricsAsJSON();
        const value = (name: string) => json.find((m) => m.name === name)?.values[0]?.value;
        return { backlog: value('xjob_backlog_jobs'), oldest: value('xjob_oldest_new_job_age_seconds') };
      };
      const countNew = async () =>
        Number(
          (
            await db.kysely
              .selectFrom('async_jobs')
              .select((eb) => eb.fn.countAll().as('n'))
              .where('status', '=', 'NEW')
              .executeTakeFirstOrThrow()
          ).n,
        );
      const before = await countNew();
      assert.equal((await gauges()).backlog, before);
      await jobs.add(db.kysely, key('m-waiting-0', 'xtest_metrics'));
      await jobs.add(db.kysely, key('m-waiting-1', 'xtest_metrics'));
      await sleep(50);
      const { backlog, oldest } = await gauges();
      assert.equal(backlog, before + 2);
      assert.ok(oldest !== undefined && oldest >= 0.05, `oldest NEW job age ${oldest}`);
    });
  });
}
