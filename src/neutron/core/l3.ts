import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import type { Resource } from './plugin.js';
import type { Executor } from './store.js';

// What routers and floating IPs share: the device owners of the ports they make, the port
// entry points they use inside their own transactions, and Neutron's wording of their errors.

export const ROUTER_INTERFACE = 'network:router_interface';
export const ROUTER_GATEWAY = 'network:router_gateway';
export const FLOATINGIP_PORT = 'network:floatingip';

export interface FixedIpRequest {
  subnet_id?: string;
  ip_address?: string;
}

/** A port made for a router or a floating IP: no security groups, no port security, as Neutron makes them. */
export interface OwnedPort {
  network_id: string;
  project_id: string;
  device_id: string;
  device_owner: string;
  /** Absent: Neutron's default addresses on the network. */
  fixed_ips?: FixedIpRequest[];
}

/** The ports operations routers and floating IPs need, each inside the caller's transaction. */
export interface DevicePorts {
  /** The port as the caller may see it, or PortNotFound. */
  find(db: Executor, ctx: RequestContext, id: string): Promise<Resource>;
  createOwned(tx: Executor, port: OwnedPort): Promise<Resource>;
  /** Gives an existing port to a device (add_router_interface by port). */
  attach(tx: Executor, portId: string, deviceId: string, deviceOwner: string): Promise<void>;
  /** Deletes a port and gives its addresses back. */
  remove(tx: Executor, port: Resource): Promise<void>;
}

export const badRequest = (resource: 'router' | 'floatingip', message: string) => new ApiError('BadRequest', `Bad ${resource} request: ${message}.`);
export const routerNotFound = (id: string) => new ApiError('RouterNotFound', `Router ${id} could not be found`);
export const forbidden = (rule: string) => new ApiError('PolicyNotAuthorized', `(rule:${rule}) is disallowed by policy`);
export type FixedIp = { subnet_id: string; ip_address: string };

/** The server acting for itself, to reach ports the caller may not see (gateway and floating IP ports belong to no project). */
export const SERVICE: RequestContext = {
  userId: null,
  userName: null,
  projectId: null,
  projectName: null,
  roles: ['admin'],
  authToken: null,
  requestId: '',
  isAdmin: true,
  log: undefined as unknown as RequestContext['log'],
};

/** A deleted port's floating IPs stay allocated but lose their association (Neutron's disassociate_floatingips). */
export async function disassociatePort(tx: Executor, portId: string): Promise<void> {
  await tx
    .updateTable('floatingips')
    .set({ fixed_port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' })
    .where('fixed_port_id', '=', portId)
    .execute();
}

/** prevent_l3_port_deletion: a router's or floating IP's own port goes with its device, not through DELETE /ports. */
export async function checkL3PortDeletion(tx: Executor, port: Resource): Promise<void> {
  const owner = port.device_owner as string;
  if (![ROUTER_INTERFACE, ROUTER_GATEWAY, FLOATINGIP_PORT].includes(owner)) return;
  const held =
    owner === FLOATINGIP_PORT
      ? await tx.selectFrom('floatingips').select('id').where('floating_port_id', '=', port.id).executeTakeFirst()
      : await tx.selectFrom('router_ports').select('port_id').where('port_id', '=', port.id).executeTakeFirst();
  if (held) throw new ApiError('ServicePortInUse', `Port ${port.id} cannot be deleted directly via the port API: has device owner ${owner}.`);
}
