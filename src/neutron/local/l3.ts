import { FloatingIpOperations, type RouterSelection } from '../core/floating-ips.js';
import { ROUTER_GATEWAY } from '../core/l3.js';
import type { ResourceOperations } from '../core/plugin.js';

// The local L3 plugin (reference §4.7): a region reaches its VMs' subnets through bridge
// networks and shadow ports, so the router that serves a floating IP need not have an
// interface on the port's subnet; its gateway on the floating IP's network is enough.

/** The oldest router with its gateway on the external network. */
export const routerWithGateway: RouterSelection = async (tx, networkId) => {
  const row = await tx
    .selectFrom('routers')
    .innerJoin('ports as gw', 'gw.id', 'routers.gw_port_id')
    .select('routers.id')
    .where('gw.network_id', '=', networkId)
    .where('gw.device_owner', '=', ROUTER_GATEWAY)
    .orderBy('routers.created_at')
    .orderBy('routers.id')
    .executeTakeFirst();
  return row?.id as string | undefined;
};

/** The core's floating IP operations, associating through any router with a gateway on the floating IP's network. */
export function localFloatingIps(ops: ResourceOperations): Partial<ResourceOperations> {
  // Only the core's own operations know how to choose a router; anything else is left as it is.
  if (!(ops instanceof FloatingIpOperations)) return {};
  const local = ops.selectingRouters(routerWithGateway);
  return { create: (ctx, items) => local.create(ctx, items), update: (ctx, id, changes) => local.update(ctx, id, changes) };
}
