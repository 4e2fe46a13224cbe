import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { formatSeconds, migrateToLatest, openDb, parseConnection, type Clock, type Db } from '../src/db/index.js';
import { ApiError } from '../src/http/errors.js';
import { PodRepository, ROUTING_LOCK_EXPIRE, RoutingMap } from '../src/tricircle/index.js';
import { engines, type TestDatabase } from './support/engines.js';

// The lock-by-routing-row get-or-create (reference §10.6) on every engine: the resource a
// routing key stands for is created once however many callers race for it, on separate
// connection pools as separate servers would; a crashed creator's lock is taken over once it
// has expired, adopting what the crashed caller had made; a failed create frees the lock.

/** A clock the test moves; RoutingMap stamps and expires locks by it. */
class ManualClock implements Clock {
  ms = Date.UTC(2026, 0, 1);
  now() {
    return new Date(this.ms);
  }
}

for (const engine of await engines()) {
  describe(`routing map on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let pools: Db[];
    let podId: string;
    const clock = new ManualClock();

    before(async () => {
      database = await engine.create();
      pools = [0, 1, 2].map(() => openDb(parseConnection(database.connection, '.'), 4));
      await migrateToLatest(pools[0]!);
      podId = (await new PodRepository(pools[0]!).create({ region_name: 'RegionOne', az_name: 'az1', pod_az_name: '', dc_name: '' })).pod_id;
    });
    after(async () => {
      for (const pool of pools ?? []) await pool.close();
      await database?.drop();
    });

    const key = (topId: string) => ({ topId, podId, resourceType: 'port', projectId: 'p' });
    const rows = (topId: string) => pools[0]!.kysely.selectFrom('resource_routings').selectAll().where('top_id', '=', topId).execute();

    it('creates once for twelve concurrent callers on three pools, and every caller gets that id', async () => {
      let creates = 0;
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          new RoutingMap(pools[i % 3]!, clock).getOrCreate({
            ...key('race'),
            find: async () => null,
            create: async () => {
              creates++;
              await new Promise((r) => setTimeout(r, 50));
              return 'made-once';
            },
          }),
        ),
      );
      assert.equal(creates, 1);
      assert.deepEqual(new Set(results.map((r) => r.id)), new Set(['made-once']));
      assert.equal(results.filter((r) => r.isNew).length, 1);
      const [row, ...more] = await rows('race');
      assert.equal(more.length, 0);
      assert.equal(row!.bottom_id, 'made-once');
    });

    it('frees the lock when the create fails, so the next caller creates', async () => {
      const map = new RoutingMap(pools[0]!, clock);
      const failing = map.getOrCreate({
        ...key('fails'),
        find: async () => null,
        create: async () => {
          throw new ApiError('Conflict', 'region said no');
        },
      });
      await assert.rejects(failing, /region said no/);
      assert.deepEqual(await rows('fails'), []);
      const again = await map.getOrCreate({ ...key('fails'), find: async () => null, create: async () => 'second-try' });
      assert.deepEqual(again, { id: 'second-try', isNew: true });
    });

    /** A lock row as a creator that crashed between lock and create leaves it, stamped `secondsAgo` ago. */
    async function crashedLock(topId: string, secondsAgo: number): Promise<void> {
      const stamp = formatSeconds(new Date(clock.ms - secondsAgo * 1000));
      await pools[0]!.kysely
        .insertInto('resource_routings')
        .values({ top_id: topId, pod_id: podId, resource_type: 'port', bottom_id: null, project_id: 'p', created_at: stamp, updated_at: stamp })
        .execute();
    }

    it("takes over an expired crashed creator's lock and adopts the resource it had made", async () => {
      await crashedLock('adopt', ROUTING_LOCK_EXPIRE + 5);
      let created = false;
      const result = await new RoutingMap(pools[1]!, clock).getOrCreate({
        ...key('adopt'),
        find: async () => 'made-before-the-crash',
        create: async () => {
          created = true;
          return 'duplicate';
        },
      });
      assert.deepEqual(result, { id: 'made-before-the-crash', isNew: true });
      assert.equal(created, false);
      assert.equal((await rows('adopt'))[0]!.bottom_id, 'made-before-the-crash');
    });

    it("creates under an expired crashed creator's lock when the crashed caller had made nothing", async () => {
      await crashedLock('recreate', ROUTING_LOCK_EXPIRE + 5);
      const result = await new RoutingMap(pools[2]!, clock).getOrCreate({ ...key('recreate'), find: async () => null, create: async () => 'made-now' });
      assert.deepEqual(result, { id: 'made-now', isNew: true });
    });

    it('waits for a fresh lock held by another creator and gets what it made', async () => {
      await crashedLock('held', 0);
      const waiting = new RoutingMap(pools[1]!, clock).getOrCreate({
        ...key('held'),
        find: async () => null,
        create: async () => assert.fail('the holder creates, not the waiter'),
      });
      await new Promise((r) => setTimeout(r, 250));
      await pools[0]!.kysely.updateTable('resource_routings').set({ bottom_id: 'holder-made' }).where('top_id', '=', 'held').execute();
      assert.deepEqual(await waiting, { id: 'holder-made', isNew: false });
    });

    it('records, lists and removes mappings', async () => {
      const map = new RoutingMap(pools[0]!, clock);
      const id = randomUUID();
      await map.record({ topId: id, podId, resourceType: 'network', bottomId: id, projectId: 'p' });
      await map.record({ topId: id, podId, resourceType: 'network', bottomId: 'ignored', projectId: 'p' });
      assert.equal(await map.bottomId({ topId: id, podId, resourceType: 'network' }), id);
      assert.deepEqual(await map.podsOf(id, ['network']), [podId]);
      await map.remove({ topId: id });
      assert.deepEqual(await map.podsOf(id, ['network']), []);
    });
  });
}
