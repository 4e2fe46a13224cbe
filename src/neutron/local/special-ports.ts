import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import type { Resource, ResourceOperations } from '../core/plugin.js';
import { cidrContains, parseCidr, parseIp, type Cidr } from '../core/ip.js';
import type { CentralNeutron } from './central.js';
import type { Mirror } from './mirror.js';
import { shadowPortId, snatPortName } from '../../tricircle/index.js';

// Router service ports and xjob's shadow ports (reference §4.4): ports a region does not
// take from central as they are, but shapes itself.

/** Service ports a region allocates on its own (no central twin), bridge-range router ports aside. */
export const SPECIAL_OWNERS = new Set([
  'network:router_interface',
  'network:floatingip',
  'network:router_gateway',
  'network:router_centralized_snat',
  'network:router_interface_distributed',
]);

/** Router ports that share their id with a central port when their address is on a bridge network. */
const BRIDGE_OWNERS = new Set(['network:router_interface', 'network:router_gateway']);
const SNAT_OWNER = 'network:router_centralized_snat';

type FixedIp = { subnet_id?: string; ip_address?: string };

/** `[client] bridge_cidr`, refused at start when it is not a prefix. */
export function bridgeRange(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr || !text.includes('/')) throw new Error(`[client] bridge_cidr must be an IP prefix, not ${JSON.stringify(text)}`);
  return cidr;
}

/**
 * The body a special port is created locally with: the caller's, except that a router port
 * asking for a bridge-range address takes the id of the central port owning it, and a
 * centralized SNAT port asking for a subnet takes the address of central's snat_port_<subnet>.
 */
export async function specialPortBody(central: CentralNeutron, ctx: RequestContext, item: Resource, bridge: Cidr): Promise<Resource> {
  const first = (item.fixed_ips as FixedIp[] | undefined)?.[0];
  if (!first) return item;
  const owner = String(item.device_owner);
  const ip = first.ip_address ? parseIp(first.ip_address) : null;
  if (BRIDGE_OWNERS.has(owner) && ip && cidrContains(bridge, ip)) {
    const owners = await central.list(ctx, 'ports', [
      ['network_id', String(item.network_id)],
      ['fixed_ips', `ip_address=${first.ip_address}`],
    ]);
    if (!owners.length) throw new ApiError('InvalidIpForNetwork', `IP address ${first.ip_address} is not a valid IP for the specified network.`);
    return { ...item, id: owners[0]!.id };
  }
  if (owner === SNAT_OWNER && first.subnet_id) {
    const snat = await central.list(ctx, 'ports', [
      ['network_id', String(item.network_id)],
      ['name', snatPortName(first.subnet_id)],
    ]);
    const address = (snat[0]?.fixed_ips as FixedIp[] | undefined)?.find((f) => f.subnet_id === first.subnet_id)?.ip_address;
    if (!address) throw new ApiError('ResourceNotFound', `Central centralized SNAT port ${snatPortName(first.subnet_id)} not found.`);
    return { ...item, fixed_ips: [{ subnet_id: first.subnet_id, ip_address: address }] };
  }
  return item;
}

/** What updating an existing shadow port sets again: where its VM is now and as what. */
const SHADOW_UPDATED = ['name', 'device_id', 'device_owner', 'fixed_ips', 'admin_state_up', 'binding:host_id', 'binding:vnic_type', 'binding:profile'];

/**
 * Creates xjob's shadow ports (ports of other regions' VMs that this region's L2 must know):
 * each takes the id its name carries and an OVS binding of its host, with no profile. A shadow
 * port this region already has is updated instead. Returns the ports in the order given.
 */
export async function createShadowPorts(ports: ResourceOperations, mirror: Mirror, ctx: RequestContext, items: Resource[]): Promise<Resource[]> {
  const result: Resource[] = [];
  const created: string[] = [];
  try {
    for (const item of items) {
      await mirror.network(ctx, String(item.network_id));
      // The core binds a port with a host as OVS (vif_type ovs) when its vNIC type is normal.
      const body: Resource = { ...item, id: shadowPortId(String(item.name)), 'binding:vnic_type': 'normal', 'binding:profile': {} };
      const id = String(body.id);
      if (await mirror.local('ports', ctx, id)) {
        result.push(
          await ports.update(ctx, id, Object.fromEntries(SHADOW_UPDATED.filter((attr) => body[attr] !== undefined).map((attr) => [attr, body[attr]]))),
        );
      } else {
        result.push((await ports.create(ctx, [body]))[0]!);
        created.push(id);
      }
    }
  } catch (err) {
    for (const id of created) await ports.delete(ctx, id).catch(() => undefined);
    throw err;
  }
  return result;
}
