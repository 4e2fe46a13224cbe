import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import {
  NOT_SPECIFIED_POD,
  RESERVED_DHCP_DEVICE,
  RESERVED_GATEWAY_DEVICE,
  dhcpPortName,
  interfacePortName,
  snatPortName,
  type Pod,
} from '../../tricircle/index.js';
import type { RegionNeutron } from '../../xjob/index.js';
import { wrapOperations, type Resource, type ResourceOperations } from '../core/plugin.js';
import { AUTO_DELETE_PORT_OWNERS, ROUTER_INTERFACE_OWNERS, isAutoAddress } from '../core/subnet-rules.js';
import { SUBNET } from '../resources/subnet.js';
import { reservedPort } from './reserved-ports.js';
import { asAdmin, castJob, inRegion, isDeleting, listAll, unlessGone, whileDeleting, type CentralServices } from './services.js';

// The central role's subnets (reference §3.4): external ones are mirrored into their network's
// region at once; the others get their reserved central ports (snat_port_, dhcp_port_).
// Updates reach the region copies through subnet_update; deletes remove every copy first.

const DHCP_OWNER = 'network:dhcp';
const SNAT_OWNER = 'network:router_centralized_snat';
const INTERFACE_OWNER = 'network:router_interface';
/** Bridge subnets (bridge_subnet_<project>) get no reserved ports: the router logic owns their addresses. */
const BRIDGE_SUBNET_PREFIX = 'bridge_subnet';

type FixedIp = { subnet_id: string; ip_address: string };
const fixedIpsOf = (port: Resource) => (port.fixed_ips as FixedIp[] | undefined) ?? [];
const statusOf = (err: unknown) => (err as { status?: unknown } | null)?.status;

/** Whether a central port is one Tricircle reserves on one of these subnets (they never keep a network or subnet in use). */
export function isReservedPort(port: Resource, subnetIds: string[], regionPods: Pod[]): boolean {
  const name = String(port.name);
  return subnetIds.some(
    (subnet) =>
      (name === dhcpPortName(subnet) && port.device_owner === DHCP_OWNER) ||
      (name === snatPortName(subnet) && port.device_owner === SNAT_OWNER) ||
      (port.device_owner === INTERFACE_OWNER &&
        ['', RESERVED_GATEWAY_DEVICE].includes(String(port.device_id)) &&
        regionPods.some((pod) => name === interfacePortName(pod.region_name, subnet))),
  );
}

/**
 * The region pods holding copies of a central network or subnet: its routing rows of `types`,
 * and the regions that made a gateway port interface_<region>_<subnet> on one of `subnetIds`
 * (a region copies a subnet when it is first read there, before any port there is bound and so
 * before any routing row).
 */
export async function copyPods(services: CentralServices, topId: string, types: string[], networkPorts: Resource[], subnetIds: string[]): Promise<Pod[]> {
  const mapped = new Set(await services.routings.podsOf(topId, types));
  const names = new Set(networkPorts.filter((p) => p.device_owner === INTERFACE_OWNER).map((p) => String(p.name)));
  return (await services.zones.regionPods()).filter(
    (pod) => mapped.has(pod.pod_id) || subnetIds.some((subnet) => names.has(interfacePortName(pod.region_name, subnet))),
  );
}

/**
 * What a region's Neutron keeps on a network (or one subnet of it) that central no longer has
 * (a bottom router's interface or gateway, a floating IP, a shadow port, all removed by jobs
 * not yet run): it refuses the delete until they are gone. DHCP ports go with the delete.
 */
async function clearRegion(neutron: RegionNeutron, networkId: string, subnetId?: string): Promise<void> {
  if (subnetId === undefined) {
    const { floatingips } = await neutron.request<{ floatingips: Resource[] }>('GET', `/v2.0/floatingips?floating_network_id=${networkId}`);
    for (const fip of floatingips) await unlessGone(neutron.request('DELETE', `/v2.0/floatingips/${String(fip.id)}`));
  }
  const { ports } = await neutron.request<{ ports: Resource[] }>('GET', `/v2.0/ports?network_id=${networkId}`);
  for (const port of ports) {
    if (port.device_owner === DHCP_OWNER || (subnetId !== undefined && !fixedIpsOf(port).some((f) => f.subnet_id === subnetId))) continue;
    const router = `/v2.0/routers/${String(port.device_id)}`;
    if (String(port.device_owner).startsWith(INTERFACE_OWNER)) {
      await unlessGone(neutron.request('PUT', `${router}/remove_router_interface`, subnetId ? { subnet_id: subnetId } : { port_id: port.id }));
    } else if (port.device_owner === 'network:router_gateway') {
      await unlessGone(neutron.request('PUT', router, { router: { external_gateway_info: null } }));
    } else {
      await unlessGone(neutron.request('DELETE', `/v2.0/ports/${String(port.id)}`));
    }
  }
}

/** Deletes a region's copy of a network or subnet (gone already is fine); a copy still in use there is cleared and deleted again. */
export async function deleteRegionCopy(neutron: RegionNeutron, collection: 'networks' | 'subnets', id: string, networkId: string): Promise<void> {
  const remove = () => unlessGone(neutron.request('DELETE', `/v2.0/${collection}/${id}`));
  try {
    await remove();
  } catch (err) {
    if (statusOf(err) !== 409) throw err;
    await clearRegion(neutron, networkId, collection === 'subnets' ? id : undefined);
    await remove();
  }
}

/** Deletes the reserved central ports of these subnets among `networkPorts`, with every routing row of their names. */
export async function removeReservedPorts(services: CentralServices, ctx: RequestContext, networkPorts: Resource[], subnetIds: string[]): Promise<void> {
  const regionPods = await services.zones.regionPods();
  const admin = asAdmin(ctx);
  for (const port of networkPorts.filter((p) => isReservedPort(p, subnetIds, regionPods))) {
    await unlessGone(services.core.ports!.delete(admin, String(port.id)));
  }
  for (const subnet of subnetIds) {
    for (const name of [dhcpPortName(subnet), snatPortName(subnet), ...regionPods.map((pod) => interfacePortName(pod.region_name, subnet))]) {
      await services.routings.remove({ topId: name, resourceTypes: ['port'] });
    }
  }
}

/** Copies a new subnet of an external network into the network's region (its `network` routing row) and records the copy. */
async function mirrorExternalSubnet(services: CentralServices, subnet: Resource): Promise<void> {
  const [podId] = await services.routings.podsOf(String(subnet.network_id), ['network']);
  if (podId === undefined) throw new ApiError('ExternalNetPodNotSpecify', `External network ${String(subnet.network_id)} has no copy in any region.`);
  const pod = await services.pods.get(podId);
  await inRegion(services, pod.region_name, (neutron) => neutron.request('GET', `/v2.0/subnets/${String(subnet.id)}`));
  await services.routings.record({
    topId: String(subnet.id),
    podId,
    resourceType: 'subnet',
    bottomId: String(subnet.id),
    projectId: String(subnet.project_id),
  });
}

/** The central DHCP port of a subnet (each region's DHCP port copies it). */
async function dhcpPort(services: CentralServices, ctx: RequestContext, subnet: Resource): Promise<void> {
  const topPod = await services.zones.topPod();
  const id = String(subnet.id);
  await reservedPort(services, ctx, { subnet, name: dhcpPortName(id), deviceOwner: DHCP_OWNER, deviceId: RESERVED_DHCP_DEVICE, podId: topPod.pod_id });
}

/** The central side of a new subnet: its external copy, or its reserved ports. */
async function completeSubnet(services: CentralServices, ctx: RequestContext, subnet: Resource): Promise<void> {
  const network = await services.core.networks!.get(asAdmin(ctx), String(subnet.network_id));
  if (network['router:external'] === true) return mirrorExternalSubnet(services, subnet);
  if (String(subnet.name).startsWith(BRIDGE_SUBNET_PREFIX)) return;
  const topPod = await services.zones.topPod();
  await reservedPort(services, ctx, { subnet, name: snatPortName(String(subnet.id)), deviceOwner: SNAT_OWNER, deviceId: '', podId: topPod.pod_id });
  if (subnet.enable_dhcp === true) await dhcpPort(services, ctx, subnet);
}

/** Deletes a subnet everywhere: region copies (and their gateway ports), reserved ports, then the central subnet. */
async function deleteSubnet(services: CentralServices, ctx: RequestContext, id: string): Promise<void> {
  const subnets = services.core.subnets!;
  const subnet = await subnets.get(ctx, id);
  if (!ctx.isAdmin && subnet.project_id !== ctx.projectId) throw new ApiError('PolicyNotAuthorized', 'rule:delete_subnet is disallowed by policy');
  const networkId = String(subnet.network_id);
  const ports = await listAll(services.core.ports!, asAdmin(ctx), { network_id: [networkId] });
  const regionPods = await services.zones.regionPods();
  // Checked before any region is touched: the core would refuse only after the copies were gone.
  // The core's rule (a router interface always holds; other service ports and SLAAC addresses do not), reserved ports apart.
  const holds = (p: Resource) =>
    ROUTER_INTERFACE_OWNERS.includes(String(p.device_owner)) || (!isAutoAddress(subnet) && !AUTO_DELETE_PORT_OWNERS.includes(String(p.device_owner)));
  const holders = ports.filter((p) => fixedIpsOf(p).some((f) => f.subnet_id === id) && !isReservedPort(p, [id], regionPods) && holds(p));
  if (holders.length)
    throw new ApiError('SubnetInUse', `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`);
  for (const pod of await copyPods(services, id, ['subnet', 'shadow_subnet'], ports, [id])) {
    await inRegion(services, pod.region_name, (neutron) => deleteRegionCopy(neutron, 'subnets', id, networkId));
    await services.routings.remove({ topId: id, podId: pod.pod_id });
  }
  await removeReservedPorts(services, ctx, ports, [id]);
  await subnets.delete(ctx, id);
}

/** The central role's subnets: the core's, with the central side effects (reference §3.4). */
export function centralSubnets(services: CentralServices): ResourceOperations {
  const subnets = services.core.subnets!;
  return wrapOperations(subnets, {
    async get(ctx, id) {
      // A region reading a subnet being deleted must not copy it back.
      if (await isDeleting(services, 'subnet', id)) throw new ApiError('SubnetNotFound', SUBNET.notFoundMessage(id));
      return subnets.get(ctx, id);
    },
    async create(ctx, items) {
      const created = await subnets.create(ctx, items);
      try {
        for (const subnet of created) await completeSubnet(services, ctx, subnet);
      } catch (err) {
        // All or nothing: the subnets go again, with whatever copies and ports they got.
        for (const subnet of created) {
          await whileDeleting(services, 'subnet', String(subnet.id), () => deleteSubnet(services, asAdmin(ctx), String(subnet.id))).catch((undo: unknown) =>
            services.logger.error({ err: undo, subnet: subnet.id }, 'undoing a subnet create failed'),
          );
        }
        throw err;
      }
      return created;
    },
    async update(ctx, id, changes) {
      const updated = await subnets.update(ctx, id, changes);
      // DHCP turned on needs the central DHCP port, which every region's copies; turned off, the port stays.
      if (changes.enable_dhcp === true) await dhcpPort(services, ctx, updated);
      const ports = await listAll(services.core.ports!, asAdmin(ctx), { network_id: [updated.network_id], device_owner: [INTERFACE_OWNER] });
      if ((await copyPods(services, id, ['subnet', 'shadow_subnet'], ports, [id])).length) {
        await castJob(services, { ...ctx, projectId: String(updated.project_id) }, 'subnet_update', { pod_id: NOT_SPECIFIED_POD, subnet_id: id });
      }
      return updated;
    },
    delete: (ctx, id) => whileDeleting(services, 'subnet', id, () => deleteSubnet(services, ctx, id)),
  });
}
