import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../src/db/index.js';
import { call, startAdminApi, type RunningAdminApi } from './support/admin-server.js';
import { engines, type TestDatabase } from './support/engines.js';

// Every Admin API endpoint against bad requests: each gets its documented 4xx in the API's
// error format with a message naming what was wrong, and the database is left untouched.

interface BadCase {
  name: string;
  method: string;
  path: string;
  /** A string is sent verbatim as the body (for malformed JSON). */
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  /** What the error message must mention. */
  message: RegExp;
}

const TABLES = ['pods', 'resource_routings', 'async_jobs', 'async_job_logs', 'cached_endpoints', 'shadow_agents'] as const;

async function snapshot(db: Db): Promise<string> {
  const parts: unknown[] = [];
  for (const table of TABLES) parts.push(await db.kysely.selectFrom(table).selectAll().execute());
  return JSON.stringify(parts);
}

const KIND: Record<number, string> = {
  400: 'badRequest',
  404: 'itemNotFound',
  405: 'methodNotAllowed',
  409: 'conflictingRequest',
  413: 'requestEntityTooLarge',
  415: 'unsupportedMediaType',
  422: 'unprocessableEntity',
};

function cases(podId: string, routingId: number, jobId: string): BadCase[] {
  const routing = { top_id: 't', bottom_id: 'b', pod_id: podId, project_id: 'p', resource_type: 'network' };
  const job = { type: 'seg_rule_setup', project_id: 'p', resource: { project_id: 'p' } };
  const big = 'x'.repeat(200_000);
  const c: BadCase[] = [
    // Bodies that are not what a create expects, on each collection.
    ...['pods', 'routings', 'jobs'].flatMap((collection): BadCase[] => [
      { name: `${collection}: malformed JSON`, method: 'POST', path: `/v1.0/${collection}`, body: '{"x": ', status: 400, message: /Malformed JSON/ },
      { name: `${collection}: JSON array`, method: 'POST', path: `/v1.0/${collection}`, body: [], status: 400, message: /JSON object/ },
      {
        name: `${collection}: wrong body key`,
        method: 'POST',
        path: `/v1.0/${collection}`,
        body: { thing: {} },
        status: 400,
        message: /Request body not found/,
      },
      {
        name: `${collection}: body key not an object`,
        method: 'POST',
        path: `/v1.0/${collection}`,
        body: { [collection.slice(0, -1)]: 'x' },
        status: 400,
        message: /must be a JSON object/,
      },
      { name: `${collection}: oversize body`, method: 'POST', path: `/v1.0/${collection}`, body: { pad: big }, status: 413, message: /larger than the limit/ },
      {
        name: `${collection}: not JSON`,
        method: 'POST',
        path: `/v1.0/${collection}`,
        body: undefined,
        headers: { 'content-type': 'text/plain' },
        status: 415,
        message: /application\/json/,
      },
      {
        name: `${collection}: unsupported filter`,
        method: 'GET',
        path: `/v1.0/${collection}?colour=red&age=3`,
        status: 400,
        message: /Unsupported filter type: age, colour/,
      },
      { name: `${collection}: PATCH`, method: 'PATCH', path: `/v1.0/${collection}`, status: 405, message: /PATCH is not allowed/ },
    ]),
    // pods
    {
      name: 'pod: region_name a number',
      method: 'POST',
      path: '/v1.0/pods',
      body: { pod: { region_name: 5, az_name: 'a' } },
      status: 400,
      message: /region_name must be a string/,
    },
    {
      name: 'pod: az_name a list',
      method: 'POST',
      path: '/v1.0/pods',
      body: { pod: { region_name: 'R', az_name: ['a'] } },
      status: 400,
      message: /az_name must be a string, not an array/,
    },
    {
      name: 'pod: unknown attribute',
      method: 'POST',
      path: '/v1.0/pods',
      body: { pod: { region_name: 'R', az_name: 'a', regoin: 'x' } },
      status: 400,
      message: /Unrecognized attribute.*regoin/,
    },
    {
      name: 'pod: region_name too long',
      method: 'POST',
      path: '/v1.0/pods',
      body: { pod: { region_name: 'R'.repeat(256), az_name: 'a' } },
      status: 400,
      message: /region_name is longer than 255/,
    },
    {
      name: 'pod: blank region_name',
      method: 'POST',
      path: '/v1.0/pods',
      body: { pod: { region_name: ' ', az_name: 'a' } },
      status: 422,
      message: /region_name/,
    },
    {
      name: 'pod: duplicate region',
      method: 'POST',
      path: '/v1.0/pods',
      body: { pod: { region_name: 'RegionOne', az_name: 'a' } },
      status: 409,
      message: /RegionOne already exists/,
    },
    { name: 'pod: id not a UUID', method: 'GET', path: '/v1.0/pods/not-a-uuid', status: 404, message: /Pod not-a-uuid could not be found/ },
    { name: 'pod: delete unknown', method: 'DELETE', path: '/v1.0/pods/00000000-0000-0000-0000-000000000000', status: 404, message: /could not be found/ },
    { name: 'pod: PUT', method: 'PUT', path: `/v1.0/pods/${podId}`, body: { pod: {} }, status: 405, message: /PUT is not allowed/ },
    // routings
    ...Object.keys(routing).flatMap((field): BadCase[] => [
      {
        name: `routing: missing ${field}`,
        method: 'POST',
        path: '/v1.0/routings',
        body: { routing: { ...routing, [field]: undefined } },
        status: 400,
        message: new RegExp(`Field ${field} can not be empty`),
      },
      {
        name: `routing: blank ${field}`,
        method: 'POST',
        path: '/v1.0/routings',
        body: { routing: { ...routing, [field]: '  ' } },
        status: 400,
        message: new RegExp(`Field ${field} can not be empty`),
      },
      {
        name: `routing: null ${field}`,
        method: 'POST',
        path: '/v1.0/routings',
        body: { routing: { ...routing, [field]: null } },
        status: 400,
        message: new RegExp(`Field ${field} can not be empty`),
      },
      {
        name: `routing: ${field} a number`,
        method: 'POST',
        path: '/v1.0/routings',
        body: { routing: { ...routing, [field]: 7 } },
        status: 400,
        message: new RegExp(`${field} must be a string`),
      },
    ]),
    {
      name: 'routing: unknown resource type',
      method: 'POST',
      path: '/v1.0/routings',
      body: { routing: { ...routing, resource_type: 'server' } },
      status: 400,
      message: /no such resource type: server/,
    },
    {
      name: 'routing: internal resource type',
      method: 'POST',
      path: '/v1.0/routings',
      body: { routing: { ...routing, resource_type: 'shadow_port' } },
      status: 400,
      message: /no such resource type: shadow_port/,
    },
    {
      name: 'routing: unknown pod',
      method: 'POST',
      path: '/v1.0/routings',
      body: { routing: { ...routing, pod_id: 'no-such-pod' } },
      status: 400,
      message: /Pod no-such-pod not found/,
    },
    {
      name: 'routing: top_id too long',
      method: 'POST',
      path: '/v1.0/routings',
      body: { routing: { ...routing, top_id: 'x'.repeat(128) } },
      status: 400,
      message: /top_id is longer than 127/,
    },
    {
      name: 'routing: unknown attribute',
      method: 'POST',
      path: '/v1.0/routings',
      body: { routing: { ...routing, colour: 'red' } },
      status: 400,
      message: /Unrecognized attribute.*colour/,
    },
    {
      name: 'routing: duplicate',
      method: 'POST',
      path: '/v1.0/routings',
      body: { routing: { ...routing, top_id: 'existing' } },
      status: 409,
      message: /already exists/,
    },
    { name: 'routing: id not an integer', method: 'GET', path: '/v1.0/routings/abc', status: 404, message: /routing abc not found/ },
    { name: 'routing: id negative', method: 'DELETE', path: '/v1.0/routings/-1', status: 404, message: /routing -1 not found/ },
    { name: 'routing: unknown id', method: 'GET', path: '/v1.0/routings/999999999', status: 404, message: /routing 999999999 not found/ },
    {
      name: 'routing: limit negative',
      method: 'GET',
      path: '/v1.0/routings?limit=-1',
      status: 400,
      message: /Limit should be a non-negative integer, not '-1'/,
    },
    { name: 'routing: limit not numeric', method: 'GET', path: '/v1.0/routings?limit=20x', status: 400, message: /not '20x'/ },
    { name: 'routing: limit twice', method: 'GET', path: '/v1.0/routings?limit=1&limit=2', status: 400, message: /limit may be given only once/ },
    { name: 'routing: marker unknown', method: 'GET', path: '/v1.0/routings?marker=999999', status: 400, message: /Marker 999999 is an invalid ID/ },
    ...['-1', '0', 'last'].map((m): BadCase => ({
      name: `routing: marker ${m}`,
      method: 'GET',
      path: `/v1.0/routings?marker=${m}`,
      status: 400,
      message: new RegExp(`Marker ${m} is an invalid ID`),
    })),
    { name: 'routing: id filter not an integer', method: 'GET', path: '/v1.0/routings?id=x1', status: 400, message: /Filter id should be an integer/ },
    {
      name: 'routing: update without body key',
      method: 'PUT',
      path: `/v1.0/routings/${routingId}`,
      body: { bottom_id: 'x' },
      status: 400,
      message: /Request body not found/,
    },
    {
      name: 'routing: update blank value',
      method: 'PUT',
      path: `/v1.0/routings/${routingId}`,
      body: { routing: { bottom_id: '' } },
      status: 400,
      message: /bottom_id can not be empty/,
    },
    {
      name: 'routing: update null value',
      method: 'PUT',
      path: `/v1.0/routings/${routingId}`,
      body: { routing: { top_id: null } },
      status: 400,
      message: /top_id can not be empty/,
    },
    {
      name: 'routing: update bad type',
      method: 'PUT',
      path: `/v1.0/routings/${routingId}`,
      body: { routing: { resource_type: 'vm' } },
      status: 400,
      message: /no such resource type: vm/,
    },
    {
      name: 'routing: update unknown pod',
      method: 'PUT',
      path: `/v1.0/routings/${routingId}`,
      body: { routing: { pod_id: 'ghost' } },
      status: 400,
      message: /Pod ghost not found/,
    },
    {
      name: 'routing: update id',
      method: 'PUT',
      path: `/v1.0/routings/${routingId}`,
      body: { routing: { id: routingId + 1000 } },
      status: 400,
      message: /id can not be changed/,
    },
    {
      name: 'routing: update unknown id',
      method: 'PUT',
      path: '/v1.0/routings/424242',
      body: { routing: { bottom_id: 'x' } },
      status: 404,
      message: /routing 424242 not found/,
    },
    { name: 'routing: POST on an item', method: 'POST', path: `/v1.0/routings/${routingId}`, body: { routing }, status: 405, message: /POST is not allowed/ },
    // jobs
    { name: 'job: no type', method: 'POST', path: '/v1.0/jobs', body: { job: { ...job, type: undefined } }, status: 400, message: /Job type isn't provided/ },
    { name: 'job: blank type', method: 'POST', path: '/v1.0/jobs', body: { job: { ...job, type: ' ' } }, status: 400, message: /Job type can't be empty/ },
    { name: 'job: type a number', method: 'POST', path: '/v1.0/jobs', body: { job: { ...job, type: 3 } }, status: 400, message: /Job type must be a string/ },
    {
      name: 'job: no project',
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, project_id: undefined } },
      status: 400,
      message: /Project ID isn't provided/,
    },
    {
      name: 'job: blank project',
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, project_id: '' } },
      status: 400,
      message: /Project ID can't be empty/,
    },
    {
      name: 'job: unknown type',
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, type: 'reboot' } },
      status: 400,
      message: /Job type reboot is not supported/,
    },
    {
      name: 'job: no resource',
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, resource: undefined } },
      status: 400,
      message: /Resource is not provided/,
    },
    {
      name: 'job: resource a list',
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, resource: ['p'] } },
      status: 400,
      message: /Resource must be a JSON object/,
    },
    {
      name: 'job: missing resource key',
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, type: 'router_setup', resource: { pod_id: 'a', router_id: 'b' } } },
      status: 400,
      message: /missing: network_id/,
    },
    {
      name: 'job: extra resource key',
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, resource: { project_id: 'p', more: 'x' } } },
      status: 400,
      message: /not used by seg_rule_setup: more/,
    },
    {
      name: 'job: blank resource value',
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, resource: { project_id: '' } } },
      status: 400,
      message: /Resource project_id can't be empty/,
    },
    {
      name: "job: resource not the project's",
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, type: 'port_delete', resource: { pod_id: 'a', port_id: 'nope' } } },
      status: 400,
      message: /port nope doesn't belong to the project p/,
    },
    {
      name: 'job: unknown attribute',
      method: 'POST',
      path: '/v1.0/jobs',
      body: { job: { ...job, priority: 1 } },
      status: 400,
      message: /Unrecognized attribute.*priority/,
    },
    { name: 'job: unknown id', method: 'GET', path: '/v1.0/jobs/not-a-job', status: 404, message: /Job not-a-job not found/ },
    { name: 'job: redo unknown', method: 'PUT', path: '/v1.0/jobs/00000000-0000-0000-0000-000000000000', status: 404, message: /not found/ },
    { name: 'job: delete unknown', method: 'DELETE', path: '/v1.0/jobs/-123', status: 404, message: /Job -123 not found/ },
    { name: 'job: unknown marker', method: 'GET', path: '/v1.0/jobs?marker=-123', status: 400, message: /Invalid marker/ },
    { name: 'job: limit not numeric', method: 'GET', path: '/v1.0/jobs?limit=ten', status: 400, message: /not 'ten'/ },
    { name: 'job: POST on schemas', method: 'POST', path: '/v1.0/jobs/schemas', body: { job }, status: 405, message: /POST is not allowed/ },
    { name: 'job: POST on an item', method: 'POST', path: `/v1.0/jobs/${jobId}`, body: { job }, status: 405, message: /POST is not allowed/ },
    // elsewhere
    { name: 'unknown collection', method: 'GET', path: '/v1.0/servers', status: 404, message: /could not be found/ },
  ];
  return c;
}

for (const engine of await engines()) {
  describe(`bad requests to the Admin API on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let api: RunningAdminApi;
    let table: BadCase[];

    before(async () => {
      database = await engine.create();
      api = await startAdminApi(database.connection);
      await call(api.url, 'POST', '/v1.0/pods', { pod: { region_name: 'CentralRegion' } });
      const podId = (await call(api.url, 'POST', '/v1.0/pods', { pod: { region_name: 'RegionOne', az_name: 'az1' } })).body.pod.pod_id;
      const routing = await call(api.url, 'POST', '/v1.0/routings', {
        routing: { top_id: 'existing', bottom_id: 'b', pod_id: podId, project_id: 'p', resource_type: 'network' },
      });
      const job = await call(api.url, 'POST', '/v1.0/jobs', { job: { type: 'seg_rule_setup', project_id: 'p', resource: { project_id: 'p' } } });
      table = cases(podId, routing.body.routing.id, job.body.job.id);
    });
    after(async () => {
      await api?.close();
      await database?.drop();
    });

    it('answers each bad request with its 4xx, names the problem and writes nothing', async () => {
      const failures: string[] = [];
      for (const c of table) {
        const before = await snapshot(api.db);
        const headers: Record<string, string> = { ...c.headers };
        let body: string | undefined;
        if (c.body !== undefined) {
          body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
          headers['content-type'] ??= 'application/json';
        } else if (c.headers?.['content-type']) {
          body = 'region_name=R';
        }
        const response = await fetch(`${api.url}${c.path}`, { method: c.method, headers, body });
        const text = await response.text();
        let parsed: Record<string, { message: string; code: number }> | undefined;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const error = parsed?.[KIND[c.status] ?? ''];
        if (response.status !== c.status) failures.push(`${c.name}: status ${response.status}, wanted ${c.status}: ${text}`);
        else if (!error || error.code !== c.status) failures.push(`${c.name}: body ${text} is not {"${KIND[c.status]}": {...}}`);
        else if (!c.message.test(error.message)) failures.push(`${c.name}: message "${error.message}" does not match ${c.message}`);
        if ((await snapshot(api.db)) !== before) failures.push(`${c.name}: the database changed`);
      }
      assert.deepEqual(failures, []);
      assert.ok(table.length > 90, `${table.length} cases`);
    });
  });
}
