import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { openDb, parseConnection, type Db } from '../src/db/index.js';
import { JobRepository, type Job, type JobWaker } from '../src/tricircle/index.js';
import { RabbitWaker, amqpUrls } from '../src/xjob/index.js';
import { engines, type TestDatabase } from './support/engines.js';
import { createRunsTable, runsTable, type TestRunsTable } from './support/xjob-handlers.js';
import {
  BrokerProbe,
  HANDLER_MODULE,
  TRANSPORT_URL,
  XJobProcesses,
  dropBrokerConnections,
  syncDatabase,
  uniqueExchange,
  until,
  writeConfig,
  type XJobProcess,
} from './support/xjob-processes.js';

// Real `tricircle xjob` processes sharing one PostgreSQL or MariaDB database and one RabbitMQ:
// many processes run every job once, one run per resource at a time; a killed worker's run
// is taken over after job_run_expire; jobs whose wake-up is lost are found by the poll;
// SIGTERM finishes or gives back the running job; a consumer reconnects after the broker
// drops it. SQLite is left out: it is the single-machine embedded database, not one that
// several xjob processes share in a deployment.

const quiet = pino({ level: 'silent' });

for (const engine of await engines()) {
  if (engine.name === 'sqlite') continue;
  describe(`xjob processes on ${engine.name}`, { skip: engine.skip }, () => {
    const processes = new XJobProcesses();
    const broker = new BrokerProbe();
    const publishers: RabbitWaker[] = [];
    let database: TestDatabase;
    let db: Db;

    before(async () => {
      database = await engine.create();
      await syncDatabase(database.connection);
      db = openDb(parseConnection(database.connection, '.'), 8);
      await createRunsTable(db);
    });
    // Processes go even when an assertion failed; each test starts its own.
    afterEach(() => processes.stopAll());
    after(async () => {
      await processes.stopAll();
      await Promise.all(publishers.map((publisher) => publisher.close()));
      await broker.close();
      await db?.close();
      await database?.drop();
    });

    /** A config for processes consuming `exchange`; `xjob` and `defaults` override the test's usual options. */
    const configFor = (exchange: string, xjob: Record<string, string | number> = {}, defaults: Record<string, string | number> = {}) =>
      writeConfig({
        DEFAULT: { transport_url: TRANSPORT_URL, control_exchange: broker.track(exchange), log_level: 'warn', ...defaults },
        database: { connection: database.connection },
        xjob: { handler_modules: HANDLER_MODULE, workers: 6, worker_sleep_time: 0.5, ...xjob },
      });
    const start = (config: string, sleepMs?: number) =>
      processes.start(config, {
        TRICIRCLE_TEST_RECORD_DB: database.connection,
        ...(sleepMs === undefined ? {} : { TRICIRCLE_TEST_SLEEP_MS: String(sleepMs) }),
      });

    /** A RabbitWaker on `exchange`, once connected (until then it drops wake-ups, by design). */
    async function publisher(exchange: string, transportUrl = TRANSPORT_URL): Promise<RabbitWaker> {
      const waker = new RabbitWaker(amqpUrls(transportUrl), broker.track(exchange), quiet);
      publishers.push(waker);
      // The link is private: reaching it here spares the product an API only tests would use.
      await until(`a publisher connection to ${exchange}`, async () => waker['link'].channel !== null);
      return waker;
    }

    const register = (jobs: JobRepository, type: string, resourceId: string) => jobs.add(db.kysely, { type, resourceId, projectId: 'p' });
    const runsOf = (resourceId: string) =>
      runsTable(db).selectFrom('xjob_test_runs').selectAll().where('resource_id', '=', resourceId).orderBy('started_at').orderBy('id').execute();
    const statusOf = async (job: Job) => (await new JobRepository(db).get(job.id)).status;

    /** Waits until no job of the resources starting with `prefix` is NEW or RUNNING. */
    const settled = (prefix: string, capMs = 120_000) =>
      until(
        `the jobs of ${prefix}* to finish`,
        async () => {
          const left = await db.kysely
            .selectFrom('async_jobs')
            .select('id')
            .where('resource_id', 'like', `${prefix}%`)
            .where('status', 'in', ['NEW', 'RUNNING'])
            .limit(1)
            .execute();
          return left.length === 0;
        },
        capMs,
      );

    /** Asserts that every job in `ids` was logged as a success and nothing of `prefix` is left active. */
    async function assertAllSucceeded(ids: string[], prefix: string): Promise<void> {
      const logged = await db.kysely.selectFrom('async_job_logs').select('id').where('id', 'in', ids).execute();
      assert.equal(logged.length, ids.length, 'every job is in the log');
      // Not RUNNING: wake-ups of keys whose jobs an earlier run consumed still claim and release
      // their locks for a while (settled() saw a moment with none, so none is stuck).
      const left = await db.kysely
        .selectFrom('async_jobs')
        .select(['id', 'status', 'error'])
        .where('resource_id', 'like', `${prefix}%`)
        .where('status', 'in', ['NEW', 'FAIL'])
        .execute();
      assert.deepEqual(left, [], 'no job is left NEW or FAIL');
    }

    it('runs 2,000 jobs of 200 resources across three processes, each job once, one run per resource at a time', async (t) => {
      const exchange = uniqueExchange();
      const config = configFor(exchange);
      const started = await Promise.all([1, 2, 3].map(() => start(config)));
      await until('three consumers on the queue', async () => (await broker.consumers(exchange)) === 3);
      const jobs = new JobRepository(db, await publisher(exchange));

      // 20 transactions of 100 jobs, four at a time; a batch covers half the resources, so
      // each resource gets one job in every other batch: 10 in all.
      const resources = 200;
      const perBatch = 100;
      const batches = Array.from({ length: 20 }, (_, b) => b);
      const ids: string[] = [];
      const writers = Array.from({ length: 4 }, async () => {
        for (let b = batches.shift(); b !== undefined; b = batches.shift()) {
          const batch = b;
          await jobs.transaction(async (tx) => {
            for (let i = 0; i < perBatch; i++) {
              const n = batch * perBatch + i;
              ids.push((await jobs.add(tx, { type: 'test_record', resourceId: `multi-${n % resources}`, projectId: 'p' })).id);
            }
          });
        }
      });
      await Promise.all(writers);
      assert.equal(ids.length, 2000);
      // Under a loaded machine a run interrupted by a database error may leave its lock to
      // expire (job_run_expire, 180 s) rather than give it back: that is the designed recovery,
      // so the wait allows for it; exactly-once and one-run-at-a-time are asserted below.
      await settled('multi-', 300_000);
      await assertAllSucceeded(ids, 'multi-');

      const runs = await runsTable(db).selectFrom('xjob_test_runs').selectAll().where('resource_id', 'like', 'multi-%').orderBy('started_at').execute();
      const byResource = new Map<string, TestRunsTable[]>();
      for (const run of runs) byResource.set(run.resource_id, [...(byResource.get(run.resource_id) ?? []), run]);
      assert.equal(byResource.size, resources, 'every resource ran');
      for (const [resourceId, list] of byResource) {
        for (const [i, run] of list.entries()) {
          assert.notEqual(run.ended_at, null, `run ${i} of ${resourceId} finished`);
          const next = list[i + 1];
          if (next)
            assert.ok(Number(run.ended_at) <= Number(next.started_at), `runs ${i} and ${i + 1} of ${resourceId} overlap: ${JSON.stringify([run, next])}`);
        }
      }
      // Every run consumes at least one NEW job, so a resource with 10 jobs runs at most 10
      // times; fewer runs than jobs in all means runs took jobs that arrived together.
      const counts = [...byResource.values()].map((list) => list.length);
      const histogram = counts.reduce<Record<number, number>>((h, c) => ({ ...h, [c]: (h[c] ?? 0) + 1 }), {});
      t.diagnostic(`${runs.length} runs for 2000 jobs; resources by runs: ${JSON.stringify(histogram)}`);
      assert.ok(Math.max(...counts) <= 10, `a resource ran more often than it had jobs: ${JSON.stringify(histogram)}`);
      assert.ok(runs.length < 2000, `${runs.length} runs: no run consumed more than one job`);
      const pids = new Set(runs.map((run) => Number(run.pid)));
      t.diagnostic(`runs by process: ${JSON.stringify(started.map((p) => runs.filter((run) => Number(run.pid) === p.pid).length))}`);
      assert.ok(pids.size >= 2, `only ${pids.size} process did work`);
      assert.ok(
        [...pids].every((pid) => started.some((p) => p.pid === pid)),
        'only the started processes ran jobs',
      );
    });

    it('lets a surviving process take over the job of a killed one once job_run_expire has passed', async () => {
      const exchange = uniqueExchange();
      const config = configFor(exchange, { workers: 2, job_run_expire: 3 });
      const pair = await Promise.all([start(config, 3000), start(config, 3000)]);
      const job = await register(new JobRepository(db, await publisher(exchange)), 'test_sleep', 'crash');
      const first = await until('a process to start the job', async () => (await runsOf('crash'))[0]);
      const victim = pair.find((p) => p.pid === Number(first.pid))!;
      const survivor = pair.find((p) => p !== victim)!;
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      await until('the survivor to finish the job', async () => (await statusOf(job)) === 'SUCCESS', 60_000);
      const runs = await runsOf('crash');
      assert.equal(runs.length, 2, JSON.stringify(runs));
      assert.equal(runs[0]!.ended_at, null, 'the killed run never finished');
      assert.equal(Number(runs[1]!.pid), survivor.pid, 'the survivor ran it again');
      assert.notEqual(runs[1]!.ended_at, null);
      assert.ok(Number(runs[1]!.started_at) >= killedAt, 'the survivor waited for the dead run instead of running beside it');
    });

    it('finds jobs by polling when their wake-ups go to the wrong exchange, or the publisher has no broker', async () => {
      const exchange = uniqueExchange();
      await Promise.all([start(configFor(exchange, { workers: 4 })), start(configFor(exchange, { workers: 4 }))]);
      const wrongExchange = uniqueExchange();
      // Nothing listens on port 1: this waker never connects, and drops every wake-up.
      const unreachable = new RabbitWaker(amqpUrls('rabbit://guest:guest@127.0.0.1:1/'), exchange, quiet);
      publishers.push(unreachable);
      const cases: Array<[string, JobWaker]> = [
        ['wrong-exchange-', await publisher(wrongExchange)],
        ['no-broker-', unreachable],
      ];
      for (const [prefix, waker] of cases) {
        const jobs = new JobRepository(db, waker);
        const ids: string[] = [];
        for (let i = 0; i < 20; i++) ids.push((await register(jobs, 'test_record', `${prefix}${i % 10}`)).id);
        await settled(prefix, 60_000);
        await assertAllSucceeded(ids, prefix);
      }
      assert.equal(await broker.consumers(wrongExchange), null, 'no queue is bound to the wrong exchange: its wake-ups went nowhere');
    });

    it('finishes the running job on SIGTERM within the grace period, and exits 0', async () => {
      const config = configFor(uniqueExchange(), {}, { graceful_shutdown_timeout: 30 });
      const worker = await start(config, 1500);
      const job = await register(new JobRepository(db), 'test_sleep', 'term-finish');
      await until('the job to start', async () => (await runsOf('term-finish'))[0]);
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.output());
      assert.equal(await statusOf(job), 'SUCCESS');
      const [run] = await runsOf('term-finish');
      assert.notEqual(run!.ended_at, null);
    });

    it('gives the running job back on SIGTERM when the grace period is over, for another process to run', async () => {
      const config = configFor(uniqueExchange(), {}, { graceful_shutdown_timeout: 1 });
      const stopping = await start(config, 60_000);
      const job = await register(new JobRepository(db), 'test_sleep', 'term-abandon');
      await until('the job to start', async () => (await runsOf('term-abandon'))[0]);
      stopping.child.kill('SIGTERM');
      assert.equal(await stopping.exited, 0, stopping.output());
      assert.match(stopping.output(), /job run given back unfinished/);
      assert.equal(await statusOf(job), 'NEW');
      const rows = await db.kysely.selectFrom('async_jobs').select(['status', 'run_id']).where('resource_id', '=', 'term-abandon').execute();
      assert.deepEqual(rows, [{ status: 'NEW', run_id: null }], 'the lock is released and the job untagged');

      const next = await start(config, 200);
      await until('another process to finish the job', async () => (await statusOf(job)) === 'SUCCESS', 60_000);
      const runs = await runsOf('term-abandon');
      assert.deepEqual(
        runs.map((run) => [Number(run.pid), run.ended_at === null]),
        [
          [stopping.pid, true],
          [next.pid, false],
        ],
      );
    });

    it('keeps consuming wake-ups after the broker drops its connection', async () => {
      const exchange = uniqueExchange();
      // Polls an hour apart: after the first, only a wake-up through the broker can start a job.
      const worker: XJobProcess = await start(configFor(exchange, { worker_sleep_time: 3600 }));
      await until('the worker to consume', async () => (await broker.consumers(exchange)) === 1);
      const jobs = new JobRepository(db, await publisher(exchange));
      assert.equal(await dropBrokerConnections(worker.pid), 1, 'the worker had one broker connection to drop');
      await until('the worker to notice', async () => worker.output().includes('message broker connection lost'));
      await until('the worker to consume again', async () => (await broker.consumers(exchange)) === 1);
      const job = await register(jobs, 'test_record', 'reconnected');
      await until('the woken worker to finish the job', async () => (await statusOf(job)) === 'SUCCESS', 60_000);
      assert.equal(Number((await runsOf('reconnected'))[0]!.pid), worker.pid);
    });
  });
}
