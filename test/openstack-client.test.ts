import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// Debian's `openstack` command (python3-openstackclient) driving our Neutron server, as an
// operator would, with --os-auth-type none against the noauth server. The test reads the
// commands' output, not just their exit codes. Where the client is not installed the suite
// is skipped with the reason, unless TRICIRCLE_TEST_REQUIRE_OPENSTACK_CLIENT=1 (CI).

const OPENSTACK = '/usr/bin/openstack';
const missing = existsSync(OPENSTACK) ? undefined : `${OPENSTACK} is not installed (apt-get install -y python3-openstackclient)`;
if (missing && process.env.TRICIRCLE_TEST_REQUIRE_OPENSTACK_CLIENT === '1') throw new Error(missing);

// The host's OS_* variables (a cloud, a token) must not steer the client under test.
const ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_')));

describe('the openstack client against our Neutron', { skip: missing }, () => {
  let dir: string;
  let api: RunningNeutronApi;

  /** Runs `openstack <args>` against the server; JSON output parsed when `-f json` is given. */
  function os(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(OPENSTACK, ['--os-auth-type', 'none', '--os-endpoint', api.url, ...args], { env: ENV }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
  }
  async function json(...args: string[]): Promise<any> {
    const r = await os(...args, '-f', 'json');
    assert.equal(r.code, 0, `openstack ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }
  async function ok(...args: string[]): Promise<string> {
    const r = await os(...args);
    assert.equal(r.code, 0, `openstack ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tricircle-osc-'));
    api = await startNeutronApi(`sqlite:///${join(dir, 'neutron.sqlite')}`);
  });
  after(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, lists, shows, sets and deletes networks', async () => {
    const created = await json('network', 'create', 'osc-net', '--description', 'made by osc');
    assert.equal(created.name, 'osc-net');
    assert.equal(created.description, 'made by osc');
    assert.equal(created.status, 'ACTIVE');
    assert.equal(created['provider:network_type'], 'vxlan');
    assert.equal(created.mtu, 1450);
    const external = await json('network', 'create', 'osc-ext', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'public');
    assert.equal(external['router:external'], true);
    assert.equal(external['provider:physical_network'], 'public');

    const listed = await json('network', 'list');
    assert.deepEqual(listed.map((n: { Name: string }) => n.Name).sort(), ['osc-ext', 'osc-net']);
    const externalOnly = await json('network', 'list', '--external');
    assert.deepEqual(
      externalOnly.map((n: { Name: string }) => n.Name),
      ['osc-ext'],
    );

    await ok('network', 'set', 'osc-net', '--name', 'osc-renamed', '--mtu', '1400', '--tag', 'blue');
    const shown = await json('network', 'show', 'osc-renamed');
    assert.equal(shown.id, created.id);
    assert.equal(shown.mtu, 1400);
    assert.deepEqual(shown.tags, ['blue']);
    assert.equal(shown.revision_number > created.revision_number, true);

    await ok('network', 'delete', 'osc-renamed');
    const gone = await os('network', 'show', created.id);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /No Network found for|could not be found/);
  });

  // `openstack quota show` is not here: it resolves the project through Keystone's identity
  // API, which a noauth endpoint does not have (the quotas API itself is tested over HTTP).
  it('lists availability zones and extensions', async () => {
    const zones = await json('availability', 'zone', 'list', '--network', '--long');
    assert.ok(zones.some((z: { 'Zone Name': string; 'Zone Resource': string }) => z['Zone Name'] === 'nova' && z['Zone Resource'] === 'network'));
    const extensions = await json('extension', 'list', '--network');
    const aliases = extensions.map((e: { Alias: string }) => e.Alias);
    for (const alias of ['provider', 'external-net', 'quotas', 'standard-attr-tag']) assert.ok(aliases.includes(alias), alias);
  });
});
