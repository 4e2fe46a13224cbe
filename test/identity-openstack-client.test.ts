import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CatalogEndpoint } from '../src/identity/index.js';
import { call } from './support/admin-server.js';
import { startIdentityApi, type RunningIdentityApi } from './support/identity-server.js';
import { startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';
import { OPENSTACK, openstackClientMissing } from './support/openstack-client.js';

// Debian's `openstack` command against the identity service, as a newcomer's openrc and
// clouds.yaml drive it: discovery from the auth URL with and without /v3, tokens, the catalog,
// the read-only lists, --os-region-name, and a Neutron (auth_strategy = keystone) reached
// through the catalog in two regions. Skipped where the client is missing, unless
// TRICIRCLE_TEST_REQUIRE_OPENSTACK_CLIENT=1 (CI).

const missing = openstackClientMissing();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('the openstack client against the identity service', { skip: missing }, () => {
  let dir: string;
  let identity: RunningIdentityApi;
  let neutron: RunningNeutronApi;
  let cleanEnv: NodeJS.ProcessEnv;
  let adminEnv: NodeJS.ProcessEnv;

  const catalog = (): CatalogEndpoint[] => [
    { type: 'identity', region: 'CentralRegion', url: `${identity.url}/v3` },
    { type: 'network', region: 'CentralRegion', url: neutron.url },
    { type: 'network', region: 'RegionOne', url: neutron.url },
    { type: 'compute', region: 'RegionOne', url: 'http://127.0.0.1:8774/v2.1' },
    { type: 'image', region: 'RegionOne', url: 'http://127.0.0.1:8774/image' },
    { type: 'tricircle', region: 'CentralRegion', url: 'http://127.0.0.1:19999/v1.0' },
  ];

  function os(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(OPENSTACK, args, { env }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
  }
  async function json(env: NodeJS.ProcessEnv, ...args: string[]): Promise<any> {
    const r = await os(env, ...args, '-f', 'json');
    assert.equal(r.code, 0, `openstack ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tricircle-osc-identity-'));
    identity = await startIdentityApi(`sqlite:///${join(dir, 'central.sqlite')}`, catalog);
    neutron = await startNeutronApi(`sqlite:///${join(dir, 'neutron.sqlite')}`, {
      DEFAULT: { auth_strategy: 'keystone' },
      keystone_authtoken: { auth_url: identity.url, username: 'admin', password: 'admin', project_name: 'admin', token_cache_time: '0' },
    });
    // The host's OS_* variables (a cloud, a token) must not steer the client under test.
    cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_')));
    // What admin-openrc.sh exports, with the auth URL at the root: the client discovers /v3.
    adminEnv = {
      ...cleanEnv,
      OS_AUTH_URL: identity.url,
      OS_USERNAME: 'admin',
      OS_PASSWORD: 'admin',
      OS_PROJECT_NAME: 'admin',
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: 'CentralRegion',
      OS_IDENTITY_API_VERSION: '3',
      OS_INTERFACE: 'public',
    };
  });
  after(async () => {
    await neutron?.close();
    await identity?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('issues a token (auth URL without /v3) that the identity service validates, and revokes it', async () => {
    const token = await json(adminEnv, 'token', 'issue');
    const checked = await call(identity.url, 'GET', '/v3/auth/tokens', undefined, { 'x-auth-token': token.id, 'x-subject-token': token.id });
    assert.equal(checked.status, 200);
    assert.equal(checked.body.token.user.id, token.user_id);
    assert.equal(checked.body.token.project.id, token.project_id);
    assert.equal(checked.body.token.project.name, 'admin');
    assert.ok(Date.parse(token.expires) > Date.now());
    const revoked = await os(adminEnv, 'token', 'revoke', token.id);
    assert.equal(revoked.code, 0, revoked.stderr);
    const other = await json(adminEnv, 'token', 'issue');
    assert.equal((await call(identity.url, 'GET', '/v3/auth/tokens', undefined, { 'x-auth-token': other.id, 'x-subject-token': token.id })).status, 404);
  });

  it('lists the catalog: every service with its regions and interfaces', async () => {
    const services = await json(adminEnv, 'catalog', 'list');
    assert.deepEqual(services.map((s: { Name: string; Type: string }) => `${s.Name}:${s.Type}`).sort(), [
      'glance:image',
      'keystone:identity',
      'neutron:network',
      'nova:compute',
      'tricircle:tricircle',
    ]);
    const network = services.find((s: { Type: string }) => s.Type === 'network');
    const endpoints = network.Endpoints.map((e: { region: string; interface: string; url: string }) => `${e.region} ${e.interface} ${e.url}`).sort();
    assert.deepEqual(
      endpoints,
      ['CentralRegion', 'RegionOne'].flatMap((region) => ['admin', 'internal', 'public'].map((iface) => `${region} ${iface} ${neutron.url}`)),
    );
  });

  it('lists projects, users, roles, regions, services and role assignments for the admin', async () => {
    assert.deepEqual((await json(adminEnv, 'project', 'list')).map((p: { Name: string }) => p.Name).sort(), ['admin', 'demo']);
    assert.deepEqual((await json(adminEnv, 'user', 'list')).map((u: { Name: string }) => u.Name).sort(), ['admin', 'demo']);
    assert.deepEqual((await json(adminEnv, 'role', 'list')).map((r: { Name: string }) => r.Name).sort(), ['admin', 'member', 'reader']);
    assert.deepEqual(
      (await json(adminEnv, 'region', 'list')).map((r: { Region: string }) => r.Region),
      ['CentralRegion', 'RegionOne'],
    );
    assert.equal((await json(adminEnv, 'service', 'list')).length, 5);
    assert.equal((await json(adminEnv, 'project', 'show', 'demo')).name, 'demo');
    const assignments = await json(adminEnv, 'role', 'assignment', 'list', '--names', '--user', 'demo');
    assert.deepEqual(assignments.map((a: { Role: string; User: string; Project: string }) => `${a.User} ${a.Project} ${a.Role}`).sort(), [
      'demo@Default demo@Default member',
      'demo@Default demo@Default reader',
    ]);
  });

  it('lists endpoints by service, and with --os-region-name RegionOne', async () => {
    const network = await json(adminEnv, 'endpoint', 'list', '--service', 'network');
    assert.deepEqual(
      network.map((e: { Region: string; Interface: string; 'Service Name': string }) => `${e.Region} ${e.Interface} ${e['Service Name']}`).sort(),
      [
        'CentralRegion admin neutron',
        'CentralRegion internal neutron',
        'CentralRegion public neutron',
        'RegionOne admin neutron',
        'RegionOne internal neutron',
        'RegionOne public neutron',
      ],
    );
    const publicOnes = await json(adminEnv, 'endpoint', 'list', '--interface', 'public', '--region', 'RegionOne');
    assert.deepEqual(publicOnes.map((e: { 'Service Type': string }) => e['Service Type']).sort(), ['compute', 'identity', 'image', 'network']);
    // The client finds the identity service in the region it is told to use.
    const all = await json(adminEnv, '--os-region-name', 'RegionOne', 'endpoint', 'list');
    assert.equal(all.length, 3 * (catalog().length + 1));
  });

  it('drives a Neutron found in the catalog, by region, with the tokens it issues (auth URL with /v3 in clouds.yaml)', async () => {
    const clouds = join(dir, 'clouds.yaml');
    writeFileSync(
      clouds,
      [
        'clouds:',
        '  tricircle-demo:',
        '    auth:',
        `      auth_url: ${identity.url}/v3`,
        '      username: demo',
        '      password: demo',
        '      project_name: demo',
        '      user_domain_name: Default',
        '      project_domain_name: Default',
        // With region_name alone the client refuses any other --os-region-name; the first of regions is the default.
        '    regions: [CentralRegion, RegionOne]',
        '    interface: public',
        '    identity_api_version: 3',
        '',
      ].join('\n'),
    );
    const demoEnv = { ...cleanEnv, OS_CLIENT_CONFIG_FILE: clouds, OS_CLOUD: 'tricircle-demo' };
    const created = await json(demoEnv, '--os-region-name', 'RegionOne', 'network', 'create', 'net1');
    const demoProject = (await json(demoEnv, 'project', 'list', '--my-projects'))[0];
    assert.equal(demoProject.Name, 'demo');
    assert.equal(created.project_id, demoProject.ID);
    const listed = await json(demoEnv, 'network', 'list');
    assert.deepEqual(
      listed.map((n: { Name: string }) => n.Name),
      ['net1'],
    );
    const forbidden = await os(demoEnv, 'user', 'list');
    assert.notEqual(forbidden.code, 0);
    assert.match(forbidden.stderr, /not authorized|HTTP 403/);
  });
});
