import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { CIRROS_IMAGE_ID } from '../src/compute/index.js';
import { OPENSTACK, openstackClientMissing } from './support/openstack-client.js';
import { until } from './support/xjob-processes.js';

// `tricircle up` as a newcomer runs it: the real command on a temporary data directory and a
// free range of ports, its client files, every endpoint behind the identity service, the
// openstack client, and the data directory's lock, reset, refusals, restarts and crashes.

const BIN = join(import.meta.dirname, '..', 'bin', 'tricircle.js');
// The host's OS_* variables must not steer the clients under test.
const BASE_ENV = { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_'))), TRICIRCLE_DEFAULT__LOG_LEVEL: 'warn' };
const REGIONS = 2;
// identity, Admin API, central Neutron, then a Neutron and a compute per region.
const PORTS = 3 + 2 * REGIONS;

/** `count` consecutive ports on 127.0.0.1 that nothing listens on (held while probing, then released). */
async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768 up), where port-0 servers and outgoing connections would take them meanwhile; above the defaults of up.
    const base = 21000 + Math.floor(Math.random() * (32768 - 21000 - count));
    const held: Server[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const server = createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(base + i, '127.0.0.1', resolve);
        });
        held.push(server);
      }
      return base;
    } catch {
      // One is taken: another range.
    } finally {
      await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

interface Up {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

/** Starts `tricircle up` and resolves once it says it is ready (or rejects with what it said when it exits first). */
function startUp(args: string[]): Promise<Up> {
  const child = spawn(process.execPath, [BIN, 'up', ...args], { env: BASE_ENV });
  let stderr = '';
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('tricircle up: ready')) resolve({ child, exited, stderr: () => stderr });
    });
    void exited.then((code) => reject(new Error(`tricircle up exited with ${code}: ${stderr}`)));
  });
}

/** Runs `tricircle up` expected to refuse: its exit code and what it said. */
async function refusedUp(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'up', ...args], { env: BASE_ENV });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stderr };
}

async function stop(up: Up, signal: NodeJS.Signals): Promise<number | null> {
  up.child.kill(signal);
  return up.exited;
}

interface CatalogEntry {
  type: string;
  endpoints: Array<{ interface: string; region: string; url: string }>;
}

/** A project-scoped token of the identity service, with its catalog. */
async function issueToken(identity: string, user: string, password: string): Promise<{ token: string; catalog: CatalogEntry[] }> {
  const response = await fetch(`${identity}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
        scope: { project: { name: user, domain: { name: 'Default' } } },
      },
    }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  const body = (await response.json()) as { token: { catalog: CatalogEntry[] } };
  return { token: response.headers.get('x-subject-token')!, catalog: body.token.catalog };
}

/** A JSON call with a token: the status and the parsed body. */
async function call(token: string | null, method: string, url: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers['x-auth-token'] = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('tricircle up', () => {
  let base: number;
  let dir: string;
  let up: Up;
  let identity: string;
  let admin: string; // the Admin API
  let central: string; // the central Neutron
  let regionOne: string; // RegionOne's Neutron
  let token: string;

  const start = async (extra: string[] = []) => {
    up = await startUp(['--data-dir', dir, '--base-port', String(base), '--regions', String(REGIONS), ...extra]);
    token = (await issueToken(identity, 'admin', 'admin')).token;
  };
  const pods = async () => (await call(token, 'GET', `${admin}/v1.0/pods`)).body.pods as Array<{ region_name: string; az_name: string }>;

  /** A new base port; two more free below it, for the clash of the central Neutron. */
  const moveToFreePorts = async () => {
    base = (await freePorts(PORTS + 2)) + 2;
    identity = `http://127.0.0.1:${base}`;
    admin = `http://127.0.0.1:${base + 1}`;
    central = `http://127.0.0.1:${base + 2}`;
    regionOne = `http://127.0.0.1:${base + 3}`;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tricircle-up-'));
    await moveToFreePorts();
    await start();
  });
  after(async () => {
    if (up.child.exitCode === null && up.child.signalCode === null) await stop(up, 'SIGKILL');
  });

  it('writes clouds.yaml and the openrc files for admin and demo, and says where everything is', () => {
    const clouds = parseYaml(readFileSync(join(dir, 'clouds.yaml'), 'utf8')) as { clouds: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(clouds.clouds).sort(), ['tricircle-admin', 'tricircle-demo']);
    for (const user of ['admin', 'demo']) {
      assert.deepEqual(clouds.clouds[`tricircle-${user}`], {
        auth: {
          auth_url: `${identity}/v3`,
          username: user,
          password: user,
          project_name: user,
          user_domain_name: 'Default',
          project_domain_name: 'Default',
        },
        region_name: 'CentralRegion',
        regions: ['CentralRegion', 'RegionOne', 'RegionTwo'],
        interface: 'public',
        identity_api_version: 3,
      });
      const openrc = readFileSync(join(dir, `${user}-openrc.sh`), 'utf8');
      const exported = Object.fromEntries([...openrc.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
      assert.deepEqual(exported, {
        OS_AUTH_URL: `${identity}/v3`,
        OS_USERNAME: user,
        OS_PASSWORD: user,
        OS_PROJECT_NAME: user,
        OS_USER_DOMAIN_NAME: 'Default',
        OS_PROJECT_DOMAIN_NAME: 'Default',
        OS_REGION_NAME: 'CentralRegion',
        OS_IDENTITY_API_VERSION: '3',
        OS_INTERFACE: 'public',
      });
    }
    const said = up.stderr();
    for (let port = base; port < base + PORTS; port++) assert.ok(said.includes(`http://127.0.0.1:${port}`), `port ${port} in: ${said}`);
    assert.ok(said.includes(`try: source ${join(dir, 'admin-openrc.sh')} && openstack --os-region-name CentralRegion network list`), said);
  });

  it("lists every service in the token's catalog, each answering at its URL", async () => {
    const { catalog } = await issueToken(identity, 'demo', 'demo');
    const publicUrls = catalog.flatMap((service) =>
      service.endpoints.filter((e) => e.interface === 'public').map((e) => `${service.type} ${e.region} ${e.url.replace(/\/+$/, '')}`),
    );
    const expected = [
      `identity CentralRegion ${identity}/v3`,
      `tricircle CentralRegion ${admin}/v1.0`,
      `network CentralRegion ${central}`,
      ...[1, 2].flatMap((n) => {
        const region = n === 1 ? 'RegionOne' : 'RegionTwo';
        const neutron = `http://127.0.0.1:${base + 1 + 2 * n}`;
        const compute = `http://127.0.0.1:${base + 2 + 2 * n}`;
        return [`network ${region} ${neutron}`, `compute ${region} ${compute}/v2.1`, `image ${region} ${compute}/image`, `identity ${region} ${identity}/v3`];
      }),
    ];
    assert.deepEqual(publicUrls.sort(), expected.sort());
    const demo = (await issueToken(identity, 'demo', 'demo')).token;
    const paths: Record<string, string> = {
      identity: '/auth/projects',
      tricircle: '/routings',
      network: '/v2.0/networks',
      compute: '/flavors',
      image: '/v2/images',
    };
    for (const service of catalog) {
      for (const endpoint of service.endpoints.filter((e) => e.interface === 'public')) {
        const url = `${endpoint.url.replace(/\/+$/, '')}${paths[service.type]}`;
        const answer = await call(service.type === 'tricircle' ? token : demo, 'GET', url);
        assert.equal(answer.status, 200, `${service.type} ${endpoint.region} ${url}: ${JSON.stringify(answer.body)}`);
      }
    }
  });

  it("takes the identity service's tokens at the central Neutron and the Admin API, and refuses requests without one", async () => {
    assert.deepEqual((await pods()).map((pod) => `${pod.region_name}/${pod.az_name}`).sort(), ['CentralRegion/', 'RegionOne/az1', 'RegionTwo/az2']);
    assert.equal((await call(token, 'GET', `${central}/v2.0/networks`)).status, 200);
    assert.equal((await call(null, 'GET', `${central}/v2.0/networks`)).status, 401);
    assert.equal((await call(null, 'GET', `${admin}/v1.0/pods`)).status, 401);
    assert.equal((await call('not-a-token', 'GET', `${regionOne}/v2.0/networks`)).status, 401);
  });

  it('serves the openstack client with clouds.yaml, in any region', async (t: TestContext) => {
    const missing = openstackClientMissing();
    if (missing) return t.skip(missing);
    const created = await call(token, 'POST', `${central}/v2.0/networks`, { network: { name: 'client-net' } });
    assert.equal(created.status, 201);
    const env = { ...BASE_ENV, OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml') };
    const list = async (region: string) =>
      (
        await promisify(execFile)(OPENSTACK, ['--os-cloud', 'tricircle-admin', '--os-region-name', region, 'network', 'list', '-f', 'value', '-c', 'Name'], {
          env,
        })
      ).stdout;
    assert.match(await list('CentralRegion'), /^client-net$/m);
    // Not in RegionOne until something there uses it.
    assert.doesNotMatch(await list('RegionOne'), /client-net/);
  });

  it('refuses a second up on the same data directory, naming it and the running one, and touches nothing', async () => {
    const lock = readFileSync(join(dir, 'up.pid'), 'utf8');
    const before = sha256(join(dir, 'clouds.yaml'));
    const other = await freePorts(PORTS);
    const second = await refusedUp(['--data-dir', dir, '--base-port', String(other), '--reset']);
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr,
      `tricircle up: the data directory ${dir} is in use by another tricircle up (pid ${up.child.pid}); stop it first, or give another --data-dir\n`,
    );
    assert.equal(readFileSync(join(dir, 'up.pid'), 'utf8'), lock);
    assert.equal(sha256(join(dir, 'clouds.yaml')), before);
    assert.equal((await pods()).length, 3, 'still serving');
  });

  it('names the port in use and the option to change, and leaves the data directory unlocked', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'tricircle-up-clash-'));
    const clash = await refusedUp(['--data-dir', elsewhere, '--base-port', String(base)]);
    assert.equal(clash.code, 1);
    assert.equal(clash.stderr, `tricircle up: port ${base} on 127.0.0.1 is in use (the identity service; set [identity] bind_port or --base-port)\n`);
    assert.ok(!existsSync(join(elsewhere, 'up.pid')));
    // One further up, the central Neutron is the first to find its port taken.
    const centralClash = await refusedUp(['--data-dir', elsewhere, '--base-port', String(base - 2)]);
    assert.ok(
      centralClash.stderr.endsWith(`\ntricircle up: port ${base} on 127.0.0.1 is in use (the central Neutron; set [neutron] bind_port or --base-port)\n`),
      centralClash.stderr,
    );
  });

  it('stops on SIGTERM with exit code 0 and the lock released, and resumes every resource on a restart on other ports', async () => {
    const net = await call(token, 'POST', `${central}/v2.0/networks`, { network: { name: 'kept' } });
    assert.equal(net.status, 201);
    const id = (net.body.network as { id: string }).id;
    assert.equal(await stop(up, 'SIGTERM'), 0);
    assert.ok(!existsSync(join(dir, 'up.pid')));
    // On other ports: the catalog and the cached endpoints follow (the next test's jobs reach RegionOne there).
    await moveToFreePorts();
    await start();
    assert.equal((await call(token, 'GET', `${central}/v2.0/networks/${id}`)).status, 200);
    assert.match(readFileSync(join(dir, 'clouds.yaml'), 'utf8'), new RegExp(`auth_url: ${identity}/v3`));
    assert.equal((await pods()).length, 3, 'the pods are not registered twice');
  });

  it('takes over the lock of an up killed with SIGKILL, and the jobs pending at the kill converge', async () => {
    const net = (await call(token, 'POST', `${central}/v2.0/networks`, { network: { name: 'routed' } })).body.network as { id: string };
    const subnet = await call(token, 'POST', `${central}/v2.0/subnets`, { subnet: { network_id: net.id, cidr: '10.20.0.0/24', ip_version: 4 } });
    assert.equal(subnet.status, 201);
    // A server in RegionOne puts the network there, so the router's interface is RegionOne's work.
    const server = await call(token, 'POST', `http://127.0.0.1:${base + 4}/v2.1/servers`, {
      server: { name: 'vm1', flavorRef: '1', imageRef: CIRROS_IMAGE_ID, networks: [{ uuid: net.id }] },
    });
    assert.equal(server.status, 202, JSON.stringify(server.body));
    const router = (await call(token, 'POST', `${central}/v2.0/routers`, { router: { name: 'r' } })).body.router as { id: string };
    const added = await call(token, 'PUT', `${central}/v2.0/routers/${router.id}/add_router_interface`, {
      subnet_id: (subnet.body.subnet as { id: string }).id,
    });
    assert.equal(added.status, 200);
    const killed = up.child.pid;
    await stop(up, 'SIGKILL');
    assert.equal(readFileSync(join(dir, 'up.pid'), 'utf8'), `${killed}\n`, 'the dead lock is left behind');
    const database = new SqliteDatabase(join(dir, 'tricircle.sqlite'), { readonly: true });
    const pending = database.prepare("SELECT count(*) FROM async_jobs WHERE status IN ('NEW', 'RUNNING')").pluck().get() as number;
    database.close();
    assert.ok(pending > 0, 'the kill came before the jobs were done');
    await start();
    assert.equal(readFileSync(join(dir, 'up.pid'), 'utf8'), `${up.child.pid}\n`);
    await until(
      'every job to succeed',
      async () => {
        const jobs = (await call(token, 'GET', `${admin}/v1.0/jobs`)).body.jobs as Array<{ status: string; type: string }>;
        return jobs.some((job) => job.type === 'router_setup') && jobs.every((job) => job.status === 'SUCCESS');
      },
      60_000,
    );
    const copies = (await call(token, 'GET', `${regionOne}/v2.0/routers`)).body.routers as Array<{ name: string }>;
    assert.deepEqual(
      copies.map((r) => r.name),
      [router.id],
    );
  });

  it('finishes an in-flight request after SIGTERM, then exits 0', async () => {
    const body = JSON.stringify({ pod: { region_name: 'RegionThree', az_name: 'az3' } });
    // Send the headers (asking for 100 Continue, so we know the server has the request in
    // hand) and half the body, signal the server, then send the rest.
    const socket = connect(base + 1, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let response = '';
    socket.on('data', (d) => (response += d));
    const closed = new Promise((r) => socket.once('close', r));
    socket.write(
      `POST /v1.0/pods HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
        'Expect: 100-continue\r\nConnection: close\r\n\r\n',
    );
    while (!response.includes('100 Continue')) await new Promise((r) => setTimeout(r, 20));
    socket.write(body.slice(0, 10));
    up.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    socket.write(body.slice(10));
    await closed;
    assert.match(response, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.match(response, /"region_name":"RegionThree"/);
    assert.equal(await up.exited, 0);
    await assert.rejects(fetch(`${admin}/`), 'no longer listening');
  });

  it('starts from nothing with --reset, and stops on Ctrl-C', async () => {
    await start(['--reset']);
    assert.match(up.stderr(), new RegExp(`tricircle up: --reset removed \\d+ files from ${dir}`));
    assert.deepEqual((await call(token, 'GET', `${central}/v2.0/networks`)).body.networks, []);
    assert.deepEqual((await pods()).map((pod) => pod.region_name).sort(), ['CentralRegion', 'RegionOne', 'RegionTwo']);
    assert.ok(existsSync(join(dir, 'clouds.yaml')));
    assert.equal(await stop(up, 'SIGINT'), 0);
  });
});

describe('tricircle up on a data directory left behind', () => {
  let base: number;
  before(async () => {
    base = await freePorts(PORTS);
  });

  /** A data directory holding a tricircle.sqlite made by `make`. */
  function dataDir(make: (file: string) => void): { dir: string; file: string } {
    const dir = mkdtempSync(join(tmpdir(), 'tricircle-up-refused-'));
    const file = join(dir, 'tricircle.sqlite');
    make(file);
    return { dir, file };
  }

  const assertUntouched = (dir: string, file: string, hash: string) => {
    assert.equal(sha256(file), hash);
    assert.deepEqual(readdirSync(dir), ['tricircle.sqlite'], 'no other file created, and the lock released');
  };

  it('takes over a lock file left without a pid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tricircle-up-stale-'));
    const lock = join(dir, 'up.pid');
    writeFileSync(lock, '');
    utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const up = await startUp(['--data-dir', dir, '--base-port', String(base), '--regions', String(REGIONS)]);
    assert.equal(readFileSync(lock, 'utf8'), `${up.child.pid}\n`);
    assert.equal(await stop(up, 'SIGTERM'), 0);
    assert.ok(!existsSync(lock));
  });

  it('refuses a database of a newer schema, naming the file and the migration', async () => {
    const { dir, file } = dataDir((path) => {
      const db = new SqliteDatabase(path);
      db.exec(
        "CREATE TABLE tricircle_migrations (name varchar(255) PRIMARY KEY, timestamp varchar(255)); INSERT INTO tricircle_migrations VALUES ('001_initial', 'x'), ('999_future', 'y')",
      );
      db.close();
    });
    const hash = sha256(file);
    const refused = await refusedUp(['--data-dir', dir, '--base-port', String(base)]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `tricircle up: ${file} has a newer schema than this tricircle knows (migration 999_future); run the tricircle version that wrote it, or start from nothing with --reset\n`,
    );
    assertUntouched(dir, file, hash);
  });

  it('refuses a corrupted database, naming the file', async () => {
    const { dir, file } = dataDir((path) => writeFileSync(path, 'this is not a database, it only has its name\n'.repeat(200)));
    const hash = sha256(file);
    const refused = await refusedUp(['--data-dir', dir, '--base-port', String(base)]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(`^tricircle up: ${file} is not a readable SQLite database \\(.+\\); move it away, or start from nothing with --reset\n$`),
    );
    assertUntouched(dir, file, hash);
  });
});
