import { wrapOperations, type ResourceOperations } from '../core/plugin.js';
import type { CentralServices } from './services.js';

/** The central role's subnets: the core's, with the central side effects (reference §3). */
export function centralSubnets(services: CentralServices): ResourceOperations {
  return wrapOperations(services.core.subnets!, {});
}
