import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { NEUTRON_SERVICE_TYPE } from '../client/index.js';
import { createComputeApi } from '../compute/index.js';
import type { Config, LoadOptions } from '../config/index.js';
import type { Db } from '../db/index.js';
import { listen } from '../http/index.js';
import type { CatalogEndpoint } from '../identity/index.js';
import { Agents, createNeutronApi, createNeutronCore } from '../neutron/index.js';
import { localPluginFor } from '../neutron/local/index.js';
import { PodRepository, RUNNING_LOCK } from '../tricircle/index.js';
import { openDatabase } from './runtime.js';

// The all-in-one of `tricircle up`: its default configuration and port plan, and its
// regions: per region a local Neutron and a compute service, each on an embedded SQLite file
// of its own under state_path, registered as a pod with its Neutron's URL in
// cached_endpoints, so that the central role and the workers reach it like any region.

/** Defaults of `tricircle up` under any --config-file: loopback, and the type drivers the seed walkthrough uses. */
export const ALL_IN_ONE_DEFAULTS: NonNullable<LoadOptions['overrides']> = {
  DEFAULT: { bind_host: '127.0.0.1' },
  neutron: { bind_host: '127.0.0.1' },
  compute: { bind_host: '127.0.0.1' },
  identity: { bind_host: '127.0.0.1' },
  tricircle: {
    network_vlan_ranges: 'extern:3000:3999,bridge:2000:2999',
    vni_ranges: '1001:2000',
    tenant_network_types: 'vxlan,local',
    bridge_network_type: 'vxlan',
    flat_networks: '*',
  },
};

const WORDS = ['One', 'Two', 'Three', 'Four', 'Five', 'Six', 'Seven', 'Eight', 'Nine', 'Ten'];

/** RegionOne ... RegionTen, then Region11 ... (Keystone's own naming for the first). */
export const regionName = (n: number) => `Region${WORDS[n - 1] ?? n}`;

/** The SQLite file of a region's Neutron or compute service. */
export const regionDatabase = (config: Config, region: string, service: 'neutron' | 'compute') =>
  join(config.DEFAULT.state_path, `${region}-${service}.sqlite`);

/**
 * Applies --host and --base-port: every service binds to `host`; with a base port P the
 * identity service takes P, the Admin API P+1 and the central Neutron P+2 (the regions'
 * ports follow, see regionPorts).
 */
export function withHostAndPorts(config: Config, host: string | undefined, basePort: number | undefined): Config {
  const bind = <S extends { bind_host: string; bind_port: number }>(section: S, port: number | undefined): S => ({
    ...section,
    bind_host: host ?? section.bind_host,
    bind_port: port ?? section.bind_port,
  });
  const at = (offset: number) => (basePort === undefined ? undefined : basePort + offset);
  return {
    ...config,
    identity: bind(config.identity, at(0)),
    DEFAULT: bind(config.DEFAULT, at(1)),
    neutron: bind(config.neutron, at(2)),
    compute: bind(config.compute, undefined),
  };
}

/**
 * Region `n`'s ports. With a base port P: Neutron P+2+2n-1, compute P+2+2n. Otherwise
 * Neutron [neutron] bind_port + n, compute [compute] bind_port + n - 1; free ports where
 * those are 0.
 */
export function regionPorts(config: Config, basePort: number | undefined, n: number): { neutron: number; compute: number } {
  if (basePort !== undefined) return { neutron: basePort + 1 + 2 * n, compute: basePort + 2 + 2 * n };
  const after = (base: number, offset: number) => (base === 0 ? 0 : base + offset);
  return { neutron: after(config.neutron.bind_port, n), compute: after(config.compute.bind_port, n - 1) };
}

/** What to change when a port of `up` is taken. */
export const portOption = (section: string) => `[${section}] bind_port or --base-port`;

/**
 * Every service of `up` against its identity service: tokens validated there with the admin
 * user as the service user, and the [client] admin (xjob, the local Neutrons' and the
 * computes' own calls) issued there, finding regions in its catalog when the cache is stale.
 */
export function withIdentity(config: Config, authUrl: string): Config {
  const password = config.identity.admin_password;
  return {
    ...config,
    DEFAULT: { ...config.DEFAULT, auth_strategy: 'keystone' },
    keystone_authtoken: {
      ...config.keystone_authtoken,
      auth_url: authUrl,
      username: 'admin',
      password,
      project_name: 'admin',
      user_domain_name: 'Default',
      project_domain_name: 'Default',
    },
    client: {
      ...config.client,
      auth_url: authUrl,
      admin_username: 'admin',
      admin_password: password,
      admin_tenant: 'admin',
      admin_user_domain_name: 'Default',
      admin_tenant_domain_name: 'Default',
      auto_refresh_endpoint: true,
    },
  };
}

/**
 * The identity service's catalog: identity and the Admin API in [identity] region and the
 * central region, networks everywhere, and per region its compute (Nova at /v2.1) and image
 * (Glance under /image, the compute service serves both).
 */
export function catalogOf(config: Config, central: { identity: string; admin: string; central: string }, regions: RegionUrls[]): CatalogEndpoint[] {
  const top = config.client.top_region_name;
  return [
    { type: 'identity', region: config.identity.region, url: `${central.identity}/v3` },
    { type: 'tricircle', region: top, url: `${central.admin}/v1.0` },
    { type: 'network', region: top, url: central.central },
    ...regions.flatMap((r): CatalogEndpoint[] => [
      { type: 'network', region: r.region, url: r.neutron },
      { type: 'compute', region: r.region, url: `${r.compute}/v2.1` },
      { type: 'image', region: r.region, url: `${r.compute}/image` },
    ]),
  ];
}

/** What `up` says once everything answers: the endpoints by region, the client files, the next command. */
export function summary(catalog: CatalogEndpoint[], centralRegion: string, dir: string, files: string[]): string {
  const regions = [...new Set(catalog.map((e) => e.region))];
  const lines = [`tricircle up: ready, data in ${dir}`];
  for (const region of regions) {
    lines.push(`  ${region}`);
    for (const entry of catalog.filter((e) => e.region === region)) lines.push(`    ${entry.type.padEnd(10)} ${entry.url}`);
  }
  lines.push(`  credentials: ${files.join(', ')}`);
  const openrc = files.find((f) => f.endsWith('admin-openrc.sh'))!;
  lines.push(`  try: source ${openrc} && openstack --os-region-name ${centralRegion} network list`, '');
  return lines.join('\n');
}

/**
 * Frees the run locks a killed `up` left behind, so that its jobs run again now rather than
 * after [xjob] job_run_expire: holding the data directory, this process is the only worker of
 * its database. Returns how many there were.
 */
export async function releaseDeadRuns(db: Db): Promise<number> {
  const released = await db.kysely.deleteFrom('async_jobs').where('status', '=', 'RUNNING').where('extra_id', '=', RUNNING_LOCK).executeTakeFirst();
  return Number(released.numDeletedRows);
}

export interface RegionUrls {
  region: string;
  neutron: string;
  compute: string;
}

export interface RunningRegions {
  apps: FastifyInstance[];
  closers: Array<() => Promise<void>>;
  urls: RegionUrls[];
}

/**
 * Registers the pods (the central one, and RegionN in AZ azN) unless present, starts each
 * region's local Neutron and compute on `regionPorts`, and records the Neutrons' URLs.
 * `centralUrl`: the central Neutron's.
 */
export async function startRegions(config: Config, logger: Logger, db: Db, centralUrl: string, count: number, basePort?: number): Promise<RunningRegions> {
  const pods = new PodRepository(db);
  const registered = new Map((await pods.list()).map((pod) => [pod.region_name, pod]));
  const centralRegion = config.client.top_region_name;
  const endpoints = new Map<string, string>([[centralRegion, centralUrl]]);
  if (!registered.has(centralRegion))
    registered.set(centralRegion, await pods.create({ region_name: centralRegion, az_name: '', pod_az_name: '', dc_name: '' }));
  const apps: FastifyInstance[] = [];
  const closers: Array<() => Promise<void>> = [];
  const urls: RegionUrls[] = [];
  for (let n = 1; n <= count; n++) {
    const region = regionName(n);
    if (!registered.has(region)) registered.set(region, await pods.create({ region_name: region, az_name: `az${n}`, pod_az_name: '', dc_name: '' }));
    const regionLogger = logger.child({ region });
    const ports = regionPorts(config, basePort, n);
    const neutronConfig: Config = {
      ...config,
      database: { ...config.database, connection: `sqlite:///${regionDatabase(config, region, 'neutron')}` },
      neutron: { ...config.neutron, bind_port: ports.neutron },
      tricircle: { ...config.tricircle, central_neutron_url: centralUrl, local_region_name: region },
    };
    const neutronDb = await openDatabase(neutronConfig, regionLogger);
    closers.push(() => neutronDb.close());
    const { plugin: core, deps } = createNeutronCore(neutronConfig, neutronDb.kysely);
    const neutron = createNeutronApi({
      config: neutronConfig,
      db: neutronDb,
      logger: regionLogger,
      plugin: localPluginFor(neutronConfig, core, region, new Agents(deps.db)),
      deps,
    });
    apps.push(neutron);
    const neutronUrl = await listen({
      name: `neutron-server ${region}`,
      description: `the Neutron of ${region}`,
      portOption: portOption('neutron'),
      app: neutron,
      host: config.neutron.bind_host,
      port: ports.neutron,
    });
    endpoints.set(region, neutronUrl);

    const computeConfig: Config = {
      ...config,
      database: { ...config.database, connection: `sqlite:///${regionDatabase(config, region, 'compute')}` },
      compute: { ...config.compute, bind_port: ports.compute, region_name: region, neutron_url: neutronUrl },
    };
    const computeDb = await openDatabase(computeConfig, regionLogger);
    closers.push(() => computeDb.close());
    const compute = createComputeApi({ config: computeConfig, db: computeDb, logger: regionLogger });
    apps.push(compute);
    const computeUrl = await listen({
      name: `compute ${region}`,
      description: `the compute service of ${region}`,
      portOption: portOption('compute'),
      app: compute,
      host: config.compute.bind_host,
      port: ports.compute,
    });
    urls.push({ region, neutron: neutronUrl, compute: computeUrl });
  }
  await recordEndpoints(db, registered, endpoints);
  return { apps, closers, urls };
}

/** Writes each region's Neutron URL into cached_endpoints, replacing what an earlier start wrote. */
async function recordEndpoints(db: Db, pods: Map<string, { pod_id: string }>, endpoints: Map<string, string>): Promise<void> {
  await db.kysely.transaction().execute(async (tx) => {
    for (const [region, url] of endpoints) {
      const podId = pods.get(region)!.pod_id;
      await tx.deleteFrom('cached_endpoints').where('pod_id', '=', podId).where('service_type', '=', NEUTRON_SERVICE_TYPE).execute();
      await tx
        .insertInto('cached_endpoints')
        .values({ service_id: `${region}-neutron`, pod_id: podId, service_type: NEUTRON_SERVICE_TYPE, service_url: url })
        .execute();
    }
  });
}
