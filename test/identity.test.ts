import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { KeystoneAdmin } from '../src/client/index.js';
import type { CatalogEndpoint } from '../src/identity/index.js';
import { call, startAdminApi, type RunningAdminApi } from './support/admin-server.js';
import { engines, type TestDatabase } from './support/engines.js';
import { identityToken, startIdentityApi, type RunningIdentityApi } from './support/identity-server.js';
import { closedPort } from './support/net.js';
import { startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// The identity service over real HTTP on SQLite: tokens (password and token methods, scopes,
// validation, revocation, expiry, a restart), the read-only lists in Keystone's format, and
// our own Admin API and Neutron validating its tokens with auth_strategy = keystone.

const BIN = fileURLToPath(new URL('../bin/tricircle.js', import.meta.url));
// The host's OS_* and TRICIRCLE_* variables must not steer the CLI under test.
const CLI_ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_') && !key.startsWith('TRICIRCLE_')));

const UNAUTHORIZED = { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } };

const passwordAuth = (user: Record<string, unknown>, scope?: Record<string, unknown>) => ({
  auth: { identity: { methods: ['password'], password: { user } }, ...(scope ? { scope } : {}) },
});

describe('identity service', () => {
  let dir: string;
  let connection: string;
  let identity: RunningIdentityApi;
  let shortLived: RunningIdentityApi; // token_expiration = 1, same database
  let adminApi: RunningAdminApi;
  let neutron: RunningNeutronApi;
  let url: string;
  let adminToken: string;
  let demoToken: string;

  const catalog = (): CatalogEndpoint[] => [
    { type: 'identity', region: 'CentralRegion', url: `${url}/v3` },
    { type: 'network', region: 'CentralRegion', url: neutron?.url ?? 'http://127.0.0.1:1' },
    { type: 'tricircle', region: 'CentralRegion', url: `${adminApi?.url ?? 'http://127.0.0.1:2'}/v1.0` },
    { type: 'network', region: 'RegionOne', url: 'http://127.0.0.1:20002' },
    { type: 'compute', region: 'RegionOne', url: 'http://127.0.0.1:8774/v2.1' },
    { type: 'image', region: 'RegionOne', url: 'http://127.0.0.1:8774/image' },
    { type: 'network', region: 'RegionTwo', url: 'http://127.0.0.1:20003' },
    { type: 'compute', region: 'RegionTwo', url: 'http://127.0.0.1:8775/v2.1' },
    { type: 'image', region: 'RegionTwo', url: 'http://127.0.0.1:8775/image' },
  ];

  const post = (body: unknown, path = '/v3/auth/tokens') => call(url, 'POST', path, body, {});
  const get = (path: string, token: string, headers: Record<string, string> = {}) => call(url, 'GET', path, undefined, { 'x-auth-token': token, ...headers });
  const validate = (token: string, as = adminToken) => get('/v3/auth/tokens', as, { 'x-subject-token': token });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tricircle-identity-'));
    connection = `sqlite:///${join(dir, 'central.sqlite')}`;
    identity = await startIdentityApi(connection, catalog);
    url = identity.url;
    shortLived = await startIdentityApi(connection, catalog, { identity: { token_expiration: '1' } });
    const keystone = {
      DEFAULT: { auth_strategy: 'keystone' },
      keystone_authtoken: { auth_url: `${url}/v3`, username: 'admin', password: 'admin', project_name: 'admin', token_cache_time: '0' },
    };
    adminApi = await startAdminApi(`sqlite:///${join(dir, 'admin.sqlite')}`, keystone);
    neutron = await startNeutronApi(`sqlite:///${join(dir, 'neutron.sqlite')}`, keystone);
    adminToken = await identityToken(url, 'admin', 'admin', 'admin');
    demoToken = await identityToken(url, 'demo', 'demo', 'demo');
  });
  after(async () => {
    for (const server of [neutron, adminApi, shortLived, identity]) await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers version discovery at / and /v3 as Keystone does', async () => {
    const root = await call(url, 'GET', '/', undefined, {});
    assert.equal(root.status, 300);
    assert.equal(root.headers.get('location'), `${url}/v3/`);
    const [version] = root.body.versions.values;
    assert.equal(version.id, 'v3.14');
    assert.equal(version.status, 'stable');
    assert.deepEqual(version.links, [{ rel: 'self', href: `${url}/v3/` }]);
    assert.equal(version['media-types'][0].type, 'application/vnd.openstack.identity-v3+json');
    for (const path of ['/v3', '/v3/']) {
      const v3 = await call(url, 'GET', path, undefined, {});
      assert.equal(v3.status, 200, path);
      assert.deepEqual(v3.body.version, version);
    }
  });

  it('issues a project-scoped token by user name and domain name, with roles and the catalog', async () => {
    const r = await post(
      passwordAuth({ name: 'admin', password: 'admin', domain: { name: 'Default' } }, { project: { name: 'admin', domain: { name: 'Default' } } }),
    );
    assert.equal(r.status, 201);
    assert.match(r.headers.get('x-subject-token')!, /^[A-Za-z0-9_-]{43}$/);
    const token = r.body.token;
    assert.deepEqual(token.methods, ['password']);
    assert.deepEqual(token.user.domain, { id: 'default', name: 'Default' });
    assert.equal(token.user.name, 'admin');
    assert.match(token.user.id, /^[0-9a-f]{32}$/);
    assert.equal(token.project.name, 'admin');
    assert.deepEqual(token.project.domain, { id: 'default', name: 'Default' });
    assert.deepEqual(token.roles.map((role: { name: string }) => role.name).sort(), ['admin', 'member', 'reader']);
    assert.equal(token.audit_ids.length, 1);
    assert.match(token.issued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const lifetime = Date.parse(token.expires_at) - Date.parse(token.issued_at);
    assert.ok(Math.abs(lifetime - 3600_000) < 2000, `lifetime ${lifetime}`);

    const byType = Object.fromEntries(token.catalog.map((s: { type: string }) => [s.type, s]));
    assert.deepEqual(Object.keys(byType).sort(), ['compute', 'identity', 'image', 'network', 'tricircle']);
    assert.deepEqual(Object.fromEntries(token.catalog.map((s: { type: string; name: string }) => [s.type, s.name])), {
      identity: 'keystone',
      network: 'neutron',
      compute: 'nova',
      image: 'glance',
      tricircle: 'tricircle',
    });
    const network = byType.network.endpoints;
    assert.equal(network.length, 9);
    assert.deepEqual(
      network
        .filter((e: { region_id: string }) => e.region_id === 'RegionOne')
        .map((e: { interface: string; url: string; region: string }) => [e.interface, e.url, e.region]),
      [
        ['public', 'http://127.0.0.1:20002', 'RegionOne'],
        ['internal', 'http://127.0.0.1:20002', 'RegionOne'],
        ['admin', 'http://127.0.0.1:20002', 'RegionOne'],
      ],
    );
    // The one identity service is the identity of every region, so --os-region-name finds it.
    assert.deepEqual([...new Set(byType.identity.endpoints.map((e: { region_id: string; url: string }) => `${e.region_id}=${e.url}`))].sort(), [
      `CentralRegion=${url}/v3`,
      `RegionOne=${url}/v3`,
      `RegionTwo=${url}/v3`,
    ]);
    assert.equal(new Set(token.catalog.flatMap((s: { endpoints: Array<{ id: string }> }) => s.endpoints.map((e) => e.id))).size, 3 * 3 + 9 + 3 + 6 + 6);
  });

  it('issues tokens by user id and project id, and the same ids on every start', async () => {
    const first = (
      await post(passwordAuth({ name: 'demo', password: 'demo', domain: { id: 'default' } }, { project: { name: 'demo', domain: { id: 'default' } } }))
    ).body.token;
    const r = await post(passwordAuth({ id: first.user.id, password: 'demo' }, { project: { id: first.project.id } }));
    assert.equal(r.status, 201);
    assert.equal(r.body.token.user.name, 'demo');
    assert.equal(r.body.token.project.name, 'demo');
    assert.deepEqual(r.body.token.roles.map((role: { name: string }) => role.name).sort(), ['member', 'reader']);
    // Ids come from the names: the short-lived server (another app) agrees.
    const other = await call(
      shortLived.url,
      'POST',
      '/v3/auth/tokens',
      passwordAuth({ id: first.user.id, password: 'demo' }, { project: { id: first.project.id } }),
      {},
    );
    assert.equal(other.status, 201);
    assert.deepEqual(other.body.token.roles, r.body.token.roles);
  });

  it('issues an unscoped token without project, roles or catalog, and leaves the catalog out on ?nocatalog', async () => {
    const unscoped = await post(passwordAuth({ name: 'admin', password: 'admin', domain: { id: 'default' } }));
    assert.equal(unscoped.status, 201);
    assert.deepEqual(Object.keys(unscoped.body.token).sort(), ['audit_ids', 'expires_at', 'issued_at', 'methods', 'user']);
    const scoped = await post(
      passwordAuth({ name: 'admin', password: 'admin', domain: { id: 'default' } }, { project: { name: 'admin', domain: { id: 'default' } } }),
      '/v3/auth/tokens?nocatalog',
    );
    assert.equal(scoped.status, 201);
    assert.equal(scoped.body.token.catalog, undefined);
    assert.equal(scoped.body.token.roles.length, 3);
    // Validation leaves it out on request too, and gives it otherwise.
    const token = scoped.headers.get('x-subject-token')!;
    assert.equal((await get('/v3/auth/tokens?nocatalog', adminToken, { 'x-subject-token': token })).body.token.catalog, undefined);
    assert.equal((await validate(token)).body.token.catalog.length, 5);
  });

  it('re-scopes with the token method: same user, the chain of audit ids, the first token’s expiry', async () => {
    const unscoped = await post(passwordAuth({ name: 'demo', password: 'demo', domain: { id: 'default' } }));
    const parent = unscoped.headers.get('x-subject-token')!;
    const r = await post({
      auth: { identity: { methods: ['token'], token: { id: parent } }, scope: { project: { name: 'demo', domain: { name: 'Default' } } } },
    });
    assert.equal(r.status, 201);
    assert.deepEqual(r.body.token.methods.sort(), ['password', 'token']);
    assert.equal(r.body.token.project.name, 'demo');
    assert.deepEqual(r.body.token.audit_ids.slice(1), unscoped.body.token.audit_ids);
    assert.equal(r.body.token.expires_at, unscoped.body.token.expires_at);
    const refused = await post({
      auth: { identity: { methods: ['token'], token: { id: parent } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } },
    });
    assert.equal(refused.status, 401);
    assert.equal((await post({ auth: { identity: { methods: ['token'], token: { id: 'not-a-token' } } } })).status, 401);
    // Without a scope the new token is unscoped, as Keystone's is, even from a scoped one.
    const fromScoped = await post({ auth: { identity: { methods: ['token'], token: { id: r.headers.get('x-subject-token') } } } });
    assert.equal(fromScoped.status, 201);
    assert.equal(fromScoped.body.token.project, undefined);
    assert.equal(fromScoped.body.token.catalog, undefined);
  });

  it('refuses bad credentials with 401 in Keystone’s format, never saying which part was wrong', async () => {
    const cases = [
      passwordAuth({ name: 'admin', password: 'wrong', domain: { id: 'default' } }),
      passwordAuth({ name: 'nobody', password: 'admin', domain: { id: 'default' } }),
      passwordAuth({ name: 'admin', password: 'admin', domain: { id: 'other' } }),
      passwordAuth({ name: 'admin', password: 'admin' }),
      passwordAuth({ id: 'no-such-id', password: 'admin' }),
      passwordAuth({ name: 'demo', password: 'demo', domain: { id: 'default' } }, { project: { name: 'admin', domain: { id: 'default' } } }),
      passwordAuth({ name: 'demo', password: 'demo', domain: { id: 'default' } }, { project: { id: 'no-such-project' } }),
    ];
    for (const body of cases) {
      const r = await post(body);
      assert.equal(r.status, 401, JSON.stringify(body));
      assert.deepEqual(r.body, UNAUTHORIZED);
      assert.equal(r.headers.get('www-authenticate'), `Keystone uri="${url}/v3"`);
      assert.equal(r.headers.get('x-subject-token'), null);
    }
    const unsupported = await post({ auth: { identity: { methods: ['totp'], totp: {} } } });
    assert.equal(unsupported.status, 401);
    assert.equal(unsupported.body.error.title, 'Unauthorized');
  });

  it('refuses a malformed body with 400 in Keystone’s format', async () => {
    for (const body of [
      'not json',
      '[]',
      {},
      { auth: {} },
      { auth: { identity: { methods: 'password' } } },
      { auth: { identity: { methods: [] } } },
      passwordAuth({ name: 7, password: 'x' }),
      passwordAuth({ password: 'admin' }),
    ]) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'title']);
      assert.equal(r.body.error.code, 400);
      assert.equal(r.body.error.title, 'Bad Request');
    }
  });

  it('validates tokens with GET and HEAD: 200 for a valid one, 404 for an unknown one, 401 without a valid caller', async () => {
    const ok = await validate(demoToken);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-subject-token'), demoToken);
    assert.equal(ok.body.token.user.name, 'demo');
    const head = await call(url, 'HEAD', '/v3/auth/tokens', undefined, { 'x-auth-token': adminToken, 'x-subject-token': demoToken });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('x-subject-token'), demoToken);
    assert.equal(head.text, '');
    const unknown = await validate('unknown-token');
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, { error: { code: 404, title: 'Not Found', message: 'Could not find token.' } });
    assert.equal((await call(url, 'HEAD', '/v3/auth/tokens', undefined, { 'x-auth-token': adminToken, 'x-subject-token': 'unknown' })).status, 404);
    // A user checks its own tokens; only an admin checks others'.
    assert.equal((await validate(demoToken, demoToken)).status, 200);
    const foreign = await validate(adminToken, demoToken);
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.title, 'Forbidden');
    assert.deepEqual((await get('/v3/auth/tokens', adminToken)).body, { error: { code: 404, title: 'Not Found', message: 'No token in the request' } });
    const anonymous = await call(url, 'GET', '/v3/auth/tokens', undefined, { 'x-subject-token': demoToken });
    assert.deepEqual([anonymous.status, anonymous.body], [401, UNAUTHORIZED]);
    assert.equal((await validate(demoToken, 'garbage')).status, 401);
  });

  it('revokes a token with DELETE: 204, then 404 on validation and 401 as a caller, here and in our services', async () => {
    const token = await identityToken(url, 'admin', 'admin', 'admin');
    assert.equal((await call(adminApi.url, 'GET', '/v1.0/pods', undefined, { 'x-auth-token': token })).status, 200);
    assert.equal((await call(neutron.url, 'GET', '/v2.0/networks', undefined, { 'x-auth-token': token })).status, 200);
    const revoked = await call(url, 'DELETE', '/v3/auth/tokens', undefined, { 'x-auth-token': adminToken, 'x-subject-token': token });
    assert.equal(revoked.status, 204);
    assert.equal((await validate(token)).status, 404);
    assert.deepEqual((await get('/v3/projects', token)).body, UNAUTHORIZED);
    assert.equal((await call(url, 'DELETE', '/v3/auth/tokens', undefined, { 'x-auth-token': adminToken, 'x-subject-token': token })).status, 404);
    assert.equal((await call(adminApi.url, 'GET', '/v1.0/pods', undefined, { 'x-auth-token': token })).status, 401);
    assert.equal((await call(neutron.url, 'GET', '/v2.0/networks', undefined, { 'x-auth-token': token })).status, 401);
    // A user may revoke its own token.
    const own = await identityToken(url, 'demo', 'demo', 'demo');
    assert.equal((await call(url, 'DELETE', '/v3/auth/tokens', undefined, { 'x-auth-token': own, 'x-subject-token': own })).status, 204);
    assert.equal((await validate(own)).status, 404);
  });

  it('lets our Admin API and Neutron act on its tokens: admin and member roles, unknown tokens refused', async () => {
    assert.equal((await call(adminApi.url, 'GET', '/v1.0/pods', undefined, { 'x-auth-token': adminToken })).status, 200);
    assert.equal((await call(adminApi.url, 'GET', '/v1.0/pods', undefined, { 'x-auth-token': demoToken })).status, 403);
    assert.equal((await call(adminApi.url, 'GET', '/v1.0/pods', undefined, { 'x-auth-token': 'garbage' })).status, 401);
    const created = await call(neutron.url, 'POST', '/v2.0/networks', { network: { name: 'demo-net' } }, { 'x-auth-token': demoToken });
    assert.equal(created.status, 201);
    const demoProjectId = (await validate(demoToken)).body.token.project.id;
    assert.equal(created.body.network.project_id, demoProjectId);
    const seenByAdmin = await call(neutron.url, 'GET', '/v2.0/networks', undefined, { 'x-auth-token': adminToken });
    assert.ok(seenByAdmin.body.networks.some((n: { id: string }) => n.id === created.body.network.id));
    assert.equal((await call(neutron.url, 'GET', '/v2.0/networks', undefined, { 'x-auth-token': 'garbage' })).status, 401);
    // The tricircle CLI finds the Admin API in the catalog with the OS_* variables of admin-openrc.sh.
    const env = { ...CLI_ENV, OS_AUTH_URL: url, OS_USERNAME: 'admin', OS_PASSWORD: 'admin', OS_PROJECT_NAME: 'admin', OS_REGION_NAME: 'CentralRegion' };
    const pods = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [BIN, 'pod', 'list', '--format', 'json'], { env }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr })),
    );
    assert.equal(pods.code, 0, pods.stderr);
    assert.deepEqual(JSON.parse(pods.stdout), []);
  });

  it('lists domains, projects, users, roles, regions, services and endpoints to an admin, and gets each by id', async () => {
    const list = async (path: string) => {
      const r = await get(path, adminToken);
      assert.equal(r.status, 200, path);
      assert.equal(r.body.links.next, null);
      return r.body;
    };
    assert.deepEqual(
      (await list('/v3/domains')).domains.map((d: { id: string; name: string }) => [d.id, d.name]),
      [['default', 'Default']],
    );
    const projects = (await list('/v3/projects')).projects;
    assert.deepEqual(
      projects.map((p: { name: string }) => p.name),
      ['admin', 'demo'],
    );
    assert.deepEqual(
      (await list('/v3/projects?name=demo')).projects.map((p: { name: string }) => p.name),
      ['demo'],
    );
    const users = (await list('/v3/users')).users;
    assert.deepEqual(
      users.map((u: { name: string }) => u.name),
      ['admin', 'demo'],
    );
    assert.deepEqual(
      (await list('/v3/roles')).roles.map((r: { name: string }) => r.name),
      ['admin', 'member', 'reader'],
    );
    assert.deepEqual(
      (await list('/v3/regions')).regions.map((r: { id: string }) => r.id),
      ['CentralRegion', 'RegionOne', 'RegionTwo'],
    );
    const services = (await list('/v3/services')).services;
    assert.deepEqual(services.map((s: { type: string }) => s.type).sort(), ['compute', 'identity', 'image', 'network', 'tricircle']);
    const network = services.find((s: { type: string }) => s.type === 'network');
    assert.deepEqual((await list('/v3/services?type=network')).services, [network]);
    assert.deepEqual((await list('/v3/services?name=neutron')).services, [network]);
    const endpoints = (await list('/v3/endpoints')).endpoints;
    assert.equal(endpoints.length, 9 + 9 + 6 + 6 + 3);
    const publicNetwork = (await list(`/v3/endpoints?interface=public&service_id=${network.id}`)).endpoints;
    assert.deepEqual(
      publicNetwork.map((e: { region_id: string; url: string }) => [e.region_id, e.url]),
      [
        ['CentralRegion', neutron.url],
        ['RegionOne', 'http://127.0.0.1:20002'],
        ['RegionTwo', 'http://127.0.0.1:20003'],
      ],
    );
    const regionTwo = (await list('/v3/endpoints?region_id=RegionTwo&interface=internal')).endpoints;
    assert.deepEqual(
      regionTwo.map((e: { url: string }) => e.url).sort(),
      ['http://127.0.0.1:20003', `${url}/v3`, 'http://127.0.0.1:8775/image', 'http://127.0.0.1:8775/v2.1'].sort(),
    );

    for (const [kind, item] of [
      ['project', projects[1]],
      ['user', users[0]],
      ['service', network],
      ['endpoint', publicNetwork[0]],
    ] as const) {
      const r = await get(`/v3/${kind}s/${item.id}`, adminToken);
      assert.equal(r.status, 200, kind);
      assert.deepEqual(r.body[kind], item);
      const missing = await get(`/v3/${kind}s/nope`, adminToken);
      assert.deepEqual([missing.status, missing.body], [404, { error: { code: 404, title: 'Not Found', message: `Could not find ${kind}: nope.` } }]);
    }
    assert.equal((await get('/v3/regions/RegionOne', adminToken)).body.region.id, 'RegionOne');
    assert.equal((await get('/v3/regions/RegionNine', adminToken)).status, 404);
    assert.equal((await get('/v3/domains/default', adminToken)).body.domain.name, 'Default');
    const role = (await list('/v3/roles?name=member')).roles[0];
    assert.equal((await get(`/v3/roles/${role.id}`, adminToken)).body.role.name, 'member');

    const demoUser = users[1];
    const assignments = (await list(`/v3/role_assignments?user.id=${demoUser.id}`)).role_assignments;
    assert.deepEqual(
      assignments.map((a: { scope: { project: { id: string } } }) => a.scope.project.id),
      [projects[1].id, projects[1].id],
    );
    assert.deepEqual(assignments[0].user, { id: demoUser.id });
    const named = (await list(`/v3/role_assignments?include_names&scope.project.id=${projects[0].id}`)).role_assignments;
    assert.deepEqual(
      named.map((a: any) => `${a.user.name}@${a.scope.project.name}.${a.scope.project.domain.name}:${a.role.name}`),
      ['admin@admin.Default:admin', 'admin@admin.Default:member', 'admin@admin.Default:reader'],
    );
  });

  it('forbids the lists to a non-admin with 403, and gives a user its own projects', async () => {
    for (const [path, action] of [
      ['/v3/projects', 'list_projects'],
      ['/v3/users', 'list_users'],
      ['/v3/endpoints', 'list_endpoints'],
      ['/v3/services', 'list_services'],
      ['/v3/regions', 'list_regions'],
      ['/v3/roles', 'list_roles'],
      ['/v3/domains', 'list_domains'],
    ]) {
      const r = await get(path!, demoToken);
      assert.deepEqual(
        [r.status, r.body],
        [403, { error: { code: 403, title: 'Forbidden', message: `You are not authorized to perform the requested action: identity:${action}.` } }],
        path,
      );
    }
    const anonymous = await call(url, 'GET', '/v3/projects', undefined, {});
    assert.deepEqual([anonymous.status, anonymous.body], [401, UNAUTHORIZED]);

    const catalogOfDemo = await get('/v3/auth/catalog', demoToken);
    assert.deepEqual(catalogOfDemo.body.catalog, (await validate(demoToken)).body.token.catalog);
    const unscoped = await identityToken(url, 'demo', 'demo');
    assert.equal((await get('/v3/auth/catalog', unscoped)).status, 403);
    assert.deepEqual(
      (await get('/v3/auth/projects', unscoped)).body.projects.map((p: { name: string }) => p.name),
      ['demo'],
    );
    const mine = await get('/v3/auth/projects', demoToken);
    assert.deepEqual(
      mine.body.projects.map((p: { name: string }) => p.name),
      ['demo'],
    );
    const demoUserId = (await validate(demoToken)).body.token.user.id;
    assert.deepEqual(
      (await get(`/v3/users/${demoUserId}/projects`, demoToken)).body.projects.map((p: { name: string }) => p.name),
      ['demo'],
    );
    assert.equal((await get(`/v3/users/${demoUserId}`, demoToken)).body.user.name, 'demo');
    const adminUserId = (await validate(adminToken)).body.token.user.id;
    assert.equal((await get(`/v3/users/${adminUserId}/projects`, demoToken)).status, 403);
    assert.deepEqual(
      (await get(`/v3/users/${adminUserId}/projects`, adminToken)).body.projects.map((p: { name: string }) => p.name),
      ['admin'],
    );
  });

  it('gives our region clients (KeystoneAdmin) an admin token and the network endpoints by region', async () => {
    const admin = new KeystoneAdmin(
      { authUrl: url, username: 'admin', password: 'admin', projectName: 'admin', userDomainName: 'Default', projectDomainName: 'Default' },
      10,
    );
    assert.equal((await validate(await admin.token())).body.token.project.name, 'admin');
    assert.deepEqual(Object.fromEntries(await admin.networkEndpoints()), {
      CentralRegion: [neutron.url],
      RegionOne: ['http://127.0.0.1:20002'],
      RegionTwo: ['http://127.0.0.1:20003'],
    });
  });

  it('expires tokens after [identity] token_expiration seconds', async () => {
    const token = await identityToken(shortLived.url, 'demo', 'demo', 'demo');
    const body = (await validate(token)).body.token;
    assert.ok(Date.parse(body.expires_at) - Date.parse(body.issued_at) <= 1000);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(body.expires_at) - Date.now() + 50));
    assert.equal((await validate(token)).status, 404);
    assert.equal((await call(neutron.url, 'GET', '/v2.0/networks', undefined, { 'x-auth-token': token })).status, 401);
  });

  it('keeps tokens valid across a restart (a new app on the same database)', async () => {
    const token = await identityToken(url, 'demo', 'demo', 'demo');
    const restarted = await startIdentityApi(connection, catalog);
    try {
      const r = await call(restarted.url, 'GET', '/v3/auth/tokens', undefined, { 'x-auth-token': adminToken, 'x-subject-token': token });
      assert.equal(r.status, 200);
      assert.equal(r.body.token.user.name, 'demo');
    } finally {
      await restarted.close();
    }
  });
});

// Migration 007 and the token store on the shared engines (SQLite is the suite above).
for (const engine of (await engines()).filter((e) => e.name !== 'sqlite')) {
  describe(`identity tokens on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let identity: RunningIdentityApi;
    before(async () => {
      database = await engine.create();
      identity = await startIdentityApi(database.connection, () => []);
    });
    after(async () => {
      await identity?.close();
      await database?.drop();
    });

    it('issues, validates after a restart, and revokes', async () => {
      const admin = await identityToken(identity.url, 'admin', 'admin', 'admin');
      const demo = await identityToken(identity.url, 'demo', 'demo', 'demo');
      const restarted = await startIdentityApi(database.connection, () => []);
      try {
        const check = () => call(restarted.url, 'GET', '/v3/auth/tokens', undefined, { 'x-auth-token': admin, 'x-subject-token': demo });
        assert.equal((await check()).body.token.project.name, 'demo');
        assert.equal((await call(restarted.url, 'DELETE', '/v3/auth/tokens', undefined, { 'x-auth-token': admin, 'x-subject-token': demo })).status, 204);
        assert.equal((await check()).status, 404);
      } finally {
        await restarted.close();
      }
    });
  });
}

describe('tricircle identity', () => {
  let dir: string;

  /** Starts the command; resolves with the process once it listens, or with its output if it exits first. */
  function start(configFile: string): Promise<{ child: ChildProcess; stderr: string; code: number | null }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, 'identity', '--config-file', configFile], { env: CLI_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('listening on')) resolve({ child, stderr, code: null });
      });
      child.on('exit', (code) => resolve({ child, stderr, code }));
    });
  }
  const stop = (child: ChildProcess) => new Promise<number | null>((resolve) => (child.kill('SIGTERM'), child.on('exit', resolve)));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tricircle-identity-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the catalog of [identity] endpoints on bind_port, and its tokens outlive the process', async () => {
    const port = await closedPort();
    const configFile = join(dir, 'identity.conf');
    writeFileSync(
      configFile,
      [
        '[DEFAULT]',
        `state_path = ${join(dir, 'state')}`,
        'log_level = warn',
        '[identity]',
        `bind_port = ${port}`,
        'demo_password = s3cret',
        'endpoints = network:CentralRegion=http://127.0.0.1:20001, network:RegionOne=http://127.0.0.1:20002, compute:RegionOne=http://127.0.0.1:8774/v2.1',
        '',
      ].join('\n'),
    );
    const url = `http://127.0.0.1:${port}`;
    const first = await start(configFile);
    assert.equal(first.code, null, first.stderr);
    assert.match(first.stderr, new RegExp(`listening on ${url}/v3`));
    let token: string;
    try {
      await assert.rejects(identityToken(url, 'demo', 'demo', 'demo'), /401/);
      token = await identityToken(url, 'demo', 's3cret', 'demo');
      const r = await call(url, 'GET', '/v3/auth/tokens', undefined, { 'x-auth-token': token, 'x-subject-token': token });
      const endpoints = r.body.token.catalog.flatMap((s: any) =>
        s.endpoints.filter((e: any) => e.interface === 'public').map((e: any) => `${s.type} ${e.region} ${e.url}`),
      );
      assert.deepEqual(
        endpoints.sort(),
        [
          `identity CentralRegion ${url}/v3`,
          `identity RegionOne ${url}/v3`,
          'compute RegionOne http://127.0.0.1:8774/v2.1',
          'network CentralRegion http://127.0.0.1:20001',
          'network RegionOne http://127.0.0.1:20002',
        ].sort(),
      );
    } finally {
      assert.equal(await stop(first.child), 0);
    }
    const second = await start(configFile);
    try {
      assert.equal((await call(url, 'GET', '/v3/auth/tokens', undefined, { 'x-auth-token': token, 'x-subject-token': token })).status, 200);
    } finally {
      await stop(second.child);
    }
  });

  it('refuses an [identity] endpoints entry that is not type:Region=URL', async () => {
    const configFile = join(dir, 'bad.conf');
    writeFileSync(
      configFile,
      `[DEFAULT]\nstate_path = ${join(dir, 'bad-state')}\n[identity]\nbind_port = ${await closedPort()}\nendpoints = volume:RegionOne=http://x\n`,
    );
    const run = await start(configFile);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\[identity\] endpoints: 'volume:RegionOne=http:\/\/x' is not type:Region=URL/);
  });
});
