import type { RequestContext } from '../../auth/index.js';
import { BRIDGE_SUBNET_POOL, bridgeNetName, bridgePortName, bridgeSubnetName } from '../../tricircle/index.js';
import type { Resource, ResourceOperations } from '../core/plugin.js';
import { createItem, NETWORK, PORT, SUBNET, SUBNETPOOL, type ResourceDef } from '../resources/index.js';
import { asAdmin, inRegion, listAll, unlessGone, type CentralServices } from './services.js';

// The per-project bridge network that joins a non-local router's copies in the regions
// (reference §3.1, §3.6): central subnetpool bridge_subnet_pool, network bridge_net_<project>,
// subnet bridge_subnet_<project> (a /24 of [client] bridge_cidr) and one central port
// bridge_port_<project>_<bottom router> per bottom router. Each is made once, under the lock
// of its routing row (top_id = its name, the central pod).

const ROUTER_INTERFACE = 'network:router_interface';

export interface Bridge {
  network: Resource;
  subnet: Resource;
}

/** A central resource Tricircle names itself, got or created under its routing row's lock. */
async function named(
  services: CentralServices,
  ctx: RequestContext,
  spec: { collection: string; def: ResourceDef; type: string; name: string; projectId: string; filters?: Record<string, unknown[]>; body: Resource },
): Promise<Resource> {
  const admin = asAdmin(ctx);
  const ops = services.core[spec.collection]!;
  const { id } = await services.routings.getOrCreate({
    topId: spec.name,
    podId: (await services.zones.topPod()).pod_id,
    resourceType: spec.type,
    projectId: spec.projectId,
    find: async () => {
      const [found] = await listAll(ops, admin, { ...spec.filters, name: [spec.name] });
      return found ? String(found.id) : null;
    },
    create: async () => String((await ops.create(admin, [createItem(spec.def, { name: spec.name, project_id: spec.projectId, ...spec.body })]))[0]!.id),
  });
  return ops.get(admin, id);
}

/** The project's bridge network and subnet, created (with the shared pool) if missing. */
export async function ensureBridge(services: CentralServices, ctx: RequestContext, projectId: string): Promise<Bridge> {
  const pool = await named(services, ctx, {
    collection: 'subnetpools',
    def: SUBNETPOOL,
    type: 'subnetpool',
    name: BRIDGE_SUBNET_POOL,
    // Shared, so whose it is matters little; upstream makes it the first caller's project.
    projectId: ctx.projectId ?? projectId,
    body: { prefixes: [services.config.client.bridge_cidr], default_prefixlen: 24, shared: true },
  });
  const network = await named(services, ctx, {
    collection: 'networks',
    def: NETWORK,
    type: 'network',
    name: bridgeNetName(projectId),
    projectId,
    body: { shared: false, admin_state_up: true, 'provider:network_type': services.config.tricircle.bridge_network_type },
  });
  const subnet = await named(services, ctx, {
    collection: 'subnets',
    def: SUBNET,
    type: 'subnet',
    name: bridgeSubnetName(projectId),
    projectId,
    filters: { network_id: [network.id] },
    body: { network_id: network.id, ip_version: 4, subnetpool_id: pool.id, prefixlen: 24, enable_dhcp: false },
  });
  return { network, subnet };
}

/**
 * The central port bridge_port_<project>_<bottom router> on the project's bridge subnet: the
 * bottom router's address there. `ipAddress` pins it (the north-south router's is the
 * subnet's gateway); it has no device, the bottom router's own port takes its id.
 */
export async function bridgePort(
  services: CentralServices,
  ctx: RequestContext,
  projectId: string,
  bottomRouterId: string,
  ipAddress?: string,
): Promise<Resource> {
  const { network, subnet } = await ensureBridge(services, ctx, projectId);
  return named(services, ctx, {
    collection: 'ports',
    def: PORT,
    type: 'port',
    name: bridgePortName(projectId, bottomRouterId),
    projectId,
    filters: { network_id: [network.id] },
    body: {
      network_id: network.id,
      admin_state_up: true,
      device_owner: ROUTER_INTERFACE,
      device_id: '',
      fixed_ips: [ipAddress ? { subnet_id: subnet.id, ip_address: ipAddress } : { subnet_id: subnet.id }],
    },
  });
}

/** The regions holding a copy of a central resource (routing rows of that type). */
async function copiesOf(services: CentralServices, id: string, type: string): Promise<string[]> {
  const regions: string[] = [];
  for (const podId of await services.routings.podsOf(id, [type])) regions.push((await services.pods.get(podId)).region_name);
  return regions;
}

/** Deletes a central resource Tricircle named, its copies in the regions (same id), and its rows. */
async function removeNamed(services: CentralServices, ctx: RequestContext, ops: ResourceOperations, path: string, type: string, name: string): Promise<void> {
  const topPod = (await services.zones.topPod()).pod_id;
  const id = await services.routings.bottomId({ topId: name, podId: topPod, resourceType: type });
  if (id === null) return;
  // Central first: a region's read of a missing copy then finds nothing to copy back.
  await unlessGone(ops.delete(asAdmin(ctx), id));
  for (const region of await copiesOf(services, id, type)) {
    await inRegion(services, region, (neutron) => unlessGone(neutron.request('DELETE', `/v2.0/${path}/${id}`)));
  }
  await services.routings.remove({ topId: id, resourceTypes: [type] });
  await services.routings.remove({ topId: name, podId: topPod, resourceTypes: [type] });
}

/** Deletes a bottom router's bridge port, centrally and in every region holding the bridge network. */
export async function removeBridgePort(services: CentralServices, ctx: RequestContext, projectId: string, bottomRouterId: string): Promise<void> {
  const topPod = (await services.zones.topPod()).pod_id;
  const networkId = await services.routings.bottomId({ topId: bridgeNetName(projectId), podId: topPod, resourceType: 'network' });
  const name = bridgePortName(projectId, bottomRouterId);
  const portId = await services.routings.bottomId({ topId: name, podId: topPod, resourceType: 'port' });
  if (portId === null) return;
  await unlessGone(services.core.ports!.delete(asAdmin(ctx), portId));
  // The port's copies sit wherever the bridge network does (E-W gateways, the NS interface).
  for (const region of networkId === null ? [] : await copiesOf(services, networkId, 'network')) {
    await inRegion(services, region, (neutron) => unlessGone(neutron.request('DELETE', `/v2.0/ports/${portId}`)));
  }
  await services.routings.remove({ topId: portId, resourceTypes: ['port'] });
  await services.routings.remove({ topId: name, podId: topPod, resourceTypes: ['port'] });
}

/** Deletes the project's bridge subnet and network (central and region copies) unless a port is still on it. */
export async function removeBridgeIfUnused(services: CentralServices, ctx: RequestContext, projectId: string): Promise<void> {
  const topPod = (await services.zones.topPod()).pod_id;
  const networkId = await services.routings.bottomId({ topId: bridgeNetName(projectId), podId: topPod, resourceType: 'network' });
  if (networkId === null) return;
  if ((await listAll(services.core.ports!, asAdmin(ctx), { network_id: [networkId] })).length) return;
  await removeNamed(services, ctx, services.core.subnets!, 'subnets', 'subnet', bridgeSubnetName(projectId));
  await removeNamed(services, ctx, services.core.networks!, 'networks', 'network', bridgeNetName(projectId));
}
