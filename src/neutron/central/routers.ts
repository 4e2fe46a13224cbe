import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { NOT_SPECIFIED_POD, nsRouterName } from '../../tricircle/index.js';
import type { RegionNeutron } from '../../xjob/index.js';
import { wrapOperations, type Resource, type ResourceOperations } from '../core/plugin.js';
import { bridgePort, ensureBridge, removeBridgeIfUnused, removeBridgePort } from './bridge.js';
import { asAdmin, castJob, inRegion, listAll, unlessGone, type CentralServices } from './services.js';

// The central role's routers (reference §3.6): interfaces cast router_setup for the regions
// the network is in (xjob builds the bottom routers); a gateway is set up synchronously in the
// external network's region (the local router's bottom router, or a non-local router's
// ns_router_<id> joined to the project's bridge network); a delete removes every bottom router.

const ROUTER_INTERFACE = 'network:router_interface';
const BOTTOM_ROUTER_TYPES = ['router', 'ns_router'] as const;

type FixedIp = { subnet_id: string; ip_address: string };
type GatewayInfo = { network_id: string; enable_snat?: boolean; external_fixed_ips?: FixedIp[] };

/** Where a gateway lives: the external network's region (its first hint). */
interface GatewayPlace {
  network: Resource;
  region: string;
  podId: string;
}

export function centralRouters(services: CentralServices): ResourceOperations {
  const core = services.core.routers!;
  return wrapOperations(core, {
    update: (ctx, id, changes) => updateRouter(services, ctx, id, changes),
    delete: (ctx, id) => deleteRouter(services, ctx, id),
    actions: {
      ...core.actions,
      add_router_interface: (ctx, id, body) => addInterface(services, ctx, id, body),
      remove_router_interface: async (ctx, id, body) => {
        const router = await core.get(ctx, id);
        const info = await core.actions!.remove_router_interface!(ctx, id, body);
        try {
          // router_setup finds no central interface on the network and removes the bottom one.
          await castRouterSetup(services, ctx, router, String(info.network_id));
        } catch (err) {
          // Back on the subnet (the removed port itself is gone), as upstream re-adds it.
          await core.actions!.add_router_interface!(ctx, id, { subnet_id: info.subnet_id }).catch((undo: Error) =>
            services.logger.error({ err: undo, router: id }, 'router interface not restored'),
          );
          throw err;
        }
        return info;
      },
    },
  });
}

/** The network an interface request names (by its subnet or port), or null when the core is to refuse it. */
async function interfaceNetwork(services: CentralServices, ctx: RequestContext, body: Resource): Promise<Resource | null> {
  const { subnet_id: subnetId, port_id: portId } = body;
  let owner: Resource | undefined;
  if (typeof subnetId === 'string' && portId === undefined) owner = await unlessGone(services.core.subnets!.get(ctx, subnetId));
  else if (typeof portId === 'string' && subnetId === undefined) owner = await unlessGone(services.core.ports!.get(ctx, portId));
  return owner ? services.core.networks!.get(asAdmin(ctx), String(owner.network_id)) : null;
}

async function addInterface(services: CentralServices, ctx: RequestContext, id: string, body: Resource): Promise<Resource> {
  const core = services.core.routers!;
  const router = await core.get(ctx, id);
  const network = await interfaceNetwork(services, ctx, body);
  if (network) {
    await services.zones.checkLocation(router, network);
    const region = await services.zones.routerRegion(router);
    if (region === null) await ensureBridge(services, ctx, String(router.project_id));
    else {
      await checkNotOnNonLocalRouter(services, ctx, id, network);
      if (await services.zones.isLocalNetwork(network)) await materialize(services, region, network);
    }
  }
  const info = await core.actions!.add_router_interface!(ctx, id, body);
  try {
    await castRouterSetup(services, ctx, router, String(info.network_id));
  } catch (err) {
    await core.actions!.remove_router_interface!(ctx, id, { port_id: info.port_id });
    throw err;
  }
  return info;
}

/** A local router may not take a network whose gateway a non-local router holds. */
async function checkNotOnNonLocalRouter(services: CentralServices, ctx: RequestContext, routerId: string, network: Resource): Promise<void> {
  const admin = asAdmin(ctx);
  const subnets = await listAll(services.core.subnets!, admin, { network_id: [network.id] });
  const gateways = new Set(subnets.map((subnet) => subnet.gateway_ip).filter(Boolean));
  const interfaces = await listAll(services.core.ports!, admin, { network_id: [network.id], device_owner: [ROUTER_INTERFACE] });
  for (const port of interfaces) {
    if (!port.device_id || port.device_id === routerId || !(port.fixed_ips as FixedIp[]).some((ip) => gateways.has(ip.ip_address))) continue;
    const other = await unlessGone(services.core.routers!.get(admin, String(port.device_id)));
    if (other && !(await services.zones.isLocalRouter(other))) {
      throw new ApiError('NetAttachedToNonLocalRouter', `network ${String(network.id)} has been attached to non-local router ${String(other.id)}`);
    }
  }
}

/** A local network on a local router: its copy made in the router's region now, with its routing rows. */
async function materialize(services: CentralServices, region: string, network: Resource): Promise<void> {
  const pod = (await services.zones.podOf(region))!;
  const copy = await inRegion(services, region, (neutron) => neutron.request<{ network: Resource }>('GET', `/v2.0/networks/${String(network.id)}`));
  const projectId = String(network.project_id);
  await services.routings.record({ topId: String(network.id), podId: pod.pod_id, resourceType: 'network', bottomId: String(network.id), projectId });
  for (const subnetId of (copy.network.subnets as string[] | undefined) ?? []) {
    await services.routings.record({ topId: subnetId, podId: pod.pod_id, resourceType: 'subnet', bottomId: subnetId, projectId });
  }
}

/**
 * router_setup for the regions the network is in (a local router: its own region only): one
 * region names its pod, several fan out. None: the first port bound there casts it.
 */
async function castRouterSetup(services: CentralServices, ctx: RequestContext, router: Resource, networkId: string): Promise<void> {
  let pods = await services.routings.podsOf(networkId, ['network']);
  const region = await services.zones.routerRegion(router);
  if (region !== null) {
    const own = (await services.zones.podOf(region))?.pod_id;
    pods = pods.filter((pod) => pod === own);
  }
  if (pods.length === 0) return;
  await castJob(services, ctx, 'router_setup', {
    pod_id: pods.length === 1 ? pods[0]! : NOT_SPECIFIED_POD,
    router_id: String(router.id),
    network_id: networkId,
  });
}

/** The region of an external network (its first hint), or null when it names none. */
async function gatewayPlace(services: CentralServices, ctx: RequestContext, networkId: string): Promise<GatewayPlace | null> {
  const network = await services.core.networks!.get(asAdmin(ctx), networkId);
  const [hint] = (network.availability_zone_hints as string[] | undefined) ?? [];
  const pod = hint === undefined ? undefined : await services.zones.podOf(hint);
  return pod ? { network, region: pod.region_name, podId: pod.pod_id } : null;
}

async function updateRouter(services: CentralServices, ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
  const core = services.core.routers!;
  if (!('external_gateway_info' in changes)) return core.update(ctx, id, changes);
  const wanted = changes.external_gateway_info as GatewayInfo | null;
  const before = await core.get(ctx, id);
  const old = before.external_gateway_info as GatewayInfo | null;
  const nonLocal = (await services.zones.routerRegion(before)) === null;
  let place: GatewayPlace | null = null;
  if (wanted?.network_id) {
    place = await gatewayPlace(services, ctx, wanted.network_id);
    if (!place) throw new ApiError('ExternalNetPodNotSpecify', `External network ${wanted.network_id} names no region in availability_zone_hints.`);
    await services.zones.checkLocation(before, place.network);
  }
  const oldPlace = old && old.network_id !== wanted?.network_id ? await gatewayPlace(services, ctx, old.network_id) : null;
  const after = await core.update(ctx, id, changes);
  try {
    if (oldPlace) await clearGateway(services, ctx, before, oldPlace);
    if (place) await setGateway(services, ctx, after, place);
  } catch (err) {
    // The central gateway goes back to what it was (same addresses, hence as admin).
    await core
      .update(asAdmin(ctx), id, { external_gateway_info: old })
      .catch((undo: Error) => services.logger.error({ err: undo, router: id }, 'gateway not restored'));
    if (err instanceof ApiError && err.type === 'BottomPodOperationFailure') throw err;
    throw new ApiError('BottomPodOperationFailure', `Setting the gateway of router ${id} in its region failed: ${(err as Error).message}`);
  }
  // Local routers have no bridge routes: configure_route would only reset their routes.
  if (nonLocal && (old || wanted)) await castJob(services, ctx, 'configure_route', { router_id: id });
  return after;
}

/** Gets or creates the router's bottom router of a type in a region (named after the central router). */
async function bottomRouter(services: CentralServices, router: Resource, place: GatewayPlace, type: (typeof BOTTOM_ROUTER_TYPES)[number]): Promise<string> {
  const name = type === 'ns_router' ? nsRouterName(String(router.id)) : String(router.id);
  const projectId = String(router.project_id);
  const { id } = await services.routings.getOrCreate({
    topId: String(router.id),
    podId: place.podId,
    resourceType: type,
    projectId,
    find: () =>
      inRegion(services, place.region, async (neutron) => {
        const { routers } = await neutron.request<{ routers: Resource[] }>('GET', `/v2.0/routers?name=${encodeURIComponent(name)}`);
        return routers[0] ? String(routers[0].id) : null;
      }),
    create: () =>
      inRegion(services, place.region, async (neutron) => {
        const { router: created } = await neutron.request<{ router: Resource }>('POST', '/v2.0/routers', {
          router: { name, project_id: projectId, admin_state_up: true },
        });
        return String(created.id);
      }),
  });
  return id;
}

/**
 * The central gateway (same network, addresses and SNAT) on the bottom router in the
 * external network's region; for a non-local router that is ns_router_<id>, which also gets
 * the bridge subnet's gateway address as an interface (the east-west routers' way out).
 */
async function setGateway(services: CentralServices, ctx: RequestContext, router: Resource, place: GatewayPlace): Promise<void> {
  const info = router.external_gateway_info as GatewayInfo;
  const projectId = String(router.project_id);
  const nonLocal = (await services.zones.routerRegion(router)) === null;
  const bottomId = await bottomRouter(services, router, place, nonLocal ? 'ns_router' : 'router');
  await inRegion(services, place.region, async (neutron) => {
    await neutron.request('GET', `/v2.0/networks/${info.network_id}`);
    const gateway = { network_id: info.network_id, enable_snat: info.enable_snat, external_fixed_ips: info.external_fixed_ips };
    await neutron.request('PUT', `/v2.0/routers/${bottomId}`, { router: { external_gateway_info: gateway } });
  });
  await services.routings.record({ topId: info.network_id, podId: place.podId, resourceType: 'network', bottomId: info.network_id, projectId: null });
  if (!nonLocal) return;
  const { network, subnet } = await ensureBridge(services, ctx, projectId);
  const networkId = String(network.id);
  const subnetId = String(subnet.id);
  await inRegion(services, place.region, async (neutron) => {
    await neutron.request('GET', `/v2.0/networks/${networkId}`);
    await neutron.request('PUT', `/v2.0/networks/${networkId}`, { network: { 'router:external': true } });
  });
  await services.routings.record({ topId: networkId, podId: place.podId, resourceType: 'network', bottomId: networkId, projectId });
  await services.routings.record({ topId: subnetId, podId: place.podId, resourceType: 'subnet', bottomId: subnetId, projectId });
  // The project's first NS router takes the bridge gateway address (100.0.0.1, as upstream); another
  // router of the project with a gateway gets any other address, where upstream failed.
  // configure_route reads the next hop from the NS router's own port, so either works.
  const port = await bridgePort(services, ctx, projectId, bottomId, String(subnet.gateway_ip)).catch((err: unknown) => {
    if (!(err instanceof ApiError && err.type === 'IpAddressAlreadyAllocated')) throw err;
    return bridgePort(services, ctx, projectId, bottomId);
  });
  await inRegion(services, place.region, async (neutron) => {
    const attached = async () => {
      const { ports } = await neutron.request<{ ports: Resource[] }>('GET', `/v2.0/ports?device_id=${bottomId}&network_id=${networkId}`);
      return ports.some((p) => (p.fixed_ips as FixedIp[]).some((ip) => ip.subnet_id === subnetId));
    };
    if (await attached()) return;
    // Reading the port by id makes its copy (same id and address) in the region.
    await neutron.request('GET', `/v2.0/ports/${String(port.id)}`);
    try {
      await neutron.request('PUT', `/v2.0/routers/${bottomId}/add_router_interface`, { port_id: port.id });
    } catch (err) {
      // A concurrent gateway set attached it first.
      if ((err as { status?: number }).status !== 409 || !(await attached())) throw err;
    }
  });
}

/** Undoes setGateway: a local router's bottom router loses its gateway; a non-local router's NS router goes. */
async function clearGateway(services: CentralServices, ctx: RequestContext, router: Resource, place: GatewayPlace): Promise<void> {
  const routerId = String(router.id);
  if ((await services.zones.routerRegion(router)) !== null) {
    const bottomId = await services.routings.bottomId({ topId: routerId, podId: place.podId, resourceType: 'router' });
    if (bottomId !== null) await inRegion(services, place.region, (neutron) => clearBottomGateway(services, ctx, neutron, bottomId));
    return;
  }
  const bottomId = await services.routings.bottomId({ topId: routerId, podId: place.podId, resourceType: 'ns_router' });
  if (bottomId !== null) await removeBottomRouter(services, ctx, router, { podId: place.podId, region: place.region, bottomId });
}

/**
 * Clears a bottom router's gateway. The region refuses while floating IPs use the router: the
 * ones no central floating IP stands for any more (router_setup has not removed them yet) go
 * first. One that central still associates stays (the region may have served another
 * router's floating IP through this one), and the region's refusal then says so.
 */
async function clearBottomGateway(services: CentralServices, ctx: RequestContext, neutron: RegionNeutron, bottomId: string): Promise<void> {
  const { floatingips } = await neutron.request<{ floatingips: Resource[] }>('GET', `/v2.0/floatingips?router_id=${bottomId}`);
  if (floatingips.length) {
    const central = await listAll(services.core.floatingips!, asAdmin(ctx), { floating_ip_address: floatingips.map((fip) => fip.floating_ip_address) });
    const live = new Set(central.filter((fip) => fip.port_id).map((fip) => fip.floating_ip_address));
    for (const fip of floatingips.filter((f) => !live.has(f.floating_ip_address))) {
      await unlessGone(neutron.request('DELETE', `/v2.0/floatingips/${String(fip.id)}`));
    }
  }
  await unlessGone(neutron.request('PUT', `/v2.0/routers/${bottomId}`, { router: { external_gateway_info: null } }));
}

/**
 * Deletes a bottom router: its routes, interfaces (router_setup may not have caught up with
 * the central removals yet) and gateway first, then its bridge port, itself and its routing row.
 */
async function removeBottomRouter(
  services: CentralServices,
  ctx: RequestContext,
  router: Resource,
  bottom: { podId: string; region: string; bottomId: string },
): Promise<void> {
  const { region, bottomId } = bottom;
  await inRegion(services, region, async (neutron) => {
    // configure_route's routes go first: an interface they run through cannot be removed.
    await unlessGone(neutron.request('PUT', `/v2.0/routers/${bottomId}`, { router: { routes: [] } }));
    const { ports } = await neutron.request<{ ports: Resource[] }>('GET', `/v2.0/ports?device_id=${bottomId}&device_owner=${ROUTER_INTERFACE}`);
    for (const port of ports) await unlessGone(neutron.request('PUT', `/v2.0/routers/${bottomId}/remove_router_interface`, { port_id: port.id }));
    await clearBottomGateway(services, ctx, neutron, bottomId);
  });
  await removeBridgePort(services, ctx, String(router.project_id), bottomId);
  await inRegion(services, region, (neutron) => unlessGone(neutron.request('DELETE', `/v2.0/routers/${bottomId}`)));
  await services.routings.remove({ topId: String(router.id), podId: bottom.podId, bottomId });
}

async function deleteRouter(services: CentralServices, ctx: RequestContext, id: string): Promise<void> {
  const core = services.core.routers!;
  const router = await core.get(ctx, id);
  const admin = asAdmin(ctx);
  // A router with interfaces stays: the core refuses it (RouterInUse) before anything in the regions goes.
  if ((await listAll(services.core.ports!, admin, { device_id: [id], device_owner: [ROUTER_INTERFACE] })).length) return core.delete(ctx, id);
  for (const mapping of await services.routings.mappings(id, BOTTOM_ROUTER_TYPES)) {
    const { region_name: region } = await services.pods.get(mapping.pod_id);
    await removeBottomRouter(services, ctx, router, { podId: mapping.pod_id, region, bottomId: mapping.bottom_id! });
  }
  const projectId = String(router.project_id);
  if ((await services.zones.routerRegion(router)) === null) {
    const others = (await listAll(core, admin, { project_id: [projectId] })).filter((other) => other.id !== id);
    let nonLocalLeft = false;
    for (const other of others) nonLocalLeft ||= (await services.zones.routerRegion(other)) === null;
    if (!nonLocalLeft) await removeBridgeIfUnused(services, ctx, projectId);
  }
  await core.delete(ctx, id);
}
