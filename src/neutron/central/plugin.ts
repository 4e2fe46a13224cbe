import type { NeutronPlugin } from '../core/plugin.js';
import { centralFloatingIps } from './floating-ips.js';
import { centralNetworks } from './networks.js';
import { centralPorts } from './ports.js';
import { centralRouters } from './routers.js';
import { centralSecurityGroupRules, centralSecurityGroups } from './security-groups.js';
import type { CentralServices } from './services.js';
import { centralSubnets } from './subnets.js';

/**
 * The central Neutron role: the core's operations, wrapped (never changed) so that what a
 * tenant builds once here is built in every region through jobs (reference §3, §5.4).
 */
export function createCentralPlugin(services: CentralServices): NeutronPlugin {
  return {
    ...services.core,
    networks: centralNetworks(services),
    subnets: centralSubnets(services),
    ports: centralPorts(services),
    routers: centralRouters(services),
    floatingips: centralFloatingIps(services),
    security_groups: centralSecurityGroups(services),
    security_group_rules: centralSecurityGroupRules(services),
  };
}
