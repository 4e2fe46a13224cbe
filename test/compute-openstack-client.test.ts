import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CIRROS_IMAGE_ID } from '../src/compute/index.js';
import { startComputeApi, type RunningComputeApi } from './support/compute-server.js';
import { startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';
import { OPENSTACK, openstackClientMissing } from './support/openstack-client.js';

// Debian's `openstack` command booting servers through our compute service on our Neutron,
// both noauth. With --os-auth-type none the nova client sends every compute request to the
// auth endpoint, so a clouds.yaml names the compute API there and points the network and
// image services at their own URLs. Skipped where the client is missing, unless
// TRICIRCLE_TEST_REQUIRE_OPENSTACK_CLIENT=1 (CI).

const missing = openstackClientMissing();

describe('the openstack client against the compute service', { skip: missing }, () => {
  let dir: string;
  let neutron: RunningNeutronApi;
  let compute: RunningComputeApi;
  let env: NodeJS.ProcessEnv;

  function os(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(OPENSTACK, ['--os-cloud', 'tricircle', ...args], { env }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
  }
  async function json(...args: string[]): Promise<any> {
    const r = await os(...args, '-f', 'json');
    assert.equal(r.code, 0, `openstack ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tricircle-osc-compute-'));
    const connection = `sqlite:///${join(dir, 'region.sqlite')}`;
    neutron = await startNeutronApi(connection);
    compute = await startComputeApi(connection, neutron.url);
    const clouds = join(dir, 'clouds.yaml');
    writeFileSync(
      clouds,
      [
        'clouds:',
        '  tricircle:',
        '    auth_type: none',
        '    auth:',
        `      endpoint: ${compute.url}/v2.1`,
        `    image_endpoint_override: ${compute.url}/image`,
        `    network_endpoint_override: ${neutron.url}`,
        '',
      ].join('\n'),
    );
    // The host's OS_* variables (a cloud, a token) must not steer the client under test.
    env = { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_'))), OS_CLIENT_CONFIG_FILE: clouds };
  });
  after(async () => {
    await compute?.close();
    await neutron?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists flavors and images', async () => {
    const flavors = await json('flavor', 'list');
    assert.deepEqual(
      flavors.map((f: { ID: string; Name: string }) => [f.ID, f.Name]),
      [
        ['1', 'm1.tiny'],
        ['2', 'm1.small'],
        ['3', 'm1.medium'],
        ['4', 'm1.large'],
        ['5', 'm1.xlarge'],
      ],
    );
    const images = await json('image', 'list');
    assert.deepEqual(
      images.map((i: { ID: string; Status: string }) => [i.ID, i.Status]),
      [[CIRROS_IMAGE_ID, 'active']],
    );
  });

  it('creates a server on a network and waits for it, lists, shows and deletes it', async () => {
    const network = await json('network', 'create', 'osc-compute-net');
    await json('subnet', 'create', 'osc-compute-subnet', '--network', network.id, '--subnet-range', '10.20.0.0/24');

    const created = await json('server', 'create', 'osc-vm', '--flavor', '1', '--image', CIRROS_IMAGE_ID, '--nic', `net-id=${network.id}`, '--wait');
    assert.equal(created.status, 'ACTIVE');
    assert.equal(created.flavor, 'm1.tiny (1)');
    const [port] = await json('port', 'list', '--device-id', created.id, '--long');
    assert.equal(port['Device Owner'], 'compute:nova');
    const ip = port['Fixed IP Addresses'][0].ip_address;
    assert.deepEqual(created.addresses, { 'osc-compute-net': [ip] });

    const listed = await json('server', 'list');
    assert.deepEqual(
      listed.map((s: { Name: string; Status: string; Networks: unknown }) => [s.Name, s.Status, s.Networks]),
      [['osc-vm', 'ACTIVE', { 'osc-compute-net': [ip] }]],
    );
    const shown = await json('server', 'show', 'osc-vm');
    assert.equal(shown.id, created.id);
    assert.equal(shown['OS-EXT-SRV-ATTR:host'], 'RegionOne-compute1');

    const deleted = await os('server', 'delete', 'osc-vm', '--wait');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual(await json('server', 'list'), []);
    assert.deepEqual(await json('port', 'list', '--device-id', created.id), []);
    const gone = await os('server', 'show', created.id);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /No server with a name or ID/);
  });
});
