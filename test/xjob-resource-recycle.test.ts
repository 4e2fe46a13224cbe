import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JobRepository } from '../src/tricircle/index.js';
import { engines } from './support/engines.js';
import { startTricircleCloud, type TricircleCloud } from './support/tricircle-cloud.js';

// resource_recycle against a real region Neutron (which has no SFC API, so its copies answer
// 404 and count as gone): every recycled object of the project loses its routing rows and its
// recycle row, other projects' stay, and the job ends SUCCESS. SQLite.

const [sqlite] = await engines();

describe('resource_recycle (sqlite)', () => {
  let cloud: TricircleCloud;
  before(async () => {
    cloud = await startTricircleCloud({ engine: sqlite!, regions: ['RegionOne'] });
  });
  after(() => cloud?.close());

  it("removes the project's recycled SFC objects from the regions, their routing rows and recycle rows", async () => {
    const db = cloud.db.kysely;
    const recycled = [
      ['chain-1', 'port_chain', 'p1'],
      ['pair-1', 'port_pair', 'p1'],
      ['pair-2', 'port_pair', 'p2'],
    ] as const;
    for (const [id, type, project] of recycled) {
      await db.insertInto('recycle_resources').values({ resource_id: id, resource_type: type, project_id: project }).execute();
      await db
        .insertInto('resource_routings')
        .values({
          top_id: id,
          bottom_id: `bottom-${id}`,
          pod_id: cloud.podIds.RegionOne!,
          project_id: project,
          resource_type: type,
          created_at: null,
          updated_at: null,
        })
        .execute();
    }
    await new JobRepository(cloud.db).registerNow({ projectId: 'p1' }, 'resource_recycle', { project_id: 'p1' });
    assert.deepEqual(await cloud.settle(), []);
    const left = await db.selectFrom('recycle_resources').select('resource_id').execute();
    assert.deepEqual(left, [{ resource_id: 'pair-2' }]);
    const routings = (await cloud.routings()).filter((r) => r.top_id.startsWith('chain') || r.top_id.startsWith('pair')).map((r) => r.top_id);
    assert.deepEqual(routings, ['pair-2']);
    const logged = await db.selectFrom('async_job_logs').select('type').where('type', '=', 'resource_recycle').execute();
    assert.equal(logged.length, 1);
  });
});
