import { wrapOperations, type ResourceOperations } from '../core/plugin.js';
import type { CentralServices } from './services.js';

/** The central role's security_groups: the core's, with the central side effects (reference §3). */
export function centralSecurityGroups(services: CentralServices): ResourceOperations {
  return wrapOperations(services.core.security_groups!, {});
}

/** The central role's security group rules: rule changes converge in the regions through seg_rule_setup. */
export function centralSecurityGroupRules(services: CentralServices): ResourceOperations {
  return wrapOperations(services.core.security_group_rules!, {});
}
