import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createAdminApi } from '../src/admin/index.js';
import { loadConfig } from '../src/config/index.js';
import { openDb, parseConnection, type Db } from '../src/db/index.js';
import { ADMIN, MEMBER, call, startAdminApi, type RunningAdminApi } from './support/admin-server.js';
import { engines, type TestDatabase } from './support/engines.js';

// The Admin API v1.0 over real HTTP, on every database engine: behaviour that upstream
// Tricircle's clients rely on, with the fixes the issue asks for.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const engine of await engines()) {
  describe(`Admin API on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let api: RunningAdminApi;
    let url: string;
    const get = (path: string, headers: Record<string, string> = ADMIN) => call(url, 'GET', path, undefined, headers);
    const post = (path: string, body: unknown, headers: Record<string, string> = ADMIN) => call(url, 'POST', path, body, headers);

    before(async () => {
      database = await engine.create();
      api = await startAdminApi(database.connection, { DEFAULT: { pagination_max_limit: '50' } });
      url = api.url;
    });
    after(async () => {
      await api?.close();
      await database?.drop();
    });

    describe('versions and plumbing', () => {
      it('lists the one version at / and describes it at /v1.0', async () => {
        const root = await get('/', {});
        assert.equal(root.status, 200);
        assert.equal(root.body.versions.length, 1);
        assert.equal(root.body.versions[0].id, 'v1.0');
        assert.equal(root.body.versions[0].status, 'CURRENT');
        assert.equal(root.body.versions[0].links[0].href, `${url}/v1.0/`);
        const v1 = await get('/v1.0');
        assert.equal(v1.status, 200);
        assert.equal(v1.body.version, '1.0');
        assert.deepEqual(
          v1.body.links.map((l: { rel: string }) => l.rel),
          ['self', 'jobs', 'pods', 'routings'],
        );
      });

      it('answers other methods on / and /v1.0 with 405 and unknown paths with 404', async () => {
        for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD']) {
          assert.equal((await call(url, method, '/')).status, 405, `${method} /`);
          assert.equal((await call(url, method, '/v1.0')).status, 405, `${method} /v1.0`);
        }
        const patch = await call(url, 'PATCH', '/v1.0/123');
        assert.equal(patch.status, 404);
        assert.equal(patch.body.itemNotFound.code, 404);
        assert.equal((await get('/v2.0')).status, 404);
      });

      it('gives every response a request id, and keeps a well-formed one from the caller', async () => {
        const fresh = await get('/v1.0/pods');
        assert.match(fresh.headers.get('x-openstack-request-id') ?? '', /^req-[0-9a-f-]{36}$/);
        const mine = 'req-0b6f9a7e-2c2d-4d0e-9f5b-0123456789ab';
        const kept = await call(url, 'GET', '/v1.0/pods', undefined, { ...ADMIN, 'x-openstack-request-id': mine });
        assert.equal(kept.headers.get('x-openstack-request-id'), mine);
        const bad = await call(url, 'GET', '/v1.0/pods', undefined, { ...ADMIN, 'x-openstack-request-id': 'not-an-id' });
        assert.notEqual(bad.headers.get('x-openstack-request-id'), 'not-an-id');
      });

      it('reports health and Prometheus metrics by route and status', async () => {
        const health = await get('/healthz', {});
        assert.equal(health.status, 200);
        assert.equal(health.body.status, 'ok');
        await get('/v1.0/pods/00000000-0000-0000-0000-000000000000');
        const metrics = await get('/metrics', {});
        const lines = metrics.text.split('\n');
        assert.ok(lines.some((l) => /^http_requests_total\{method="GET",route="\/v1.0\/pods\/:pod_id",status="404",service="admin-api"\} [1-9]/.test(l)));
        assert.ok(lines.some((l) => l.startsWith('http_request_duration_seconds_count{service="admin-api",method="GET",route="/v1.0/pods",status="200"}')));
      });
    });

    describe('pods', () => {
      let central: { pod_id: string };
      let regionOne: { pod_id: string };

      it('creates the central pod with pod_az_name forced empty', async () => {
        const r = await post('/v1.0/pods', { pod: { region_name: ' CentralRegion ', pod_az_name: 'ignored' } });
        assert.equal(r.status, 200);
        assert.match(r.body.pod.pod_id, UUID);
        assert.deepEqual(
          { ...r.body.pod, pod_id: undefined },
          {
            pod_id: undefined,
            region_name: 'CentralRegion',
            az_name: '',
            pod_az_name: '',
            dc_name: '',
          },
        );
        central = r.body.pod;
      });

      it('creates regional pods', async () => {
        const one = await post('/v1.0/pods', { pod: { region_name: 'RegionOne', az_name: 'az1', pod_az_name: 'nova', dc_name: 'dc1' } });
        assert.equal(one.status, 200);
        assert.equal(one.body.pod.pod_az_name, 'nova');
        regionOne = one.body.pod;
        assert.equal((await post('/v1.0/pods', { pod: { region_name: 'RegionTwo', az_name: 'az2' } })).status, 200);
      });

      it('refuses a second central pod, a regional pod named as the central region and duplicate regions with 409', async () => {
        for (const pod of [{ region_name: 'OtherCentral' }, { region_name: 'CentralRegion', az_name: 'az9' }, { region_name: 'RegionOne', az_name: 'az3' }]) {
          const r = await post('/v1.0/pods', { pod });
          assert.equal(r.status, 409, JSON.stringify(pod));
          assert.equal(r.body.conflictingRequest.code, 409);
        }
      });

      it('refuses a pod without region_name with 422', async () => {
        for (const pod of [{}, { az_name: 'az1' }, { region_name: '   ', az_name: 'az1' }]) {
          const r = await post('/v1.0/pods', { pod });
          assert.equal(r.status, 422, JSON.stringify(pod));
          assert.match(r.body.unprocessableEntity.message, /region_name/);
        }
      });

      it('lists, filters and shows pods', async () => {
        const list = await get('/v1.0/pods');
        assert.equal(list.status, 200);
        assert.deepEqual(list.body.pods.map((p: { region_name: string }) => p.region_name).sort(), ['CentralRegion', 'RegionOne', 'RegionTwo']);
        const byAz = await get('/v1.0/pods?az_name=az1');
        assert.deepEqual(
          byAz.body.pods.map((p: { pod_id: string }) => p.pod_id),
          [regionOne.pod_id],
        );
        const shown = await get(`/v1.0/pods/${central.pod_id}`);
        assert.deepEqual(shown.body.pod, central);
      });

      it('refuses to delete a pod that routings use, then deletes it once they are gone', async () => {
        const routing = await post('/v1.0/routings', {
          routing: { top_id: 'net-in-use', bottom_id: 'b1', pod_id: regionOne.pod_id, project_id: 'p1', resource_type: 'network' },
        });
        assert.equal(routing.status, 200);
        const refused = await call(url, 'DELETE', `/v1.0/pods/${regionOne.pod_id}`);
        assert.equal(refused.status, 409);
        assert.match(refused.body.conflictingRequest.message, /in use by 1 resource routings/);
        assert.equal((await get(`/v1.0/pods/${regionOne.pod_id}`)).status, 200);
        assert.equal((await call(url, 'DELETE', `/v1.0/routings/${routing.body.routing.id}`)).status, 200);
        const deleted = await call(url, 'DELETE', `/v1.0/pods/${regionOne.pod_id}`);
        assert.equal(deleted.status, 200);
        assert.deepEqual(deleted.body, {});
        assert.equal((await get(`/v1.0/pods/${regionOne.pod_id}`)).status, 404);
        assert.equal((await call(url, 'DELETE', `/v1.0/pods/${regionOne.pod_id}`)).status, 404);
      });

      it('denies non-admins with 403 and a JSON body', async () => {
        for (const [method, path, body] of [
          ['GET', '/v1.0/pods'],
          ['POST', '/v1.0/pods', { pod: { region_name: 'X', az_name: 'x' } }],
          ['GET', `/v1.0/pods/${central.pod_id}`],
          ['DELETE', `/v1.0/pods/${central.pod_id}`],
        ] as Array<[string, string, unknown?]>) {
          const r = await call(url, method, path, body, MEMBER);
          assert.equal(r.status, 403, `${method} ${path}`);
          assert.match(r.body.forbidden.message, /admin_api:pods:/);
        }
        assert.equal((await get(`/v1.0/pods/${central.pod_id}`)).status, 200);
      });
    });
  });
}

describe('Admin API whose database is down', () => {
  let app: FastifyInstance;
  let db: Db;
  let url: string;
  before(async () => {
    // PostgreSQL on a port where nothing listens: every query fails to connect.
    const connection = 'postgresql://postgres@127.0.0.1:1/tricircle';
    const { config } = loadConfig({ env: {}, overrides: { DEFAULT: { auth_strategy: 'noauth' }, database: { connection } } });
    db = openDb(parseConnection(connection, '.'), 1);
    app = createAdminApi({ config, db, logger: pino({ level: 'silent' }) });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
    await db?.close();
  });

  it('answers 503 in the API format, and says so on /healthz', async () => {
    const list = await call(url, 'GET', '/v1.0/pods');
    assert.equal(list.status, 503);
    assert.deepEqual(list.body, { serviceUnavailable: { message: 'The database is unavailable; try again later', code: 503 } });
    const health = await call(url, 'GET', '/healthz', undefined, {});
    assert.equal(health.status, 503);
    assert.equal(health.body.status, 'unavailable');
    assert.equal((await call(url, 'GET', '/')).status, 200, 'version discovery needs no database');
  });
});
