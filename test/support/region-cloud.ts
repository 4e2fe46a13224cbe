import assert from 'node:assert/strict';
import { CIRROS_IMAGE_ID } from '../../src/compute/index.js';
import type { SectionName } from '../../src/config/index.js';
import { Agents, createNeutronApi, createNeutronCore } from '../../src/neutron/index.js';
import { localPluginFor } from '../../src/neutron/local/index.js';
import { startComputeApi, type RunningComputeApi } from './compute-server.js';
import type { Engine, TestDatabase } from './engines.js';
import { ADMIN, call, MEMBER, neutronClient, startNeutronApi, type Headers, type NeutronTestDb, type RunningNeutronApi } from './neutron-server.js';
import { serveOnLoopback, testRuntime } from './runtime.js';

// A Tricircle cloud on loopback, every service its own HTTP server on a free port (noauth):
// a central Neutron (the plain core, today's --role central), and per region a database, local
// Neutron server(s) on it (--role local) and a compute service per local Neutron.

type Overrides = Partial<Record<SectionName, Record<string, string>>>;

/** A caller with a token: the local role only reaches central for requests carrying one (docs/neutron-local.md). */
export const USER: Headers = { ...MEMBER, 'x-auth-token': 'token-of-member-user' };

/** An admin with a token (xjob's admin token): the local role reaches central for it. */
export const ADMIN_TOKEN: Headers = { ...ADMIN, 'x-auth-token': 'token-of-admin' };

type Json = Record<string, any>;

/** The body of a reply that must have `status` (the reply's text is the assertion's message). */
export async function ok(reply: Promise<{ status: number; body: any; text: string }>, status = 200): Promise<Json> {
  const r = await reply;
  assert.equal(r.status, status, r.text);
  return r.body as Json;
}

/** A local Neutron of `region` (noauth) over a migrated database, mirroring the central Neutron at `centralUrl`; on `port` if given. */
export async function startLocalNeutron(
  connection: string,
  centralUrl: string,
  region: string,
  overrides: Overrides = {},
  port = 0,
): Promise<RunningNeutronApi> {
  const { config, db, logger } = await testRuntime(connection, { ...overrides, tricircle: { central_neutron_url: centralUrl, ...overrides.tricircle } });
  const { plugin: core, deps } = createNeutronCore(config, db.kysely);
  const app = createNeutronApi({ config, db, logger, plugin: localPluginFor(config, core, region, new Agents(deps.db)), deps });
  return { ...(await serveOnLoopback(app, db, port)), db: db as unknown as NeutronTestDb };
}

/** Nova calls against one compute service, as `headers` (the token-carrying member by default). */
export function novaClient(url: string, headers: Headers = USER) {
  const nova = (method: string, path: string, body?: unknown) => call(url, method, `/v2.1${path}`, body, headers);
  return {
    call: nova,
    /** POST /servers with a flavor and the cirros image; `networks` as Nova takes it. */
    boot: (name: string, networks: unknown) => nova('POST', '/servers', { server: { name, flavorRef: '1', imageRef: CIRROS_IMAGE_ID, networks } }),
    show: (id: string) => nova('GET', `/servers/${id}`),
    remove: (id: string) => nova('DELETE', `/servers/${id}`),
  };
}

export interface RegionServices {
  name: string;
  /** The region's database; its local Neutrons and computes all use it. */
  database: TestDatabase;
  /** The local Neutron servers of the region, all on its database. */
  neutrons: RunningNeutronApi[];
  /** One compute service per local Neutron, the i-th using neutrons[i]. */
  computes: RunningComputeApi[];
  /** Neutron calls against neutrons[0]; the default caller (admin, no token) sees local rows only and never reaches central. */
  neutron: ReturnType<typeof neutronClient>;
  /** Nova calls against computes[0]. */
  nova: ReturnType<typeof novaClient>;
}

export interface RegionCloud {
  central: RunningNeutronApi & { database: TestDatabase };
  /** Neutron calls against central, as an admin by default (pass USER or MEMBER to act as the member). */
  centralNeutron: ReturnType<typeof neutronClient>;
  regions: Record<string, RegionServices>;
  close(): Promise<void>;
}

export interface RegionCloudOptions {
  engine: Engine;
  regions: string[];
  /** Local Neutron servers (each with its own compute) per region, sharing the region's database; 1 by default. */
  serversPerRegion?: number;
  /** Config overrides for the local Neutrons (e.g. [DEFAULT] log_level) and, under `compute`, the computes. */
  overrides?: Overrides;
}

/**
 * One region on a fresh database of `engine`: `serversPerRegion` local Neutrons mirroring
 * `centralUrl`, each with its compute; their closers go on `closers`.
 */
export async function startRegion(
  engine: Engine,
  name: string,
  centralUrl: string,
  closers: Array<() => Promise<void>>,
  serversPerRegion = 1,
  overrides: Overrides = {},
): Promise<RegionServices> {
  const database = await engine.create();
  closers.push(() => database.drop());
  const neutrons: RunningNeutronApi[] = [];
  const computes: RunningComputeApi[] = [];
  // One after the other: each start migrates the shared database.
  for (let i = 0; i < serversPerRegion; i += 1) {
    const neutron = await startLocalNeutron(database.connection, centralUrl, name, overrides);
    closers.push(() => neutron.close());
    neutrons.push(neutron);
    const compute = await startComputeApi(database.connection, neutron.url, {
      DEFAULT: { log_level: overrides.DEFAULT?.log_level ?? 'silent' },
      compute: { region_name: name, ...overrides.compute },
    });
    closers.push(() => compute.close());
    computes.push(compute);
  }
  return { name, database, neutrons, computes, neutron: neutronClient(neutrons[0]!.url), nova: novaClient(computes[0]!.url) };
}

/** Starts the cloud on fresh databases of `engine`; close() stops every server and drops the databases. */
export async function startRegionCloud({ engine, regions, serversPerRegion = 1, overrides = {} }: RegionCloudOptions): Promise<RegionCloud> {
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  try {
    const centralDb = await engine.create();
    closers.push(() => centralDb.drop());
    const centralApi = await startNeutronApi(centralDb.connection, { DEFAULT: { log_level: overrides.DEFAULT?.log_level ?? 'silent' } });
    closers.push(() => centralApi.close());
    const services: Record<string, RegionServices> = {};
    for (const name of regions) services[name] = await startRegion(engine, name, centralApi.url, closers, serversPerRegion, overrides);
    return { central: { ...centralApi, database: centralDb }, centralNeutron: neutronClient(centralApi.url), regions: services, close };
  } catch (err) {
    await close();
    throw err;
  }
}
