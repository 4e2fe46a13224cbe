import type { Logger } from 'pino';
import { regionClientsFor } from '../../client/index.js';
import { ConfigError, type Config } from '../../config/index.js';
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

/**
 * The central role allocates every stretched network's segment, so its types must make sense
 * together (reference §3.2): the bridge networks' type is a tenant type that each region can
 * carry (the option's choices leave out `local`), and every tenant type has its type driver;
 * and the way VxLAN networks span regions is one this version builds.
 */
export function validateCentralTypes(config: Config): void {
  const { type_drivers: drivers, tenant_network_types: tenantTypes, bridge_network_type: bridgeType } = config.tricircle;
  const missing = tenantTypes.filter((type) => !drivers.includes(type));
  if (missing.length) {
    throw new ConfigError(`[tricircle] tenant_network_types names ${missing.join(', ')}, not in [tricircle] type_drivers (${drivers.join(', ')})`);
  }
  if (!tenantTypes.includes(bridgeType)) {
    throw new ConfigError(`[tricircle] bridge_network_type = ${bridgeType} must be one of [tricircle] tenant_network_types (${tenantTypes.join(', ')})`);
  }
  // L2 gateways are not built: refusing beats a cloud whose stretched VxLAN networks silently lack their shadows.
  if (config.client.cross_pod_vxlan_mode === 'l2gw') {
    throw new ConfigError('[client] cross_pod_vxlan_mode = l2gw is not supported: use p2p (shadow ports in every region) or noop');
  }
}

export interface CentralRole {
  plugin: NeutronPlugin;
  deps: CoreDeps;
}

/**
 * `tricircle neutron-server --role central`: the core on the Tricircle database with the pods
 * as availability zones, wrapped by the central plugin. `waker` wakes the job workers.
 */
export function centralRoleFor(config: Config, db: Db, logger: Logger, waker?: JobWaker, regions?: RegionClients): CentralRole {
  validateCentralTypes(config);
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
