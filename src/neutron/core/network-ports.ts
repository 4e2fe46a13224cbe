import { ApiError } from '../../http/errors.js';
import { AUTO_DELETE_PORT_OWNERS } from './subnet-rules.js';
import type { Executor } from './store.js';

// What a network delete takes along: its service ports (DHCP and the like) and its subnets.
// Any other port keeps the network in use, as in Neutron.

export const networkInUse = (id: string, portIds: string[]) =>
  new ApiError(
    'NetworkInUse',
    `Unable to complete operation on network ${id}. There are one or more ports still in use on the network` +
      (portIds.length ? `, id for these ports is: ${[...portIds].sort().join(',')}.` : '.'),
  );

export async function clearNetwork(tx: Executor, networkId: string): Promise<void> {
  const ports = await tx.selectFrom('ports').select(['id', 'device_owner']).where('network_id', '=', networkId).execute();
  const users = ports.filter((p) => !AUTO_DELETE_PORT_OWNERS.includes(String(p.device_owner)));
  if (users.length)
    throw networkInUse(
      networkId,
      users.map((p) => String(p.id)),
    );
  const service = ports.map((p) => String(p.id));
  if (service.length) {
    // Their addresses and security group bindings go with them (foreign keys cascade).
    await tx.deleteFrom('ports').where('id', 'in', service).execute();
    await tx.deleteFrom('tags').where('resource_type', '=', 'ports').where('resource_id', 'in', service).execute();
  }
  const subnets = (await tx.selectFrom('subnets').select('id').where('network_id', '=', networkId).execute()).map((s) => String(s.id));
  if (subnets.length) {
    await tx.deleteFrom('ip_availability_ranges').where('subnet_id', 'in', subnets).execute();
    await tx.deleteFrom('subnets').where('id', 'in', subnets).execute();
    await tx.deleteFrom('tags').where('resource_type', '=', 'subnets').where('resource_id', 'in', subnets).execute();
  }
}
