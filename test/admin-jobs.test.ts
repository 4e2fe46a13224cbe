import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JOB_TYPES, JobRuns } from '../src/tricircle/index.js';
import { ADMIN, MEMBER, call, startAdminApi, type RunningAdminApi } from './support/admin-server.js';
import { engines, type TestDatabase } from './support/engines.js';

interface Job {
  id: string;
  project_id: string;
  type: string;
  timestamp: string;
  status: string;
  resource: Record<string, string>;
  error: string | null;
}

const PROJECT = 'project-a';
const OTHER = 'project-b';

/** A resource for `type` whose primary resource is `primary` (a routing makes it the project's). */
function resourceFor(type: keyof typeof JOB_TYPES, primary: string): Record<string, string> {
  const spec = JOB_TYPES[type];
  const resource = Object.fromEntries(spec.resource.map((key) => [key, `${key}-value`]));
  if ('projectKey' in spec.owner) resource[spec.owner.projectKey] = PROJECT;
  else resource[spec.owner.key] = primary;
  return resource;
}

for (const engine of await engines()) {
  describe(`jobs on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let api: RunningAdminApi;
    let url: string;
    let runs: JobRuns;
    const get = (path: string, headers: Record<string, string> = ADMIN) => call(url, 'GET', path, undefined, headers);
    const post = (body: unknown, headers = ADMIN) => call(url, 'POST', '/v1.0/jobs', body, headers);
    const byType: Record<string, Job> = {};

    before(async () => {
      database = await engine.create();
      api = await startAdminApi(database.connection);
      url = api.url;
      runs = new JobRuns(api.db, 180);
      await call(url, 'POST', '/v1.0/pods', { pod: { region_name: 'CentralRegion' } });
      const pod = (await call(url, 'POST', '/v1.0/pods', { pod: { region_name: 'RegionOne', az_name: 'az1' } })).body.pod.pod_id;
      // Each routing-owned job type needs its primary resource mapped in the job's project.
      for (const routingType of new Set(Object.values(JOB_TYPES).flatMap((s) => ('routing' in s.owner ? [s.owner.routing] : [])))) {
        const r = await call(url, 'POST', '/v1.0/routings', {
          routing: { top_id: `${routingType}-top`, bottom_id: 'b', pod_id: pod, project_id: PROJECT, resource_type: routingType },
        });
        assert.equal(r.status, 200, r.text);
      }
    });
    after(async () => {
      await api?.close();
      await database?.drop();
    });

    it('lists the schema of all 14 job types in order', async () => {
      const r = await get('/v1.0/jobs/schemas');
      assert.equal(r.status, 200);
      assert.equal(r.body.schemas.length, 14);
      assert.deepEqual(r.body.schemas[1], { type: 'router_setup', resource: ['pod_id', 'router_id', 'network_id'] });
      assert.equal((await get('/v1.0/jobs/schemas_1')).status, 404);
    });

    it('creates a NEW job of every type and returns the job it created', async () => {
      for (const [type, spec] of Object.entries(JOB_TYPES)) {
        const primary = 'routing' in spec.owner ? `${spec.owner.routing}-top` : '';
        const resource = resourceFor(type as keyof typeof JOB_TYPES, primary);
        const r = await post({ job: { type, project_id: PROJECT, resource } });
        assert.equal(r.status, 200, `${type}: ${r.text}`);
        assert.equal(r.body.job.status, 'NEW');
        assert.equal(r.body.job.type, type);
        assert.equal(r.body.job.project_id, PROJECT);
        assert.deepEqual(r.body.job.resource, resource);
        assert.match(r.body.job.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        byType[type] = r.body.job;
      }
    });

    it('keeps each identical job as its own NEW row', async () => {
      const body = { job: { type: 'seg_rule_setup', project_id: PROJECT, resource: { project_id: PROJECT } } };
      const ids = new Set([(await post(body)).body.job.id, (await post(body)).body.job.id, byType.seg_rule_setup!.id]);
      assert.equal(ids.size, 3);
      const listed = await get('/v1.0/jobs?type=seg_rule_setup');
      assert.equal(listed.body.jobs.length, 3);
    });

    it("refuses a job whose resource is not the project's with 400 and writes nothing", async () => {
      const before = (await get('/v1.0/jobs')).body.jobs.length;
      const cases = [
        { type: 'router_setup', project_id: OTHER, resource: { pod_id: 'p', router_id: 'router-top', network_id: 'n' } },
        { type: 'router_setup', project_id: PROJECT, resource: { pod_id: 'p', router_id: 'unknown-router', network_id: 'n' } },
        { type: 'seg_rule_setup', project_id: PROJECT, resource: { project_id: OTHER } },
        { type: 'resource_recycle', project_id: OTHER, resource: { project_id: PROJECT } },
      ];
      for (const job of cases) {
        const r = await post({ job });
        assert.equal(r.status, 400, JSON.stringify(job));
        assert.equal(r.body.badRequest.code, 400);
      }
      assert.equal((await get('/v1.0/jobs')).body.jobs.length, before);
    });

    it('shows one job and lists with filters by type, status (any case) and project', async () => {
      const job = byType.router_setup!;
      assert.deepEqual((await get(`/v1.0/jobs/${job.id}`)).body.job, job);
      const list = await get('/v1.0/jobs');
      assert.equal(list.body.jobs.length, 16);
      const stamps = list.body.jobs.map((j: Job) => j.timestamp);
      assert.deepEqual(stamps, [...stamps].sort().reverse(), 'newest first');
      assert.deepEqual((await get('/v1.0/jobs/detail')).body, list.body);
      assert.equal((await get('/v1.0/jobs?status=new')).body.jobs.length, 16);
      assert.equal((await get('/v1.0/jobs?status=NeW&type=router_setup')).body.jobs.length, 1);
      assert.deepEqual((await get('/v1.0/jobs?status=running')).body.jobs, []);
      assert.deepEqual((await get('/v1.0/jobs?status=bogus')).body.jobs, []);
      assert.deepEqual((await get('/v1.0/jobs?status=fail&type=router_setup')).body.jobs, []);
      assert.deepEqual((await get(`/v1.0/jobs?project_id=${OTHER}`)).body.jobs, []);
      assert.equal((await get(`/v1.0/jobs?project_id=${PROJECT}`)).body.jobs.length, 16);
    });

    it('pages from the active table into the job log, each job once', async () => {
      // Run one job to success so the log has a row, as the engine does: claim, tag, finish.
      const job = byType.configure_route!;
      const key = { type: 'configure_route', resourceId: job.resource.router_id!, projectId: PROJECT };
      const running = (await runs.claim(key))!;
      assert.equal(await runs.mark(key, running), 1);
      await runs.finish(running, key, { ok: true });
      const success = await get('/v1.0/jobs?status=success');
      assert.deepEqual(
        success.body.jobs.map((j: Job) => [j.id, j.status]),
        [[job.id, 'SUCCESS']],
      );
      assert.equal((await get(`/v1.0/jobs/${job.id}`)).body.job.status, 'SUCCESS', 'the job keeps its id in the log');
      assert.equal((await get(`/v1.0/jobs/${running}`)).status, 404, 'the run lock is gone');

      const all = (await get('/v1.0/jobs')).body.jobs.map((j: Job) => j.id);
      assert.equal(all.length, 16, 'the consumed NEW job moved to the log');
      assert.equal(all[all.length - 1], job.id, 'log rows come after active rows');
      const seen: string[] = [];
      let path: string | undefined = '/v1.0/jobs?limit=4';
      while (path) {
        const page = await get(path);
        assert.equal(page.status, 200, page.text);
        seen.push(...page.body.jobs.map((j: Job) => j.id));
        path = page.body.jobs_links?.[0]?.href;
      }
      assert.deepEqual(seen, all);
      assert.deepEqual((await get(`/v1.0/jobs?marker=${job.id}`)).body.jobs, []);
    });

    it('redoes NEW and FAIL jobs with a fresh NEW job and refuses RUNNING, SUCCESS and logged ones', async () => {
      const redo = await call(url, 'PUT', `/v1.0/jobs/${byType.update_network!.id}`);
      assert.equal(redo.status, 200, redo.text);
      assert.equal(redo.body.job.status, 'NEW');
      assert.notEqual(redo.body.job.id, byType.update_network!.id);
      assert.deepEqual(redo.body.job.resource, byType.update_network!.resource);

      const sub = byType.subnet_update!;
      const key = { type: 'subnet_update', resourceId: Object.values(sub.resource).join('#'), projectId: PROJECT };
      const running = (await runs.claim(key))!;
      assert.equal((await get(`/v1.0/jobs/${running}`)).body.job.status, 'RUNNING');
      assert.equal((await call(url, 'PUT', `/v1.0/jobs/${running}`)).status, 400);
      assert.equal((await call(url, 'DELETE', `/v1.0/jobs/${running}`)).status, 400);
      await runs.mark(key, running);
      await runs.finish(running, key, { ok: false, error: 'RegionOne answered 400: bad subnet' });
      const failed = (await get(`/v1.0/jobs/${sub.id}`)).body.job;
      assert.equal(failed.status, 'FAIL');
      assert.equal(failed.error, 'RegionOne answered 400: bad subnet', 'the failure is shown with the job');
      assert.equal((await call(url, 'PUT', `/v1.0/jobs/${sub.id}`)).status, 200);

      const logged = (await get('/v1.0/jobs?status=success')).body.jobs[0].id;
      const refused = await call(url, 'PUT', `/v1.0/jobs/${logged}`);
      assert.equal(refused.status, 400);
      assert.match(refused.body.badRequest.message, /from job log/);
      assert.equal((await call(url, 'DELETE', `/v1.0/jobs/${logged}`)).status, 400);
    });

    it('deletes NEW and FAIL jobs, and finishes a SUCCESS job still in the active table', async () => {
      const job = byType.port_delete!;
      const deleted = await call(url, 'DELETE', `/v1.0/jobs/${job.id}`);
      assert.equal(deleted.status, 200);
      assert.deepEqual(deleted.body, {});
      assert.equal((await get(`/v1.0/jobs/${job.id}`)).status, 404);
      assert.equal((await call(url, 'DELETE', `/v1.0/jobs/${job.id}`)).status, 404);
      assert.equal((await call(url, 'PUT', `/v1.0/jobs/${job.id}`)).status, 404);

      // A SUCCESS row left in the active table (a worker that died between its two writes).
      const trunk = byType.trunk_sync!;
      await api.db.kysely.updateTable('async_jobs').set({ status: 'SUCCESS' }).where('id', '=', trunk.id).execute();
      assert.equal((await call(url, 'DELETE', `/v1.0/jobs/${trunk.id}`)).status, 200);
      const moved = await get(`/v1.0/jobs/${trunk.id}`);
      assert.equal(moved.body.job.status, 'SUCCESS');
      assert.equal((await call(url, 'DELETE', `/v1.0/jobs/${trunk.id}`)).status, 400, 'now in the log');
    });

    it('denies non-admins every job operation with 403', async () => {
      const id = byType.qos_update!.id;
      for (const [method, path, body] of [
        ['GET', '/v1.0/jobs'],
        ['GET', '/v1.0/jobs/detail'],
        ['GET', '/v1.0/jobs/schemas'],
        ['GET', `/v1.0/jobs/${id}`],
        ['POST', '/v1.0/jobs', { job: { type: 'seg_rule_setup', project_id: 'member-project', resource: { project_id: 'member-project' } } }],
        ['PUT', `/v1.0/jobs/${id}`],
        ['DELETE', `/v1.0/jobs/${id}`],
      ] as Array<[string, string, unknown?]>) {
        const r = await call(url, method, path, body, MEMBER);
        assert.equal(r.status, 403, `${method} ${path}`);
        assert.equal(r.body.forbidden.code, 403);
      }
      assert.equal((await get(`/v1.0/jobs/${id}`)).body.job.status, 'NEW');
    });
  });
}
