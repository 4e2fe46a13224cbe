import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { NEUTRON_SERVICE_TYPE } from '../client/index.js';
import { createComputeApi } from '../compute/index.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import { listen } from '../http/index.js';
import { Agents, createNeutronApi, createNeutronCore } from '../neutron/index.js';
import { localPluginFor } from '../neutron/local/index.js';
import { PodRepository } from '../tricircle/index.js';
import { openDatabase } from './runtime.js';

// The regions of `tricircle up`: per region a local Neutron and a compute service, each on an
// embedded SQLite file of its own under state_path, registered as a pod with its Neutron's URL
// in cached_endpoints, so that the central role and the workers reach it like any region.

const WORDS = ['One', 'Two', 'Three', 'Four', 'Five', 'Six', 'Seven', 'Eight', 'Nine', 'Ten'];

/** RegionOne ... RegionTen, then Region11 ... (Keystone's own naming for the first). */
export const regionName = (n: number) => `Region${WORDS[n - 1] ?? n}`;

/** The port of region `n`'s service: after the base port, or a free one when the base is 0. */
const portOf = (base: number, n: number) => (base === 0 ? 0 : base + n);

export interface RunningRegions {
  apps: FastifyInstance[];
  closers: Array<() => Promise<void>>;
}

/**
 * Registers the pods (the central one, and RegionN in AZ azN) unless present, and starts each
 * region's local Neutron on [neutron] bind_port + N and its compute on [compute] bind_port + N - 1
 * (free ports where those are 0). `centralUrl`: the central Neutron's.
 */
export async function startRegions(config: Config, logger: Logger, db: Db, centralUrl: string, count: number): Promise<RunningRegions> {
  const pods = new PodRepository(db);
  const registered = new Map((await pods.list()).map((pod) => [pod.region_name, pod]));
  const centralRegion = config.client.top_region_name;
  const endpoints = new Map<string, string>([[centralRegion, centralUrl]]);
  if (!registered.has(centralRegion))
    registered.set(centralRegion, await pods.create({ region_name: centralRegion, az_name: '', pod_az_name: '', dc_name: '' }));
  const apps: FastifyInstance[] = [];
  const closers: Array<() => Promise<void>> = [];
  for (let n = 1; n <= count; n++) {
    const region = regionName(n);
    if (!registered.has(region)) registered.set(region, await pods.create({ region_name: region, az_name: `az${n}`, pod_az_name: '', dc_name: '' }));
    const regionLogger = logger.child({ region });
    const neutronPort = portOf(config.neutron.bind_port, n);
    const neutronConfig: Config = {
      ...config,
      database: { ...config.database, connection: `sqlite:///${join(config.DEFAULT.state_path, `${region}-neutron.sqlite`)}` },
      neutron: { ...config.neutron, bind_port: neutronPort },
      tricircle: { ...config.tricircle, central_neutron_url: centralUrl, local_region_name: region },
    };
    const neutronDb = await openDatabase(neutronConfig, regionLogger);
    const { plugin: core, deps } = createNeutronCore(neutronConfig, neutronDb.kysely);
    const neutron = createNeutronApi({
      config: neutronConfig,
      db: neutronDb,
      logger: regionLogger,
      plugin: localPluginFor(neutronConfig, core, region, new Agents(deps.db)),
      deps,
    });
    const neutronUrl = await listen({ name: `neutron-server ${region}`, app: neutron, host: config.neutron.bind_host, port: neutronPort });
    endpoints.set(region, neutronUrl);

    const computePort = portOf(config.compute.bind_port, n - 1);
    const computeConfig: Config = {
      ...config,
      database: { ...config.database, connection: `sqlite:///${join(config.DEFAULT.state_path, `${region}-compute.sqlite`)}` },
      compute: { ...config.compute, bind_port: computePort, region_name: region, neutron_url: neutronUrl },
    };
    const computeDb = await openDatabase(computeConfig, regionLogger);
    const compute = createComputeApi({ config: computeConfig, db: computeDb, logger: regionLogger });
    const computeUrl = await listen({ name: `compute ${region}`, app: compute, host: config.compute.bind_host, port: computePort });
    apps.push(compute, neutron);
    closers.push(
      () => computeDb.close(),
      () => neutronDb.close(),
    );
    process.stderr.write(`tricircle ${region}: neutron ${neutronUrl}/v2.0, compute ${computeUrl}/v2.1\n`);
  }
  await recordEndpoints(db, registered, endpoints);
  return { apps, closers };
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
