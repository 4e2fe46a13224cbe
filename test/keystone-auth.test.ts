import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { call, startAdminApi, type RunningAdminApi } from './support/admin-server.js';
import { engines, type TestDatabase } from './support/engines.js';
import { issueToken, keystoneUp } from './support/keystone.js';
import { closedPort } from './support/net.js';

// auth_strategy = keystone against a real Keystone (Debian's, started by
// scripts/keystone-up.sh): tokens issued by it, validated by the Admin API, revoked in it.
// Where that Keystone cannot be started the suite is skipped, unless
// TRICIRCLE_TEST_REQUIRE_KEYSTONE=1 (CI), where that is a failure.

const BIN = fileURLToPath(new URL('../bin/tricircle.js', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));
// The host's OS_* variables must not steer the CLI under test.
const BASE_ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_')));

interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ProcessRun> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('Admin API with auth_strategy = keystone (real Keystone)', () => {
  let unavailable: string | undefined;
  let keystone: string; // http://127.0.0.1:<port>/v3
  const databases: TestDatabase[] = [];
  const servers: RunningAdminApi[] = [];
  let cached: RunningAdminApi; // token_cache_time = 300
  let uncached: RunningAdminApi; // token_cache_time = 0
  let unreachable: RunningAdminApi; // auth_url on a closed port
  let misconfigured: RunningAdminApi; // the service user's password is wrong
  let adminToken: string;
  let demoToken: string;
  const WWW_AUTHENTICATE_URI = 'http://127.0.0.1:35357';

  /** A test that is skipped, with the reason, when Keystone could not be started. */
  const test = (name: string, fn: () => Promise<void>) =>
    it(name, async (t: TestContext) => {
      if (unavailable) return t.skip(unavailable);
      await fn();
    });

  /** Keystone's REST API as the admin: the status and the JSON body, if any. */
  async function asAdmin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${keystone}${path}`, {
      method,
      headers: { 'x-auth-token': adminToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Keystone's own answer on `token` (200 valid, 404 revoked or unknown). */
  const keystoneStatusOf = async (token: string) => (await asAdmin('GET', '/auth/tokens', undefined, { 'x-subject-token': token })).status;

  async function revoke(token: string): Promise<void> {
    const { status } = await asAdmin('DELETE', '/auth/tokens', undefined, { 'x-subject-token': token });
    assert.equal(status, 204, 'Keystone did not revoke the token');
  }

  async function server(keystoneAuthtoken: Record<string, string>): Promise<RunningAdminApi> {
    const sqlite = (await engines()).find((engine) => engine.name === 'sqlite')!;
    const database = await sqlite.create();
    databases.push(database);
    const api = await startAdminApi(database.connection, {
      DEFAULT: { auth_strategy: 'keystone' },
      keystone_authtoken: {
        auth_url: keystone,
        username: 'tricircle',
        password: 'tricircle',
        project_name: 'service',
        ...keystoneAuthtoken,
      },
    });
    servers.push(api);
    return api;
  }

  const withToken = (token: string) => ({ 'x-auth-token': token });

  before(async () => {
    const up = await keystoneUp();
    if (!up.url) {
      unavailable = `no Keystone here: ${up.problem}`;
      return;
    }
    keystone = up.url;
    assert.match(keystone, /^http:\/\/127\.0\.0\.1:\d+\/v3$/);
    cached = await server({ token_cache_time: '300', www_authenticate_uri: WWW_AUTHENTICATE_URI });
    uncached = await server({ token_cache_time: '0' });
    unreachable = await server({ auth_url: `http://127.0.0.1:${await closedPort()}/v3`, http_connect_timeout: '2' });
    misconfigured = await server({ password: 'not-the-password' });
    adminToken = await issueToken(keystone, 'admin', 'admin', 'admin');
    demoToken = await issueToken(keystone, 'demo', 'demo', 'demo');
  });
  after(async () => {
    for (const api of servers) await api.close();
    for (const database of databases) await database.drop();
  });

  test('serves version discovery without a token', async () => {
    const root = await call(cached.url, 'GET', '/', undefined, {});
    assert.equal(root.status, 200);
    assert.equal(root.body.versions[0].id, 'v1.0');
    // A bad token on a public path is not looked at either.
    assert.equal((await call(cached.url, 'GET', '/', undefined, withToken('garbage'))).status, 200);
    assert.equal((await call(unreachable.url, 'GET', '/', undefined, {})).status, 200);
  });

  test('answers a request without a token with 401 and where to get one', async () => {
    for (const [api, uri] of [
      [cached, WWW_AUTHENTICATE_URI],
      [uncached, keystone], // www_authenticate_uri unset: auth_url
    ] as const) {
      const r = await call(api.url, 'GET', '/v1.0/pods', undefined, {});
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 401);
      assert.equal(typeof r.body.error.message, 'string');
      assert.equal(r.headers.get('www-authenticate'), `Keystone uri="${uri}"`);
    }
  });

  test('answers a token Keystone does not know with 401', async () => {
    for (const token of ['garbage', 'gAAAAABnotAFernetTokenAtAll0123456789']) {
      const r = await call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(token));
      assert.equal(r.status, 401, token);
      assert.equal(r.body.error.code, 401);
      assert.equal(r.headers.get('www-authenticate'), `Keystone uri="${WWW_AUTHENTICATE_URI}"`);
    }
    const post = await call(cached.url, 'POST', '/v1.0/pods', { pod: { region_name: 'Nope' } }, withToken('garbage'));
    assert.equal(post.status, 401);
    const pods = await call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(adminToken));
    assert.equal(
      pods.body.pods.some((p: { region_name: string }) => p.region_name === 'Nope'),
      false,
    );
  });

  test('authenticates a path the router reaches only after decoding it', async () => {
    // %76 is "v": the router serves /%761.0/pods as /v1.0/pods, so it needs a token too.
    for (const path of ['/%761.0/pods', '/v1%2E0/pods']) {
      const r = await call(cached.url, 'GET', path, undefined, {});
      assert.equal(r.status, 401, path);
      assert.equal(r.body.error.code, 401);
      assert.equal((await call(cached.url, 'GET', path, undefined, withToken(demoToken))).status, 403, path);
      assert.equal((await call(cached.url, 'GET', path, undefined, withToken(adminToken))).status, 200, path);
    }
  });

  test('lets the admin of project admin list and create pods', async () => {
    const empty = await call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(adminToken));
    assert.equal(empty.status, 200);
    const created = await call(cached.url, 'POST', '/v1.0/pods', { pod: { region_name: 'CentralRegion' } }, withToken(adminToken));
    assert.equal(created.status, 200);
    assert.equal(created.body.pod.region_name, 'CentralRegion');
    const shown = await call(cached.url, 'GET', `/v1.0/pods/${created.body.pod.pod_id}`, undefined, withToken(adminToken));
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.pod, created.body.pod);
    const listed = await call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(adminToken));
    assert.deepEqual(
      listed.body.pods.map((p: { pod_id: string }) => p.pod_id),
      [created.body.pod.pod_id],
    );
  });

  test('forbids a member of project demo with 403 and writes nothing', async () => {
    const list = await call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(demoToken));
    assert.equal(list.status, 403);
    assert.equal(list.body.forbidden.code, 403);
    assert.match(list.body.forbidden.message, /admin_api:pods:list/);
    const create = await call(cached.url, 'POST', '/v1.0/pods', { pod: { region_name: 'DemoRegion', az_name: 'az9' } }, withToken(demoToken));
    assert.equal(create.status, 403);
    assert.equal(create.body.forbidden.code, 403);
    const pods = await call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(adminToken));
    assert.equal(
      pods.body.pods.some((p: { region_name: string }) => p.region_name === 'DemoRegion'),
      false,
    );
  });

  test('keeps accepting a revoked token from its cache with token_cache_time = 300, not with 0', async () => {
    const token = await issueToken(keystone, 'admin', 'admin', 'admin');
    assert.equal((await call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(token))).status, 200);
    assert.equal((await call(uncached.url, 'GET', '/v1.0/pods', undefined, withToken(token))).status, 200);
    await revoke(token);
    assert.equal(await keystoneStatusOf(token), 404, 'Keystone itself refuses the revoked token');
    assert.equal((await call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(token))).status, 200);
    const refused = await call(uncached.url, 'GET', '/v1.0/pods', undefined, withToken(token));
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 401);
  });

  test('answers 503 with a JSON body when Keystone cannot be reached', async () => {
    const r = await call(unreachable.url, 'GET', '/v1.0/pods', undefined, withToken(adminToken));
    assert.equal(r.status, 503);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(r.body.serviceUnavailable.code, 503);
    assert.match(r.body.serviceUnavailable.message, /Keystone/);
    // Without a token the answer is still 401: nothing to ask Keystone about.
    assert.equal((await call(unreachable.url, 'GET', '/v1.0/pods', undefined, {})).status, 401);
  });

  test('answers 503, not 401, when its own service user cannot log in to Keystone', async () => {
    const r = await call(misconfigured.url, 'GET', '/v1.0/pods', undefined, withToken(adminToken));
    assert.equal(r.status, 503);
    assert.equal(r.body.serviceUnavailable.code, 503);
    assert.match(r.body.serviceUnavailable.message, /service user 'tricircle'/);
  });

  describe('the admin CLI', () => {
    // The real `tricircle` command, which finds the Admin API `cached` in Keystone's catalog:
    // registered there as a service of type tricircle beside decoys it must pass over (an
    // internal endpoint, a public one in another region), and removed again afterwards.
    const SERVICE_PREFIX = 'tricircle-test-';
    const DECOY_REGION = 'RegionDecoy';
    let serviceId: string | undefined;
    let decoyRegion = false;
    let deadKeystone: string; // a Keystone URL on a closed port
    let pods: unknown[]; // what the API itself lists to the admin

    const cli = (line: string, env: Record<string, string>) => runProcess(process.execPath, [BIN, ...line.split(' ')], { ...BASE_ENV, ...env });
    const adminEnv = () => ({
      OS_AUTH_URL: keystone,
      OS_USERNAME: 'admin',
      OS_PASSWORD: 'admin',
      OS_PROJECT_NAME: 'admin',
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: 'CentralRegion',
    });
    const deleteService = async (id: string) => assert.equal((await asAdmin('DELETE', `/services/${id}`)).status, 204, `deleting service ${id}`);

    before(async () => {
      if (unavailable) return;
      // A run that died before its after hook left its service behind, and the CLI takes the
      // first endpoint that matches: remove them (their endpoints go with them).
      const listed = await asAdmin('GET', '/services?type=tricircle');
      assert.equal(listed.status, 200);
      for (const service of listed.body.services) if (service.name.startsWith(SERVICE_PREFIX)) await deleteService(service.id);

      const region = await asAdmin('POST', '/regions', { region: { id: DECOY_REGION, description: 'decoy of test/keystone-auth.test.ts' } });
      assert.ok([201, 409].includes(region.status), `creating region ${DECOY_REGION}: ${region.status}`); // 409: left by a dead run
      decoyRegion = true;
      const service = await asAdmin('POST', '/services', { service: { type: 'tricircle', name: `${SERVICE_PREFIX}${randomUUID().slice(0, 8)}` } });
      assert.equal(service.status, 201);
      serviceId = service.body.service.id as string;
      const closed = `http://127.0.0.1:${await closedPort()}`;
      deadKeystone = `${closed}/v3`;
      // Decoys first: Keystone lists endpoints in creation order, so a CLI that did not filter would take one.
      for (const [iface, region, url] of [
        ['internal', 'CentralRegion', `${closed}/v1.0`],
        ['public', DECOY_REGION, `${closed}/v1.0`],
        ['public', 'CentralRegion', `${cached.url}/v1.0`],
      ] as const) {
        const endpoint = await asAdmin('POST', '/endpoints', { endpoint: { service_id: serviceId, interface: iface, region_id: region, url } });
        assert.equal(endpoint.status, 201, `creating the ${iface} endpoint in ${region}`);
      }

      for (const region of ['CliRegionOne', 'CliRegionTwo']) {
        const created = await call(cached.url, 'POST', '/v1.0/pods', { pod: { region_name: region, az_name: `az-${region}` } }, withToken(adminToken));
        assert.equal(created.status, 200, created.text);
      }
      pods = (await call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(adminToken))).body.pods;
    });
    after(async () => {
      if (serviceId) await deleteService(serviceId);
      if (decoyRegion) assert.equal((await asAdmin('DELETE', `/regions/${DECOY_REGION}`)).status, 204, `deleting region ${DECOY_REGION}`);
    });

    test('lists the pods of the Admin API in the catalog, with a password or a token', async () => {
      const runs = await Promise.all([
        cli('pod list --format json', adminEnv()),
        // A given token is validated only to read the endpoint from its catalog.
        cli('pod list --format json', { OS_AUTH_URL: keystone, OS_TOKEN: adminToken, OS_REGION_NAME: 'CentralRegion' }),
        // With an endpoint as well, Keystone is not asked at all (here it could not answer).
        cli(`pod list --format json --os-endpoint ${cached.url}`, { OS_AUTH_URL: deadKeystone, OS_TOKEN: adminToken }),
      ]);
      assert.deepEqual(
        pods.map((p) => (p as { region_name: string }).region_name).filter((r) => r.startsWith('Cli')),
        ['CliRegionOne', 'CliRegionTwo'],
      );
      for (const run of runs) {
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(JSON.parse(run.stdout), pods);
      }
    });

    test("reports Keystone's and the Admin API's refusals", async () => {
      const [unauthenticated, forbidden] = await Promise.all([
        call(cached.url, 'GET', '/v1.0/pods', undefined, {}),
        call(cached.url, 'GET', '/v1.0/pods', undefined, withToken(demoToken)),
      ]);
      const [noToken, badPassword, demo] = await Promise.all([
        // No token: the identity headers a noauth server would believe get a 401 here.
        cli('pod list', { OS_TRICIRCLE_ENDPOINT: cached.url }),
        cli('pod list', { ...adminEnv(), OS_PASSWORD: 'wrong' }),
        // No domain variables: the CLI's default, Default, is where demo lives.
        cli('pod list', { OS_AUTH_URL: keystone, OS_USERNAME: 'demo', OS_PASSWORD: 'demo', OS_PROJECT_NAME: 'demo', OS_REGION_NAME: 'CentralRegion' }),
      ]);
      for (const run of [noToken, badPassword, demo]) {
        assert.notEqual(run.code, 0, run.stderr);
        assert.equal(run.stdout, '');
      }
      assert.equal(noToken.stderr, `tricircle: error: ${unauthenticated.body.error.message} (HTTP 401)\n`);
      assert.match(badPassword.stderr, /^tricircle: error: Keystone authentication failed: [^\n]+ \(HTTP 401\)\n$/);
      assert.equal(demo.stderr, `tricircle: error: ${forbidden.body.forbidden.message} (HTTP 403)\n`);
    });
  });
});
