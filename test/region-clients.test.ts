import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  AdminNeutron,
  AdminRegionClients,
  EndpointNotFoundError,
  NeutronRequestError,
  RegionNotFoundError,
  ServiceUnreachableError,
  regionClientOptions,
} from '../src/client/index.js';
import { loadConfig, type SectionName } from '../src/config/index.js';
import { migrateToLatest, openDb, parseConnection, type Db } from '../src/db/index.js';
import { JobRepository, PodRepository, type Pod } from '../src/tricircle/index.js';
import { isTransient, startXJob } from '../src/xjob/index.js';
import { engines, type TestDatabase } from './support/engines.js';
import { startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';
import { closedPort } from './support/net.js';
import { issueToken, keystoneAuthOptions, keystoneUp } from './support/keystone.js';

// The admin region clients against real services: Keystone from scripts/keystone-up.sh
// (skipped where it cannot start, a failure with TRICIRCLE_TEST_REQUIRE_KEYSTONE=1), our own
// Neutron server as the region (validating tokens against that Keystone), and a fresh
// Tricircle database. The test registers its region, network service and endpoints in
// Keystone under names unique to the run, and removes them afterwards.

const silent = pino({ level: 'silent' });
const run = randomBytes(4).toString('hex');
const REGION = `RegionOne-${run}`; // a pod, with a Neutron endpoint in Keystone
const BARE_REGION = `RegionBare-${run}`; // a pod, without any endpoint in Keystone

/** A TCP server that accepts connections and never answers. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The rejection of `promise`, asserting that there is one. */
async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, any>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, any>;
  }
  assert.fail('expected a rejection');
}

describe('admin region clients (real Keystone, our Neutron as the region)', () => {
  let unavailable: string | undefined;
  let keystone: string;
  let adminToken: string;
  let neutron: RunningNeutronApi;
  let neutronDatabase: TestDatabase;
  let database: TestDatabase;
  let db: Db;
  let pod: Pod;
  let barePod: Pod;
  let clients: AdminRegionClients;
  const cleanup: Array<() => Promise<unknown>> = [];

  const test = (name: string, fn: () => Promise<void>) =>
    it(name, async (t: TestContext) => {
      if (unavailable) return t.skip(unavailable);
      await fn();
    });

  /** Keystone's REST API as admin/admin; asserts the expected status and returns the JSON body. */
  async function asAdmin(method: string, path: string, expected: number, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${keystone}${path}`, {
      method,
      headers: { 'x-auth-token': adminToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    assert.equal(response.status, expected, `Keystone: ${method} ${path} answered ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  const options = (client: Record<string, string> = {}) => {
    const sections: Partial<Record<SectionName, Record<string, string>>> = {
      client: { auth_url: keystone, admin_username: 'admin', admin_password: 'admin', admin_tenant: 'admin', neutron_timeout: '90', ...client },
    };
    return regionClientOptions(loadConfig({ env: {}, overrides: sections }).config)!;
  };

  const cachedRows = (podId: string) => db.kysely.selectFrom('cached_endpoints').select(['service_type', 'service_url']).where('pod_id', '=', podId).execute();
  const setCachedUrl = (podId: string, url: string) =>
    db.kysely.updateTable('cached_endpoints').set({ service_url: url }).where('pod_id', '=', podId).execute();

  before(async () => {
    const up = await keystoneUp();
    if (!up.url) {
      unavailable = `no Keystone here: ${up.problem}`;
      return;
    }
    keystone = up.url;
    adminToken = await issueToken(keystone, 'admin', 'admin', 'admin');

    const sqlite = (await engines()).find((engine) => engine.name === 'sqlite')!;
    neutronDatabase = await sqlite.create();
    cleanup.push(() => neutronDatabase.drop());
    neutron = await startNeutronApi(neutronDatabase.connection, keystoneAuthOptions(keystone));
    cleanup.push(() => neutron.close());

    // The region in Keystone: a network service with a public endpoint (written with a
    // trailing slash, as catalogs often are) and an internal one that must not be used.
    await asAdmin('POST', '/regions', 201, { region: { id: REGION } });
    cleanup.push(() => asAdmin('DELETE', `/regions/${REGION}`, 204));
    const { service } = await asAdmin('POST', '/services', 201, { service: { type: 'network', name: `neutron-${run}` } });
    cleanup.push(() => asAdmin('DELETE', `/services/${service.id}`, 204));
    for (const [iface, url] of [
      ['public', `${neutron.url}/`],
      ['internal', `http://127.0.0.1:${await closedPort()}`],
    ]) {
      const { endpoint } = await asAdmin('POST', '/endpoints', 201, { endpoint: { service_id: service.id, interface: iface, region_id: REGION, url } });
      cleanup.push(() => asAdmin('DELETE', `/endpoints/${endpoint.id}`, 204));
    }

    database = await sqlite.create();
    cleanup.push(() => database.drop());
    db = openDb(parseConnection(database.connection, '.'), 4);
    cleanup.push(() => db.close());
    await migrateToLatest(db);
    const pods = new PodRepository(db);
    pod = await pods.create({ region_name: REGION, az_name: 'az1', pod_az_name: '', dc_name: '' });
    barePod = await pods.create({ region_name: BARE_REGION, az_name: 'az2', pod_az_name: '', dc_name: '' });
    clients = new AdminRegionClients(db, options(), silent);
  });

  after(async () => {
    // The reverse of creation (endpoints before their service, the service before its
    // region); every step runs, the first failure is reported.
    const failures: unknown[] = [];
    for (const step of cleanup.reverse()) await step().catch((err: unknown) => failures.push(err));
    if (failures.length) throw failures[0];
  });

  test('discovers the Neutron of a region in Keystone and caches it in cached_endpoints', async () => {
    assert.deepEqual(await cachedRows(pod.pod_id), []);
    const regionOne = await clients.neutron(REGION);
    assert.equal(regionOne.endpoint, `${neutron.url}/`);
    assert.deepEqual(await cachedRows(pod.pod_id), [{ service_type: 'neutron', service_url: `${neutron.url}/` }]);
    // A pod Keystone has no endpoint for gets no row; a second lookup adds none.
    assert.deepEqual(await cachedRows(barePod.pod_id), []);
    assert.equal((await clients.neutron(REGION)).endpoint, `${neutron.url}/`);
    assert.equal((await cachedRows(pod.pod_id)).length, 1);
  });

  test('creates, lists, shows and deletes a network in the region', async () => {
    const regionOne = await clients.neutron(REGION);
    const name = `net-${run}`;
    const { network } = await regionOne.request<{ network: { id: string; name: string } }>('POST', '/v2.0/networks', { network: { name } });
    assert.equal(network.name, name);
    const listed = await regionOne.request<{ networks: Array<{ id: string }> }>('GET', `/v2.0/networks?name=${name}`);
    assert.deepEqual(
      listed.networks.map((n) => n.id),
      [network.id],
    );
    // The same path on an endpoint written with /v2.0 reaches the same network.
    const withVersion = new AdminNeutron(REGION, pod.pod_id, `${neutron.url}/v2.0`, clients);
    assert.equal((await withVersion.request<{ network: { id: string } }>('GET', `/v2.0/networks/${network.id}`)).network.id, network.id);
    assert.equal(await regionOne.request('DELETE', `/v2.0/networks/${network.id}`), undefined);
    const gone = await rejection(regionOne.request('GET', `/v2.0/networks/${network.id}`));
    assert.ok(gone instanceof NeutronRequestError);
    assert.equal(gone.status, 404);
    assert.equal(gone.type, 'NetworkNotFound');
    assert.equal(isTransient(gone), false);
  });

  test('throws Neutron errors with status, type and message, classified as isTransient expects', async () => {
    const regionOne = await clients.neutron(REGION);
    const bad = await rejection(regionOne.request('POST', '/v2.0/networks', { network: { admin_state_up: 'maybe' } }));
    assert.ok(bad instanceof NeutronRequestError);
    assert.equal(bad.status, 400);
    assert.match(bad.type ?? '', /^\w+$/); // the server's NeutronError type (which one is the server's business)
    assert.match(bad.neutronMessage, /'maybe' cannot be converted to boolean/);
    assert.ok(bad.message.includes(REGION) && bad.message.includes(bad.neutronMessage), bad.message);
    assert.equal(isTransient(bad), false);

    // A conflict is worth retrying (another worker may be mid-change).
    const flat = { 'provider:network_type': 'flat', 'provider:physical_network': `physnet-${run}` };
    const { network } = await regionOne.request<{ network: { id: string } }>('POST', '/v2.0/networks', { network: flat });
    const conflict = await rejection(regionOne.request('POST', '/v2.0/networks', { network: flat }));
    assert.equal(conflict.status, 409);
    assert.equal(conflict.type, 'PhysicalNetworkInUse');
    assert.equal(isTransient(conflict), true);
    await regionOne.request('DELETE', `/v2.0/networks/${network.id}`);
  });

  test('keeps one admin token and gets a new one once a region refuses it', async () => {
    const regionOne = await clients.neutron(REGION);
    const first = await clients.tokens.token();
    await regionOne.request('GET', '/v2.0/networks');
    assert.equal(await clients.tokens.token(), first);
    await asAdmin('DELETE', '/auth/tokens', 204, undefined, { 'x-subject-token': first });
    // The region answers 401 to the revoked token; the client gets a new one and tries again.
    const { networks } = await regionOne.request<{ networks: unknown[] }>('GET', '/v2.0/networks');
    assert.ok(Array.isArray(networks));
    assert.notEqual(await clients.tokens.token(), first);
  });

  test('finds the endpoint in Keystone again when the cached URL refuses connections', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    await setCachedUrl(pod.pod_id, dead);
    const regionOne = await clients.neutron(REGION);
    assert.equal(regionOne.endpoint, dead);
    const { networks } = await regionOne.request<{ networks: unknown[] }>('GET', '/v2.0/networks');
    assert.ok(Array.isArray(networks));
    assert.equal(regionOne.endpoint, `${neutron.url}/`);
    assert.deepEqual(await cachedRows(pod.pod_id), [{ service_type: 'neutron', service_url: `${neutron.url}/` }]);
  });

  test('with auto_refresh_endpoint off, uses the table only and lets the connection error through', async () => {
    const tableOnly = new AdminRegionClients(db, options({ auto_refresh_endpoint: 'false' }), silent);
    const port = await closedPort();
    await setCachedUrl(pod.pod_id, `http://127.0.0.1:${port}`);
    try {
      const regionOne = await tableOnly.neutron(REGION);
      const refused = await rejection(regionOne.request('GET', '/v2.0/networks'));
      assert.ok(refused instanceof ServiceUnreachableError);
      assert.equal(refused.cause && (refused.cause as { code?: string }).code, 'ECONNREFUSED');
      assert.match(refused.message, new RegExp(`Neutron of region ${REGION} at http://127.0.0.1:${port}/v2.0/networks cannot be reached`));
      assert.equal(isTransient(refused), true);
      assert.deepEqual(await cachedRows(pod.pod_id), [{ service_type: 'neutron', service_url: `http://127.0.0.1:${port}` }]);

      const missing = await rejection(tableOnly.neutron(BARE_REGION));
      assert.ok(missing instanceof EndpointNotFoundError);
      assert.match(missing.message, new RegExp(`no Neutron endpoint for region ${BARE_REGION} in the cached_endpoints table.*auto_refresh_endpoint`));
      assert.equal(isTransient(missing), false);
    } finally {
      await setCachedUrl(pod.pod_id, `${neutron.url}/`);
    }
  });

  test('names the region and what to check when a region is unknown or has no endpoint', async () => {
    const unknown = await rejection(clients.neutron(`Nowhere-${run}`));
    assert.ok(unknown instanceof RegionNotFoundError);
    assert.match(unknown.message, new RegExp(`region Nowhere-${run} is not registered with Tricircle: no pod`));
    assert.equal(isTransient(unknown), false);

    const bare = await rejection(clients.neutron(BARE_REGION));
    assert.ok(bare instanceof EndpointNotFoundError);
    assert.match(bare.message, new RegExp(`no Neutron endpoint for region ${BARE_REGION}: Keystone's catalog has no .*openstack endpoint list`));
    assert.equal(isTransient(bare), false);
    assert.deepEqual(await cachedRows(barePod.pod_id), []);
  });

  test('gives up after neutron_timeout without looking elsewhere, and stops at once on the caller signal', async () => {
    const hanging = await silentServer();
    try {
      // The admin token from the usual clients; only the Neutron's deadline is short.
      const quick = { tokens: clients.tokens, identityHeaders: {}, timeoutSeconds: 0.5, relocate: clients.relocate.bind(clients) };
      const regionOne = new AdminNeutron(REGION, pod.pod_id, hanging.url, quick);
      const late = await rejection(regionOne.request('GET', '/v2.0/networks'));
      assert.ok(late instanceof ServiceUnreachableError);
      assert.match(late.message, /did not answer within 0.5 s/);
      assert.equal(isTransient(late), true);
      // A slow Neutron is not a moved one: the request may have reached it.
      assert.equal(regionOne.endpoint, hanging.url);

      const stopped = await rejection(regionOne.request('GET', '/v2.0/networks', undefined, AbortSignal.abort()));
      assert.equal(stopped.name, 'AbortError');
    } finally {
      await hanging.close();
    }
  });

  describe('tricircle xjob wiring', () => {
    let handlers: string;
    before(() => {
      handlers = mkdtempSync(join(tmpdir(), 'region-clients-'));
      // A job type that creates a network named after its resource in the region named by it.
      writeFileSync(
        join(handlers, 'probe.mjs'),
        `export const jobTypes = { 'region-probe': { resource: ['region', 'name'], handle: async (ctx) => {
           const neutron = await ctx.clients.neutron(ctx.resource.region);
           await neutron.request('POST', '/v2.0/networks', { network: { name: ctx.resource.name } }, ctx.signal);
         } } };\n`,
      );
    });
    after(() => rmSync(handlers, { recursive: true, force: true }));

    /** Runs one region-probe job in a started xjob service and returns the job once finished. */
    async function probe(client: Record<string, string>, name: string) {
      const { config } = loadConfig({
        env: {},
        overrides: {
          DEFAULT: { periodic_fuzzy_delay: '0', log_level: 'silent' },
          xjob: { handler_modules: join(handlers, 'probe.mjs'), worker_sleep_time: '0.1', retry_attempts: '3' },
          client,
        },
      });
      const service = await startXJob({ config, db, logger: silent, registry: new Registry() });
      try {
        const jobs = new JobRepository(db, service.engine);
        const job = await jobs.add(db.kysely, { type: 'region-probe', resourceId: `${REGION}#${name}`, projectId: null });
        for (const deadline = Date.now() + 90_000; Date.now() < deadline;) {
          const found = await jobs.find(job.id);
          if (found && found.job.status !== 'NEW' && found.job.status !== 'RUNNING') return found.job;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.fail('the job did not finish within 90 s');
      } finally {
        await service.stop(5);
      }
    }

    test('gives handlers the admin clients when [client] is set', async () => {
      const name = `probe-${run}`;
      const job = await probe({ auth_url: keystone, admin_username: 'admin', admin_password: 'admin', admin_tenant: 'admin' }, name);
      assert.equal(job.status, 'SUCCESS', job.error ?? '');
      const regionOne = await clients.neutron(REGION);
      const { networks } = await regionOne.request<{ networks: Array<{ id: string }> }>('GET', `/v2.0/networks?name=${name}`);
      assert.equal(networks.length, 1);
      await regionOne.request('DELETE', `/v2.0/networks/${networks[0]!.id}`);
    });

    test('fails such jobs at once, saying why, when [client] is not set', async () => {
      const job = await probe({}, `unset-${run}`);
      assert.equal(job.status, 'FAIL');
      assert.match(job.error ?? '', new RegExp(`no client for region ${REGION}: the \\[client\\] options .* are not set`));
    });

    test('refuses to start with only part of the [client] credentials', async () => {
      const err = await rejection(probe({ auth_url: keystone, admin_username: 'admin' }, `partial-${run}`));
      assert.equal(err.name, 'ConfigError');
      assert.match(err.message, /\[client\] admin_password, admin_tenant must be set too/);
    });
  });
});
