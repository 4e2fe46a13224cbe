import { JOB_TYPES, type JobType } from '../../tricircle/index.js';
import type { JobHandler, JobHandlerSpec } from '../handler.js';
import { portDelete } from './port-delete.js';
import { resourceRecycle } from './resource-recycle.js';
import { segRuleSetup } from './seg-rule-setup.js';
import { configureRoute } from './configure-route.js';
import { routerSetup } from './router-setup.js';
import { updateNetwork } from './update-network.js';
import { subnetUpdate } from './subnet-update.js';
import { shadowPortSetup } from './shadow-port-setup.js';

// The handler of each job type, one file per type beside this one (`<type>.ts`), as the
// central role's issues build them. A job whose type has no handler here fails with a
// message that says so, and is redone once a version that has one runs it.
const HANDLERS: Partial<Record<JobType, JobHandler>> = {
  port_delete: portDelete,
  seg_rule_setup: segRuleSetup,
  router_setup: routerSetup,
  configure_route: configureRoute,
  update_network: updateNetwork,
  subnet_update: subnetUpdate,
  resource_recycle: resourceRecycle,
  shadow_port_setup: shadowPortSetup,
};

/** The built-in handlers with their types' resource keys from the job type registry. */
export function builtInHandlers(): Map<string, JobHandlerSpec> {
  return new Map(Object.entries(HANDLERS).map(([type, handle]) => [type, { resource: JOB_TYPES[type as JobType].resource, handle }]));
}
