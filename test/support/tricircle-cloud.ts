import { Registry } from 'prom-client';
import { createAdminApi } from '../../src/admin/index.js';
import type { Db } from '../../src/db/index.js';
import { createNeutronApi } from '../../src/neutron/index.js';
import { centralRoleFor } from '../../src/neutron/central/index.js';
import { NEUTRON_SERVICE_TYPE } from '../../src/client/index.js';
import { PodRepository, type Routing } from '../../src/tricircle/index.js';
import { startXJob, type XJobService } from '../../src/xjob/index.js';
import type { Engine, TestDatabase } from './engines.js';
import { ADMIN, neutronClient, type Headers, type NeutronTestDb, type RunningNeutronApi } from './neutron-server.js';
import { startLocalNeutron, startRegion, USER, type RegionServices } from './region-cloud.js';
import { serveOnLoopback, testRuntime, type Overrides } from './runtime.js';
import { syncDatabase, until, writeConfig, XJobProcesses } from './xjob-processes.js';

// A whole Tricircle cloud on loopback (noauth), every service its own HTTP server: the
// central Neutron in the central role on the Tricircle database, with the pods registered
// (CentralRegion, and RegionN in AZ azN) and every Neutron's URL in cached_endpoints; per
// region a database, local Neutron(s) and a compute; and the xjob workers, in this process
// or as `tricircle xjob` processes on the same database.

export const CENTRAL_REGION = 'CentralRegion';

export interface TricircleCloudOptions {
  engine: Engine;
  /** Region names, in pod order; RegionOne and RegionTwo by default. The i-th gets AZ az<i+1>. */
  regions?: string[];
  /** 'in-process' (default), or this many `tricircle xjob` processes. */
  xjob?: 'in-process' | { processes: number };
  /** Config overrides for every service (sections merge). */
  overrides?: Overrides;
  /** Per region, overrides merged over `overrides` for its services (e.g. its compute's tunnel_ip). */
  regionOverrides?: Record<string, Overrides>;
  /** false: the test registers the pods (through the Admin API), then calls connectRegions(). */
  registerPods?: boolean;
}

export interface JobRow {
  id: string;
  type: string;
  status: string;
  resource_id: string;
  error: string | null;
}

export interface TricircleCloud {
  central: RunningNeutronApi & { database: TestDatabase };
  /** Neutron calls against central, as an admin by default. */
  centralNeutron: ReturnType<typeof neutronClient>;
  /** The Tricircle database (central Neutron tables, pods, routings, jobs). */
  db: Db;
  regions: Record<string, RegionServices>;
  /** The Admin API on the Tricircle database. */
  adminUrl: string;
  /** Pod id by region name (CentralRegion included), once registered. */
  podIds: Record<string, string>;
  /** Records every registered pod's Neutron URL in cached_endpoints (done by the start unless registerPods is false). */
  connectRegions(): Promise<void>;
  /** The xjob processes and their configuration file, when started as processes. */
  xjobProcesses?: XJobProcesses;
  xjobConfigFile?: string;
  /** Starts the in-process workers again after stopXJob() (in-process mode). */
  startXJob(): Promise<void>;
  stopXJob(): Promise<void>;
  /** Stops a region's (first) local Neutron: its port refuses connections until restartNeutron(). */
  stopNeutron(region: string): Promise<void>;
  /** Starts the region's local Neutron again on the same port and database. */
  restartNeutron(region: string): Promise<void>;
  /** Waits until no job is NEW or RUNNING (looking every `everyMs`); returns the FAIL jobs left. */
  settle(capMs?: number, everyMs?: number): Promise<JobRow[]>;
  /** Routing rows, optionally of one central id. */
  routings(topId?: string): Promise<Routing[]>;
  close(): Promise<void>;
}

/** Worker settings that make tests quick: frequent polls, short backoffs. */
const XJOB_DEFAULTS = { worker_sleep_time: '0.1', retry_attempts: '5', retry_base_delay: '0.2', retry_max_delay: '1' };

export async function startTricircleCloud(options: TricircleCloudOptions): Promise<TricircleCloud> {
  const { engine, regions = ['RegionOne', 'RegionTwo'], xjob = 'in-process', overrides = {}, regionOverrides = {}, registerPods = true } = options;
  const overridesOf = (region: string): Overrides => {
    const own = regionOverrides[region] ?? {};
    return {
      ...overrides,
      ...Object.fromEntries(Object.entries(own).map(([section, values]) => [section, { ...overrides[section as keyof Overrides], ...values }])),
    };
  };
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  try {
    const database = await engine.create();
    closers.push(() => database.drop());
    const sections: Overrides = {
      ...overrides,
      DEFAULT: { periodic_fuzzy_delay: '0', ...overrides.DEFAULT },
      xjob: { ...XJOB_DEFAULTS, ...overrides.xjob },
    };
    const { config, db, logger } = await testRuntime(database.connection, sections);
    const pods = new PodRepository(db);
    const podIds: Record<string, string> = {};
    if (registerPods) {
      await pods.create({ region_name: CENTRAL_REGION, az_name: '', pod_az_name: '', dc_name: '' });
      for (const [i, name] of regions.entries()) await pods.create({ region_name: name, az_name: `az${i + 1}`, pod_az_name: '', dc_name: '' });
    }

    let workers: XJobService | undefined;
    const waker = { wake: (keys: Parameters<XJobService['engine']['wake']>[0]) => workers?.engine.wake(keys) };
    const startWorkers = async () => {
      workers = await startXJob({ config, db, logger, registry: new Registry() });
    };
    const stopWorkers = async () => {
      await workers?.stop(5);
      workers = undefined;
    };
    const role = centralRoleFor(config, db, logger, xjob === 'in-process' ? waker : undefined);
    const app = createNeutronApi({ config, db, logger, plugin: role.plugin, deps: role.deps });
    const served = await serveOnLoopback(app, db);
    closers.push(() => served.close());
    const central = { ...served, db: db as unknown as NeutronTestDb, database };

    // The Admin API on a pool of its own, as its own process would have.
    const adminRuntime = await testRuntime(database.connection, sections);
    const admin = await serveOnLoopback(createAdminApi({ config, db: adminRuntime.db, logger }), adminRuntime.db);
    closers.push(() => admin.close());
    const services: Record<string, RegionServices> = {};
    for (const name of regions) services[name] = await startRegion(engine, name, central.url, closers, 1, overridesOf(name));
    const urls: Record<string, string> = {
      [CENTRAL_REGION]: central.url,
      ...Object.fromEntries(regions.map((name) => [name, services[name]!.neutrons[0]!.url])),
    };
    const connectRegions = async () => {
      for (const pod of await pods.list()) {
        podIds[pod.region_name] = pod.pod_id;
        const url = urls[pod.region_name];
        if (url === undefined) continue;
        await db.kysely
          .insertInto('cached_endpoints')
          .values({ service_id: `${pod.region_name}-neutron`, pod_id: pod.pod_id, service_type: NEUTRON_SERVICE_TYPE, service_url: url })
          .execute();
      }
    };
    if (registerPods) await connectRegions();

    let processes: XJobProcesses | undefined;
    let xjobConfigFile: string | undefined;
    if (xjob === 'in-process') {
      await startWorkers();
      closers.push(stopWorkers);
    } else {
      processes = new XJobProcesses();
      closers.push(() => processes!.stopAll());
      await syncDatabase(database.connection);
      xjobConfigFile = writeConfig({
        DEFAULT: { auth_strategy: 'noauth', log_level: 'warn', periodic_fuzzy_delay: 0 },
        database: { connection: database.connection },
        xjob: { ...XJOB_DEFAULTS, ...overrides.xjob },
      });
      for (let i = 0; i < xjob.processes; i++) await processes.start(xjobConfigFile);
    }

    const activeJobs = () =>
      db.kysely.selectFrom('async_jobs').select(['id', 'type', 'status', 'resource_id', 'error']).where('status', 'in', ['NEW', 'RUNNING']).execute();
    return {
      central,
      centralNeutron: neutronClient(central.url),
      db,
      regions: services,
      adminUrl: admin.url,
      podIds,
      connectRegions,
      xjobProcesses: processes,
      xjobConfigFile,
      startXJob: startWorkers,
      stopXJob: stopWorkers,
      async stopNeutron(region) {
        await services[region]!.neutrons[0]!.close();
      },
      async restartNeutron(region) {
        const old = services[region]!.neutrons[0]!;
        const port = Number(new URL(old.url).port);
        const neutron = await startLocalNeutron(services[region]!.database.connection, central.url, region, overridesOf(region), port);
        services[region]!.neutrons[0] = neutron;
        closers.push(() => neutron.close());
      },
      async settle(capMs = 30_000, everyMs = 50) {
        await until('every job to finish', async () => (await activeJobs()).length === 0, capMs, everyMs);
        return (await db.kysely
          .selectFrom('async_jobs')
          .select(['id', 'type', 'status', 'resource_id', 'error'])
          .where('status', '=', 'FAIL')
          .execute()) as JobRow[];
      },
      async routings(topId?: string) {
        let query = db.kysely.selectFrom('resource_routings').selectAll();
        if (topId !== undefined) query = query.where('top_id', '=', topId);
        return (await query.orderBy('id').execute()).map((row) => ({ ...row, id: Number(row.id) }));
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

type Json = Record<string, any>;

/** The body of a reply that must have `status`; otherwise an error with the reply's text. */
export async function expectStatus(reply: Promise<{ status: number; body: any; text: string }>, status: number): Promise<Json> {
  const r = await reply;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text.slice(0, 400)}`);
  return r.body as Json;
}

/** Builds the tenant side of a topology through the central API, as `user` (the member with a token by default). */
export class CloudBuilder {
  private count = 0;
  readonly central: ReturnType<typeof neutronClient>;

  constructor(
    readonly cloud: TricircleCloud,
    readonly user: Headers = USER,
  ) {
    this.central = cloud.centralNeutron;
  }

  /** A network with a /24 (10.<n/250>.<n%250>.0/24 unless given) and a server on a port of it in `region`. */
  async servedNetwork(region: string, cidr?: string): Promise<{ network: Json; subnet: Json; portId: string; serverId: string }> {
    const n = ++this.count;
    const network = await this.central.network({ name: `net-${n}` }, this.user);
    const subnetCidr = cidr ?? `10.${Math.floor(n / 250)}.${n % 250}.0/24`;
    const subnet = (
      await expectStatus(this.central.post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: subnetCidr } }, this.user), 201)
    ).subnet;
    const port = (await expectStatus(this.central.post('/v2.0/ports', { port: { network_id: network.id, name: `vm-port-${n}` } }, this.user), 201)).port;
    const server = (await expectStatus(this.cloud.regions[region]!.nova.boot(`vm-${n}`, [{ port: port.id }]), 202)).server;
    return { network, subnet, portId: port.id, serverId: server.id };
  }

  async router(attrs: Json = {}): Promise<Json> {
    return (await expectStatus(this.central.post('/v2.0/routers', { router: { name: `router-${++this.count}`, ...attrs } }, this.user), 201)).router;
  }

  attach(routerId: string, subnetId: string) {
    return expectStatus(this.central.put(`/v2.0/routers/${routerId}/add_router_interface`, { subnet_id: subnetId }, this.user), 200);
  }

  detach(routerId: string, subnetId: string) {
    return expectStatus(this.central.put(`/v2.0/routers/${routerId}/remove_router_interface`, { subnet_id: subnetId }, this.user), 200);
  }

  /** An external network pinned to `region` (by the admin) with a subnet without DHCP. */
  async externalNetwork(region: string, cidr = '163.3.0.0/16'): Promise<{ network: Json; subnet: Json }> {
    const network = await this.central.network({ name: `ext-${++this.count}`, 'router:external': true, availability_zone_hints: [region] }, ADMIN);
    const subnet = (
      await expectStatus(this.central.post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr, enable_dhcp: false } }, ADMIN), 201)
    ).subnet;
    return { network, subnet };
  }

  setGateway(routerId: string, networkId: string | null) {
    const info = networkId === null ? null : { network_id: networkId };
    return expectStatus(this.central.put(`/v2.0/routers/${routerId}`, { router: { external_gateway_info: info } }, this.user), 200);
  }

  async floatingIp(networkId: string, portId?: string): Promise<Json> {
    const body = { floatingip: { floating_network_id: networkId, ...(portId ? { port_id: portId } : {}) } };
    return (await expectStatus(this.central.post('/v2.0/floatingips', body, this.user), 201)).floatingip;
  }

  associate(fipId: string, portId: string | null) {
    return expectStatus(this.central.put(`/v2.0/floatingips/${fipId}`, { floatingip: { port_id: portId } }, this.user), 200);
  }
}
