import type { ResourceDef } from './attributes.js';
import { NETWORK } from './network.js';
import { SECURITY_GROUP, SECURITY_GROUP_RULE } from './security-group.js';

export * from './attributes.js';
export { NETWORK, SECURITY_GROUP, SECURITY_GROUP_RULE };

/** Every resource the Neutron API serves, in the order /v2.0 lists them. */
export const RESOURCES: ResourceDef[] = [NETWORK, SECURITY_GROUP, SECURITY_GROUP_RULE];
