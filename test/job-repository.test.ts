import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrateToLatest, openDb, parseConnection, type Clock, type Db } from '../src/db/index.js';
import { JobRepository } from '../src/tricircle/index.js';
import { engines, type TestDatabase } from './support/engines.js';

// The job table semantics the XJob engine will stand on: one run per (type, resource) at a
// time, held by the database; a run consumes the NEW rows up to its start; success moves it
// to the log; a dead worker's claim is taken over after job_run_expire.

class ManualClock implements Clock {
  constructor(private ms = Date.UTC(2026, 0, 1)) {}
  now() {
    return new Date(this.ms);
  }
  advance(seconds: number) {
    this.ms += seconds * 1000;
  }
}

// One clock for every engine: job timestamps never go backwards within a process.
const clock = new ManualClock();

for (const engine of await engines()) {
  describe(`job repository on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let db: Db;
    let second: Db;
    let jobs: JobRepository;
    const count = async (table: 'async_jobs' | 'async_job_logs', resource: string) =>
      Number(
        (
          await db.kysely
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .where('resource_id', '=', resource)
            .executeTakeFirstOrThrow()
        ).n,
      );

    before(async () => {
      database = await engine.create();
      db = openDb(parseConnection(database.connection, '.'), 8);
      await migrateToLatest(db);
      second = openDb(parseConnection(database.connection, '.'), 8);
      jobs = new JobRepository(db, clock, 60);
    });
    after(async () => {
      await second?.close();
      await db?.close();
      await database?.drop();
    });

    it("registers a NEW job inside the caller's transaction, and not at all when it rolls back", async () => {
      await assert.rejects(
        db.kysely.transaction().execute(async (tx) => {
          await jobs.register('p', 'configure_route', 'rolled-back', tx);
          throw new Error('the change failed');
        }),
        /the change failed/,
      );
      assert.equal(await count('async_jobs', 'rolled-back'), 0);
      await db.kysely.transaction().execute((tx) => jobs.register('p', 'configure_route', 'committed', tx));
      assert.equal(await count('async_jobs', 'committed'), 1);
    });

    it('lets exactly one of many concurrent claims, from two connection pools, win', async () => {
      const other = new JobRepository(second, clock, 60);
      await jobs.register('p', 'router_setup', 'contended');
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? jobs : other).claim('router_setup', 'contended', 'p')));
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.equal((await jobs.claim('router_setup', 'other-resource', 'p')) !== null, true, 'other resources are independent');
    });

    it('takes over a claim older than job_run_expire, marking the dead run FAIL', async () => {
      await jobs.register('p', 'port_delete', 'stale');
      const dead = await jobs.claim('port_delete', 'stale', 'p');
      assert.ok(dead);
      clock.advance(30);
      assert.equal(await jobs.claim('port_delete', 'stale', 'p'), null, 'still within expiry');
      clock.advance(31);
      const taker = await jobs.claim('port_delete', 'stale', 'p');
      assert.ok(taker && taker !== dead);
      assert.equal((await jobs.get(dead)).status, 'FAIL');
      assert.equal((await jobs.get(taker)).status, 'RUNNING');
    });

    it('on success consumes the NEW jobs up to the run, keeps later ones, and logs the run', async () => {
      await jobs.register('p', 'update_network', 'net');
      clock.advance(1);
      await jobs.register('p', 'update_network', 'net');
      const upTo = (await jobs.latestNewTimestamp('update_network', 'net'))!;
      const run = (await jobs.claim('update_network', 'net', 'p'))!;
      clock.advance(1);
      const later = await jobs.register('p', 'update_network', 'net');
      await jobs.finish(run, true, upTo);
      const left = await db.kysely.selectFrom('async_jobs').select(['id', 'status']).where('resource_id', '=', 'net').execute();
      assert.deepEqual(left, [{ id: later.id, status: 'NEW' }]);
      assert.equal(await count('async_job_logs', 'net'), 1);
      assert.equal((await jobs.get(run)).status, 'SUCCESS');
      assert.ok(await jobs.claim('update_network', 'net', 'p'), 'the lock is released');
    });

    it('on failure keeps the run as FAIL at the consumed time and the NEW job it stands for', async () => {
      await jobs.register('p', 'subnet_update', 'old');
      clock.advance(1);
      const newest = await jobs.register('p', 'subnet_update', 'old');
      const upTo = (await jobs.latestNewTimestamp('subnet_update', 'old'))!;
      const run = (await jobs.claim('subnet_update', 'old', 'p'))!;
      await jobs.finish(run, false, upTo);
      const rows = await db.kysely.selectFrom('async_jobs').select(['id', 'status']).where('resource_id', '=', 'old').orderBy('status').execute();
      assert.deepEqual(rows.map((r) => r.status).sort(), ['FAIL', 'NEW']);
      assert.ok(rows.some((r) => r.id === newest.id));
      assert.ok(await jobs.claim('subnet_update', 'old', 'p'), 'the lock is released');
    });
  });
}
