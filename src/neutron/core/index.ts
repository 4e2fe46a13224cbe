import type { Config } from '../../config/index.js';
import { createAddressingOperations } from './addressing.js';
import { ConfiguredAvailabilityZones } from './availability-zones.js';
import { l3Operations } from './l3-operations.js';
import type { AvailabilityZones, CoreDeps } from './deps.js';
import { NETWORKS, NetworkOperations } from './networks.js';
import type { NeutronPlugin } from './plugin.js';
import { DatabaseQuotas, defaultLimits } from './quotas.js';
import { SECURITY_GROUPS } from './security-group-store.js';
import { SecurityGroupRuleOperations } from './security-group-rules.js';
import { SecurityGroupOperations } from './security-groups.js';
import { SegmentAllocator } from './segments.js';
import type { NeutronDb } from './store.js';
import { withTags } from './tags.js';

export type { NeutronPlugin, ResourceOperations, ListQuery, Page, Resource, Sort } from './plugin.js';
export { wrapOperations } from './plugin.js';
export type { CoreDeps, AvailabilityZones, Quotas } from './deps.js';
export { parseCidr, cidrContains, type Cidr } from './ip.js';

/**
 * NeutronCore: Neutron's operations over one database, knowing nothing of regions. Plugins
 * take its operations and wrap the ones they extend; `availabilityZones` is the hook the
 * central role replaces with its pods.
 */
export function createNeutronCore(config: Config, db: NeutronDb, availabilityZones?: AvailabilityZones): { plugin: NeutronPlugin; deps: CoreDeps } {
  const deps: CoreDeps = {
    db,
    segments: new SegmentAllocator(config),
    availabilityZones: availabilityZones ?? new ConfiguredAvailabilityZones(config.tricircle.availability_zones),
    quotas: new DatabaseQuotas(defaultLimits(config)),
  };
  const addressing = createAddressingOperations(config, deps);
  return {
    plugin: {
      networks: withTags(new NetworkOperations(deps), db, NETWORKS),
      ...addressing,
      ...l3Operations(deps, addressing.ports),
      security_groups: withTags(new SecurityGroupOperations(deps), db, SECURITY_GROUPS),
      security_group_rules: new SecurityGroupRuleOperations(deps),
    },
    deps,
  };
}
