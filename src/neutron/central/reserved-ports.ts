import type { RequestContext } from '../../auth/index.js';
import type { Resource } from '../core/plugin.js';
import { createItem } from '../resources/attributes.js';
import { PORT } from '../resources/port.js';
import { asAdmin, listAll, type CentralServices } from './services.js';

// The central ports Tricircle reserves on a subnet (reference §3.1): dhcp_port_<subnet> and
// snat_port_<subnet> in the central pod, interface_<region>_<subnet> in each region's pod.
// Each is made once across every server, under its routing row's lock.

export interface ReservedPortSpec {
  subnet: Resource;
  name: string;
  deviceOwner: string;
  /** device_id of the central port ('' for a region's gateway port, as upstream). */
  deviceId: string;
  /** The pod the routing row goes under: the central pod, or the region's for interface ports. */
  podId: string;
}

/** The reserved port, created with its routing row if missing; concurrent callers get the same port. */
export async function reservedPort(services: CentralServices, ctx: RequestContext, spec: ReservedPortSpec): Promise<Resource> {
  const admin = asAdmin(ctx);
  const ports = services.core.ports!;
  const { id } = await services.routings.getOrCreate({
    topId: spec.name,
    podId: spec.podId,
    resourceType: 'port',
    projectId: String(spec.subnet.project_id),
    find: async () => {
      const [found] = await listAll(ports, admin, { network_id: [spec.subnet.network_id], name: [spec.name] });
      return found ? String(found.id) : null;
    },
    create: async () => {
      const [created] = await ports.create(admin, [
        createItem(PORT, {
          name: spec.name,
          network_id: spec.subnet.network_id,
          project_id: spec.subnet.project_id,
          admin_state_up: true,
          device_owner: spec.deviceOwner,
          device_id: spec.deviceId,
          fixed_ips: [{ subnet_id: spec.subnet.id }],
        }),
      ]);
      return String(created!.id);
    },
  });
  return ports.get(admin, id);
}
