import { wrapOperations, type ResourceOperations } from '../core/plugin.js';
import type { CentralServices } from './services.js';

/** The central role's networks: the core's, with the central side effects (reference §3). */
export function centralNetworks(services: CentralServices): ResourceOperations {
  return wrapOperations(services.core.networks!, {});
}
