import type { Logger } from 'pino';
import { regionClientsFor } from '../../client/index.js';
import type { Config } from '../../config/index.js';
import type { Db } from '../../db/index.js';
import { JobRepository, PodRepository, RoutingMap, type JobWaker } from '../../tricircle/index.js';
import { JobFailure, type RegionClients } from '../../xjob/index.js';
import { createNeutronCore, type CoreDeps, type NeutronPlugin } from '../core/index.js';
import { createCentralPlugin } from './plugin.js';
import { PodZones } from './zones.js';

export { createCentralPlugin } from './plugin.js';
export { PodZones } from './zones.js';
export type { CentralServices } from './services.js';

/** Without [client] credentials or region endpoints, a synchronous region step fails saying so. */
const noRegions: RegionClients = {
  neutron: async (region) => {
    throw new JobFailure(`no client for region ${region}: set the [client] options (auth_url and admin credentials, or region_endpoints)`, false);
  },
};

export interface CentralRole {
  plugin: NeutronPlugin;
  deps: CoreDeps;
}

/**
 * `tricircle neutron-server --role central`: the core on the Tricircle database with the pods
 * as availability zones, wrapped by the central plugin. `waker` wakes the job workers.
 */
export function centralRoleFor(config: Config, db: Db, logger: Logger, waker?: JobWaker, regions?: RegionClients): CentralRole {
  const pods = new PodRepository(db);
  const zones = new PodZones(pods);
  const { plugin: core, deps } = createNeutronCore(config, db.kysely, zones);
  const plugin = createCentralPlugin({
    config,
    db,
    core,
    pods,
    zones,
    routings: new RoutingMap(db),
    jobs: new JobRepository(db, waker),
    regions: regions ?? regionClientsFor(config, db, logger.child({ service: 'client' })) ?? noRegions,
    logger,
  });
  return { plugin, deps };
}
