import type { ResourceDef } from './attributes.js';
import { NETWORK } from './network.js';

export * from './attributes.js';
export { NETWORK };

/** Every resource the Neutron API serves, in the order /v2.0 lists them. */
export const RESOURCES: ResourceDef[] = [NETWORK];
