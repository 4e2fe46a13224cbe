import type { ResourceDef } from './attributes.js';
import { FLOATINGIP } from './floatingip.js';
import { NETWORK } from './network.js';
import { PORT } from './port.js';
import { ROUTER } from './router.js';
import { SECURITY_GROUP, SECURITY_GROUP_RULE } from './security-group.js';
import { SUBNET } from './subnet.js';
import { SUBNETPOOL } from './subnetpool.js';

export * from './attributes.js';
export { NETWORK, PORT, SECURITY_GROUP, SECURITY_GROUP_RULE, SUBNET, SUBNETPOOL, ROUTER, FLOATINGIP };

/** Every resource the Neutron API serves, in the order /v2.0 lists them. */
export const RESOURCES: ResourceDef[] = [NETWORK, SUBNET, SUBNETPOOL, PORT, SECURITY_GROUP, SECURITY_GROUP_RULE, ROUTER, FLOATINGIP];
