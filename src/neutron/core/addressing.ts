import type { Config } from '../../config/index.js';
import type { CoreDeps } from './deps.js';
import { Ipam } from './ipam.js';
import { PortAddresses } from './port-addresses.js';
import { PORTS, PortOperations } from './ports.js';
import type { ResourceOperations } from './plugin.js';
import { ensureDefaultSecurityGroup } from './security-groups.js';
import { SUBNETPOOLS, SubnetPoolOperations } from './subnetpools.js';
import { SUBNETS, SubnetOperations } from './subnets.js';
import { withTags } from './tags.js';

/** Subnet pools, subnets and ports over one IPAM, with the tags API. */
export function createAddressingOperations(config: Config, deps: CoreDeps): Record<'subnets' | 'subnetpools', ResourceOperations> & { ports: PortOperations } {
  const ipam = new Ipam();
  const pools = new SubnetPoolOperations(deps);
  return {
    subnetpools: withTags(pools, deps.db, SUBNETPOOLS),
    subnets: withTags(new SubnetOperations(deps, pools, ipam), deps.db, SUBNETS),
    ports: withTags(
      new PortOperations(deps, new PortAddresses(ipam), { baseMac: config.neutron.base_mac, defaultSecurityGroup: ensureDefaultSecurityGroup }),
      deps.db,
      PORTS,
    ),
  };
}
