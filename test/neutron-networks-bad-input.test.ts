import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestDatabase } from './support/engines.js';
import { ADMIN, MEMBER, neutronClient, startNeutronApi, type Headers, type RunningNeutronApi } from './support/neutron-server.js';

// Bad input on /v2.0/networks, on every engine: each request gets the status, error type and
// message the real Neutron (Zed) gives it (compared request by request), nothing answers
// 500, and nothing is written. Where this server deliberately differs, the row says so.

interface Case {
  name: string;
  method: string;
  /** `:id` is replaced by an existing network's id. */
  path: string;
  /** Sent verbatim when a string. */
  body?: unknown;
  headers?: Headers;
  contentType?: string;
  status: number;
  type: string;
  message: string;
}

const bad = (name: string, method: string, path: string, body: unknown, status: number, type: string, message: string): Case => ({
  name,
  method,
  path,
  body,
  status,
  type,
  message,
});
const post = (name: string, body: unknown, message: string, type = 'HTTPBadRequest', status = 400) =>
  bad(name, 'POST', '/v2.0/networks', body, status, type, message);
const put = (name: string, body: unknown, message: string, type = 'HTTPBadRequest') => bad(name, 'PUT', '/v2.0/networks/:id', body, 400, type, message);
const list = (name: string, query: string, message: string, type = 'HTTPBadRequest') =>
  bad(name, 'GET', `/v2.0/networks?${query}`, undefined, 400, type, message);
const long = 'n'.repeat(256);

const CASES: Case[] = [
  post('malformed JSON', '{"network": {', 'Body contains invalid data'),
  post('a list body', '[1]', 'Body contains invalid data'),
  post('a string body', '"network"', 'Body contains invalid data'),
  post('null body', 'null', 'Body contains invalid data'),
  post('empty object', {}, "Unable to find 'network' in request body"),
  post('wrong body key', { net: { name: 'x' } }, "Unable to find 'network' in request body"),
  post('null resource', { network: null }, "Unable to find 'network' in request body"),
  post('resource not an object', { network: 'x' }, "Object 'network' contains invalid data"),
  post('bulk not a list', { networks: { name: 'x' } }, "Object 'network' contains invalid data"),
  post('empty bulk', { networks: [] }, 'Resources required'),
  post('bad item in bulk', { networks: [{ name: 'ok' }, 'x'] }, "Object 'network' contains invalid data"),
  post('unknown attribute in bulk', { networks: [{ name: 'ok' }, { nam: 'b' }] }, "Unrecognized attribute(s) 'nam'"),
  post('unknown attributes', { network: { bogus: 1, other: 2 } }, "Unrecognized attribute(s) 'bogus, other'"),
  post('read-only status', { network: { status: 'DOWN' } }, "Attribute 'status' not allowed in POST"),
  post('read-only id', { network: { id: '0e0e0e0e-0000-4000-8000-000000000000' } }, "Attribute 'id' not allowed in POST"),
  post('read-only subnets', { network: { subnets: [] } }, "Attribute 'subnets' not allowed in POST"),
  post('name not a string', { network: { name: 5 } }, "Invalid input for name. Reason: '5' is not a valid string."),
  post('name too long', { network: { name: long } }, `Invalid input for name. Reason: '${long}' exceeds maximum length of 255.`),
  post(
    'boolean not convertible',
    { network: { admin_state_up: 'maybe' } },
    "Invalid input for operation: 'maybe' cannot be converted to boolean.",
    'InvalidInput',
  ),
  post('shared as a list', { network: { shared: [] } }, "Invalid input for operation: '[]' cannot be converted to boolean.", 'InvalidInput'),
  post('mtu not an integer', { network: { mtu: 'abc' } }, "Invalid input for operation: 'abc' is not an integer.", 'InvalidInput'),
  // Zed takes any MTU and fails later on a subnet; this server refuses what IPv4 cannot carry.
  post('mtu too small', { network: { mtu: 10 } }, "Invalid input for mtu. Reason: '10' should be greater than or equal to 68."),
  post('AZ hints not a list', { network: { availability_zone_hints: 'nova' } }, "Invalid input for availability_zone_hints. Reason: 'nova' is not a list."),
  post('AZ hint not a string', { network: { availability_zone_hints: [1] } }, "Invalid input for availability_zone_hints. Reason: '1' is not a valid string."),
  post('unknown AZ', { network: { availability_zone_hints: ['nope'] } }, 'AvailabilityZone nope could not be found.', 'AvailabilityZoneNotFound', 404),
  post('project and tenant differ', { network: { project_id: 'a', tenant_id: 'b' } }, "'project_id' and 'tenant_id' do not match"),
  put('read-only status', { network: { status: 'DOWN' } }, 'Cannot update read-only attribute status'),
  put('read-only tenant_id', { network: { tenant_id: 'x' } }, 'Cannot update read-only attribute tenant_id'),
  put('unknown attribute', { network: { bogus: 1 } }, "Unrecognized attribute(s) 'bogus'"),
  put('bulk update', { networks: {} }, 'Bulk operation not supported'),
  put('resource not an object', { network: 'x' }, "Object 'network' contains invalid data"),
  put('no resource', { name: 'x' }, "Unable to find 'network' in request body"),
  put('malformed JSON', '{"network"', 'Body contains invalid data'),
  put('name not a string', { network: { name: ['x'] } }, 'Invalid input for name. Reason: \'["x"]\' is not a valid string.'),
  list('limit not a number', 'limit=abc', "Bad limit request: Limit must be an integer 0 or greater and not 'abc'.", 'BadRequest'),
  list('negative limit', 'limit=-1', "Bad limit request: Limit must be an integer 0 or greater and not '-1'.", 'BadRequest'),
  list('bad sort_dir', 'sort_key=name&sort_dir=up', "['up'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'"),
  list('unknown sort key', 'sort_key=bogus&sort_dir=asc', "['bogus'] is invalid attribute for sort_keys"),
  list('unsortable key', 'sort_key=tags&sort_dir=asc', "['tags'] is invalid attribute for sort_keys"),
  list('sort keys without dirs', 'sort_key=name', 'The number of sort_keys and sort_dirs must be same'),
  list('unknown filter', 'bogus=1', "['bogus'] is invalid attribute for filtering"),
  list('unfilterable attribute', 'subnets=x', "['subnets'] is invalid attribute for filtering"),
  list('boolean filter', 'shared=maybe', "Invalid input for operation: 'maybe' cannot be converted to boolean.", 'InvalidInput'),
  list('integer filter', 'mtu=big', "Invalid input for operation: 'big' is not an integer.", 'InvalidInput'),
  {
    ...list('provider filter by a member', 'provider:segmentation_id=5', "['provider:segmentation_id'] is invalid attribute for filtering"),
    headers: MEMBER,
  },
  bad(
    'unknown marker',
    'GET',
    '/v2.0/networks?limit=1&marker=0e0e0e0e-0000-4000-8000-000000000000',
    undefined,
    404,
    'NetworkNotFound',
    'Network 0e0e0e0e-0000-4000-8000-000000000000 could not be found.',
  ),
  // Zed has no size limit in its pipeline; this server keeps [DEFAULT] max_request_body_size.
  post(
    'oversize body',
    { network: { name: 'x', description: 'd'.repeat(200_000) } },
    'Request body is larger than the limit of the server',
    'HTTPRequestEntityTooLarge',
    413,
  ),
  // Zed reads any body as JSON; this server takes application/json only.
  { ...post('not JSON', '{"network": {}}', 'Request body must be application/json', 'HTTPUnsupportedMediaType', 415), contentType: 'text/plain' },
  bad(
    'PATCH on the collection',
    'PATCH',
    '/v2.0/networks',
    { network: {} },
    405,
    'HTTPMethodNotAllowed',
    'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  ),
  bad(
    'POST on an item',
    'POST',
    '/v2.0/networks/:id',
    { network: {} },
    405,
    'HTTPMethodNotAllowed',
    'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  ),
  bad(
    'DELETE on the collection',
    'DELETE',
    '/v2.0/networks',
    undefined,
    405,
    'HTTPMethodNotAllowed',
    'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  ),
  bad('unknown path', 'GET', '/v2.0/networks/:id/bogus', undefined, 404, 'HTTPNotFound', 'The resource could not be found.'),
];

for (const engine of await engines()) {
  describe(`Neutron networks: bad input on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let server: RunningNeutronApi;
    let existing: Record<string, any>;

    before(async () => {
      database = await engine.create();
      server = await startNeutronApi(database.connection);
      existing = await neutronClient(server.url).network({ name: 'existing' });
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    for (const c of CASES) {
      it(`${c.method} ${c.name}: ${c.status} ${c.type}`, async () => {
        const headers: Record<string, string> = { ...(c.headers ?? ADMIN) };
        let body: string | undefined;
        if (c.body !== undefined) {
          body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
          headers['content-type'] = c.contentType ?? 'application/json';
        }
        const response = await fetch(`${server.url}${c.path.replace(':id', existing.id)}`, { method: c.method, headers, body });
        const reply = await response.json();
        assert.equal(response.status, c.status, JSON.stringify(reply));
        assert.deepEqual(reply, { NeutronError: { type: c.type, message: c.message, detail: '' } });
      });
    }

    it('wrote nothing', async () => {
      const networks = await server.db.kysely.selectFrom('networks').selectAll().execute();
      assert.equal(networks.length, 1);
      assert.equal(Number(networks[0]!.revision_number), 1);
      assert.equal(networks[0]!.name, 'existing');
      const segments = await server.db.kysely.selectFrom('segment_allocations').selectAll().execute();
      assert.equal(segments.length, 1);
    });
  });
}
