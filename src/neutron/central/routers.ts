import { wrapOperations, type ResourceOperations } from '../core/plugin.js';
import type { CentralServices } from './services.js';

/** The central role's routers: the core's, with the central side effects (reference §3). */
export function centralRouters(services: CentralServices): ResourceOperations {
  return wrapOperations(services.core.routers!, {});
}
