import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrateToLatest, openDb, parseConnection, type Clock, type Db } from '../src/db/index.js';
import { JobRepository, JobRuns, type JobKey } from '../src/tricircle/index.js';
import { engines, type TestDatabase } from './support/engines.js';

// The job table semantics the XJob engine stands on: registration commits with the caller's
// change and wakes only after the commit; one run per (type, resource) at a time, held by the
// database; a run consumes the jobs it tagged, and later ones cause the next run; success
// logs the jobs under their own ids; a dead worker's lock is taken over after job_run_expire.

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
  describe(`job runs on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let db: Db;
    let second: Db;
    let jobs: JobRepository;
    let runs: JobRuns;
    const woken: JobKey[][] = [];
    const key = (resourceId: string, type = 'update_network'): JobKey => ({ type, resourceId, projectId: 'p' });
    const rows = (resourceId: string) =>
      db.kysely.selectFrom('async_jobs').select(['id', 'status', 'run_id', 'error']).where('resource_id', '=', resourceId).orderBy('timestamp').execute();
    const logged = (resourceId: string) =>
      db.kysely.selectFrom('async_job_logs').select('id').where('resource_id', '=', resourceId).orderBy('timestamp').execute();

    before(async () => {
      database = await engine.create();
      db = openDb(parseConnection(database.connection, '.'), 8);
      await migrateToLatest(db);
      second = openDb(parseConnection(database.connection, '.'), 8);
      jobs = new JobRepository(db, { wake: (keys) => woken.push([...keys]) }, clock);
      runs = new JobRuns(db, 60, clock);
    });
    after(async () => {
      await second?.close();
      await db?.close();
      await database?.drop();
    });

    it("registers a NEW job inside the caller's transaction, waking the workers only after the commit", async () => {
      woken.length = 0;
      await assert.rejects(
        jobs.transaction(async (tx) => {
          await jobs.register(tx, { projectId: 'p' }, 'configure_route', { router_id: 'rolled-back' });
          throw new Error('the change failed');
        }),
        /the change failed/,
      );
      assert.deepEqual(await rows('rolled-back'), []);
      assert.deepEqual(woken, [], 'no wake-up for a rolled-back job');
      await jobs.transaction(async (tx) => {
        await jobs.register(tx, { projectId: 'p' }, 'configure_route', { router_id: 'committed' });
        assert.deepEqual(woken, [], 'no wake-up before the commit');
      });
      assert.equal((await rows('committed')).length, 1);
      assert.deepEqual(woken, [[{ type: 'configure_route', resourceId: 'committed', projectId: 'p' }]]);
      const job = await jobs.registerNow({ projectId: 'p' }, 'router_setup', { pod_id: 'pod', router_id: 'r', network_id: 'n' });
      assert.deepEqual(job.resource, { pod_id: 'pod', router_id: 'r', network_id: 'n' });
      assert.deepEqual(woken.at(-1), [{ type: 'router_setup', resourceId: 'pod#r#n', projectId: 'p' }], 'a write of its own wakes at once');
    });

    it('lets exactly one of many concurrent claims, from two connection pools, win', async () => {
      const other = new JobRuns(second, 60, clock);
      await jobs.add(db.kysely, key('contended'));
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? runs : other).claim(key('contended'))));
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.notEqual(await runs.claim(key('other-resource')), null, 'other resources are independent');
      assert.notEqual(await runs.claim(key('contended', 'port_delete')), null, 'other types are independent');
    });

    it('takes over a lock not refreshed within job_run_expire, and a heartbeat keeps a live one', async () => {
      const job = await jobs.add(db.kysely, key('stale'));
      const dead = (await runs.claim(key('stale')))!;
      assert.equal(await runs.mark(key('stale'), dead), 1);
      clock.advance(45);
      assert.equal(await runs.heartbeat(dead), true);
      clock.advance(45);
      assert.equal(await runs.claim(key('stale')), null, 'refreshed 45 s ago: still alive');
      clock.advance(16);
      const taker = (await runs.claim(key('stale')))!;
      assert.ok(taker && taker !== dead);
      assert.equal(await runs.heartbeat(dead), false, 'the dead run learns it lost the lock');
      assert.equal(await runs.mark(key('stale'), taker), 1, 'the dead run’s job is tagged again');
      assert.deepEqual(await runs.finish(dead, key('stale'), { ok: true }), { held: false }, 'a late finish of the dead run changes nothing');
      assert.deepEqual(await runs.finish(taker, key('stale'), { ok: true }), { held: true, jobs: 1 });
      assert.deepEqual(await logged('stale'), [{ id: job.id }]);
    });

    it('on success logs the jobs it tagged under their own ids and keeps later ones for the next run', async () => {
      const first = await jobs.add(db.kysely, key('net'));
      const second = await jobs.add(db.kysely, key('net'));
      const run = (await runs.claim(key('net')))!;
      assert.equal(await runs.mark(key('net'), run), 2);
      const later = await jobs.add(db.kysely, key('net'));
      assert.deepEqual(await runs.finish(run, key('net'), { ok: true }), { held: true, jobs: 2 });
      assert.deepEqual(await rows('net'), [{ id: later.id, status: 'NEW', run_id: null, error: null }]);
      assert.deepEqual(await logged('net'), [{ id: first.id }, { id: second.id }]);
      assert.equal((await jobs.get(first.id)).status, 'SUCCESS');
      assert.equal(await runs.hasNew(key('net')), true, 'the later job causes another run');
      assert.ok(await runs.claim(key('net')), 'the lock is released');
    });

    it('on failure turns the tagged jobs into FAIL with the error; a later success logs them too', async () => {
      const job = await jobs.add(db.kysely, key('broken'));
      const run = (await runs.claim(key('broken')))!;
      await runs.mark(key('broken'), run);
      assert.deepEqual(await runs.finish(run, key('broken'), { ok: false, error: 'RegionTwo: 404 Network not found' }), { held: true, jobs: 1 });
      assert.deepEqual(await rows('broken'), [{ id: job.id, status: 'FAIL', run_id: null, error: 'RegionTwo: 404 Network not found' }]);
      assert.equal(await runs.hasNew(key('broken')), false, 'a failure is not retried by the poll');
      assert.deepEqual(await runs.failed(3600), [key('broken')], 'but by the periodic redo');

      const run2 = (await runs.claim(key('broken')))!;
      assert.equal(await runs.mark(key('broken'), run2), 0, 'a plain run does not take FAIL jobs');
      assert.equal(await runs.mark(key('broken'), run2, true), 1, 'a redo does');
      await runs.finish(run2, key('broken'), { ok: true });
      assert.deepEqual(await rows('broken'), []);
      assert.equal((await jobs.get(job.id)).status, 'SUCCESS', 'the failed job ends SUCCESS under its id');
    });

    it('a release gives the jobs back untouched, and the poll finds keys without a live run', async () => {
      await jobs.add(db.kysely, key('released'));
      const run = (await runs.claim(key('released')))!;
      await runs.mark(key('released'), run);
      let waiting = await runs.waiting(1000);
      assert.ok(!waiting.some((k) => k.resourceId === 'released'), 'a key with a live run is not polled');
      await runs.release(run);
      assert.deepEqual(
        (await rows('released')).map((r) => [r.status, r.run_id]),
        [['NEW', null]],
      );
      waiting = await runs.waiting(1000);
      assert.ok(waiting.some((k) => k.resourceId === 'released' && k.type === 'update_network'));
      await jobs.add(db.kysely, key('young'));
      assert.ok(!(await runs.waiting(1000, 5)).some((k) => k.resourceId === 'young'), 'a job younger than the minimum age is left to its wake-up');
      clock.advance(6);
      assert.ok(
        (await runs.waiting(1000, 5)).some((k) => k.resourceId === 'young'),
        'and taken once older',
      );
      const backlog = await runs.backlog();
      assert.ok(backlog.count >= 1);
      assert.ok(backlog.oldestAgeSeconds > 0);
    });
  });
}
