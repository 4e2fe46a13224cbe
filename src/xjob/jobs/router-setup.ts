import { NOT_SPECIFIED_POD, SHADOW_OWNER, bridgeNetName, bridgePortName, bridgeSubnetName, interfacePortName, shadowPortName } from '../../tricircle/index.js';
import { regionPools, type Pool } from '../../neutron/local/index.js';
import { JobFailure, type JobRunContext } from '../handler.js';
import {
  ROUTER_INTERFACE,
  centralApi,
  centralPod,
  externalNetworkPod,
  firstIpv4,
  localRouterRegion,
  regionApi,
  type FixedIp,
  type Json,
  type NeutronApi,
  unlessGone,
  whileRouterExists,
} from './regions.js';

// router_setup {pod_id, router_id, network_id} (reference §5.4): makes one region's copy of a
// central router match it for one network: the bottom router (named after the central one),
// for a non-local router its gateway on the project's bridge network, the interface on the
// network, and the floating IPs of the network's ports in the external network's region.

/** One run's view: the central router, and the region it works on. */
interface Setup {
  ctx: JobRunContext;
  central: NeutronApi;
  region: NeutronApi;
  regionName: string;
  podId: string;
  router: Json;
  networkId: string;
  local: boolean;
}

export async function routerSetup(ctx: JobRunContext): Promise<void> {
  const { pod_id: podId, router_id: routerId, network_id: networkId } = ctx.resource as { pod_id: string; router_id: string; network_id: string };
  const central = await centralApi(ctx);
  const router = await central.find('routers', routerId);
  if (!router) return;
  if (podId === NOT_SPECIFIED_POD) {
    // One job per region, so that no two runs change one region's copy of the router at once.
    for (const pod of await ctx.services.routings.podsOf(networkId, ['network'])) {
      await ctx.services.jobs.registerNow({ projectId: ctx.projectId }, 'router_setup', { pod_id: pod, router_id: routerId, network_id: networkId });
    }
    return;
  }
  if (!(await central.find('networks', networkId))) return;
  const regionName = (await ctx.services.pods.get(podId)).region_name;
  const localRegion = await localRouterRegion(ctx, router);
  // A local router has no copy outside its region, whatever networks it reaches.
  if (localRegion !== null && localRegion !== regionName) return;
  const setup: Setup = { ctx, central, region: await regionApi(ctx, regionName), regionName, podId, router, networkId, local: localRegion !== null };
  await whileRouterExists(central, routerId, async () => {
    const top = await central.list('ports', { device_owner: ROUTER_INTERFACE, network_id: networkId, device_id: routerId });
    // Without an interface on the network the run only undoes: it never makes a copy, as the router may be on its way out.
    const bottomId = top.length ? await bottomRouter(setup) : await ctx.services.routings.bottomId({ topId: routerId, podId, resourceType: 'router' });
    if (bottomId !== null) {
      if (!setup.local && top.length) await bridgeGateway(setup, bottomId);
      await interfaces(setup, bottomId, top);
    }
    if (router.external_gateway_info) await floatingIps(setup);
  });
  if (!setup.local) await ctx.services.jobs.registerNow({ projectId: ctx.projectId }, 'configure_route', { router_id: routerId });
}

/** The region's copy of the router: got or created once, under its routing row's lock. */
async function bottomRouter({ ctx, region, router, podId }: Setup): Promise<string> {
  const name = String(router.id);
  const { id } = await ctx.services.routings.getOrCreate({
    topId: name,
    podId,
    resourceType: 'router',
    projectId: String(router.project_id),
    find: async () => (await region.list('routers', { name }))[0]?.id ?? null,
    create: async () => String((await region.create('routers', { name, project_id: router.project_id, admin_state_up: true })).id),
  });
  return id;
}

/** Makes a central network and subnet exist in the region (a GET by id copies them) and records the copies. */
async function mirrored(setup: Setup, networkId: string, subnetId: string): Promise<{ network: Json; subnet: Json }> {
  const { ctx, region, podId } = setup;
  const network = await region.find('networks', networkId);
  const subnet = network && (await region.find('subnets', subnetId));
  if (!network || !subnet) throw new JobFailure(`Network ${networkId} or subnet ${subnetId} cannot be copied to region ${setup.regionName}`, true);
  const projectId = String(network.project_id);
  await ctx.services.routings.record({ topId: networkId, podId, resourceType: 'network', bottomId: networkId, projectId });
  await ctx.services.routings.record({ topId: subnetId, podId, resourceType: 'subnet', bottomId: subnetId, projectId });
  return { network, subnet };
}

/**
 * A non-local router's copy reaches the others through the project's bridge network: its
 * gateway there, SNAT off, at the address of its central port bridge_port_<project>_<bottom>.
 */
async function bridgeGateway(setup: Setup, bottomId: string): Promise<void> {
  const { ctx, central, region, router } = setup;
  const project = String(router.project_id);
  const [net] = await central.list('networks', { name: bridgeNetName(project) });
  const [subnet] = await central.list('subnets', { name: bridgeSubnetName(project) });
  // The central role makes them when the router gets its first interface; until then there is nothing to join.
  if (!net || !subnet) throw new JobFailure(`The bridge network of project ${project} does not exist yet`, true);
  const name = bridgePortName(project, bottomId);
  const { id: portId } = await ctx.services.routings.getOrCreate({
    topId: name,
    podId: (await centralPod(ctx)).pod_id,
    resourceType: 'port',
    projectId: project,
    find: async () => (await central.list('ports', { name, network_id: String(net.id) }))[0]?.id ?? null,
    create: async () =>
      String(
        (
          await central.create('ports', {
            name,
            network_id: net.id,
            project_id: project,
            admin_state_up: true,
            device_owner: ROUTER_INTERFACE,
            device_id: '',
            fixed_ips: [{ subnet_id: subnet.id }],
          })
        ).id,
      ),
  });
  const port = await central.find('ports', portId);
  if (!port) throw new JobFailure(`Central bridge port ${name} (${portId}) is gone`, true);
  const address = (port.fixed_ips as FixedIp[]).find((f) => f.subnet_id === subnet.id)!.ip_address;
  const copy = await mirrored(setup, String(net.id), String(subnet.id));
  // The region's bridge network is external there, so that routers can have their gateway on it.
  if (copy.network['router:external'] !== true) await region.update('networks', String(net.id), { 'router:external': true });
  const current = (await region.find('routers', bottomId))?.external_gateway_info as Json | null | undefined;
  const done =
    current != null &&
    current.network_id === net.id &&
    current.enable_snat === false &&
    (current.external_fixed_ips as FixedIp[] | undefined)?.some((f) => f.ip_address === address);
  if (done) return;
  await region.update('routers', bottomId, {
    external_gateway_info: { network_id: net.id, enable_snat: false, external_fixed_ips: [{ subnet_id: subnet.id, ip_address: address }] },
  });
}

/** The router's interface on the job's network (`top`, central's): added or removed in the region as central has it. */
async function interfaces(setup: Setup, bottomId: string, top: Json[]): Promise<void> {
  const { central, region, router, networkId } = setup;
  const bottom = await region.list('ports', { device_owner: ROUTER_INTERFACE, network_id: networkId, device_id: bottomId });
  if (!top.length) {
    for (const port of bottom) await unlessGone(region.routerAction(bottomId, 'remove_router_interface', { port_id: port.id }));
    return;
  }
  if (bottom.length) return;
  const ip = firstIpv4(top[0]!);
  if (!ip) return;
  const centralSubnet = await central.find('subnets', ip.subnet_id);
  if (!centralSubnet) return;
  const { subnet } = await mirrored(setup, networkId, ip.subnet_id);
  if (setup.local) {
    // A local router is the subnet's only router: the region's gateway becomes the interface's address.
    if (subnet.gateway_ip !== ip.ip_address) {
      const pools = regionPools(centralSubnet.allocation_pools as Pool[], centralSubnet.gateway_ip as string | null, ip.ip_address);
      await region.update('subnets', ip.subnet_id, { gateway_ip: ip.ip_address, allocation_pools: pools });
    }
    await region.routerAction(bottomId, 'add_router_interface', { subnet_id: ip.subnet_id });
  } else if (ip.ip_address === centralSubnet.gateway_ip) {
    // The region's copy has its own gateway (interface_<region>_<subnet>): the interface takes it.
    await region.routerAction(bottomId, 'add_router_interface', { subnet_id: ip.subnet_id });
  } else {
    // Not the subnet's gateway (e.g. a second router on it): a region port at the region's reserved interface address.
    const [reserved] = await central.list('ports', { name: interfacePortName(setup.regionName, ip.subnet_id), network_id: networkId });
    const address = reserved && (reserved.fixed_ips as FixedIp[]).find((f) => f.subnet_id === ip.subnet_id);
    if (!address) throw new JobFailure(`Central port ${interfacePortName(setup.regionName, ip.subnet_id)} does not exist`, true);
    const port = await region.create('ports', {
      network_id: networkId,
      project_id: router.project_id,
      admin_state_up: true,
      device_owner: ROUTER_INTERFACE,
      device_id: '',
      mac_address: reserved.mac_address,
      fixed_ips: [{ subnet_id: ip.subnet_id, ip_address: address.ip_address }],
    });
    await region.routerAction(bottomId, 'add_router_interface', { port_id: port.id });
  }
}

/**
 * The floating IPs of this router whose ports are on the job's network and bound in the job's
 * region, in the external network's region with the same addresses; bottom floating IPs whose
 * address central no longer associates go.
 */
async function floatingIps(setup: Setup): Promise<void> {
  const { ctx, central, router, networkId, podId } = setup;
  const extNetId = String((router.external_gateway_info as Json).network_id);
  const extNet = await central.find('networks', extNetId);
  const extPod = extNet && (await externalNetworkPod(ctx, extNet));
  if (!extPod) return;
  const ext = await regionApi(ctx, extPod.region_name);
  // The region first: a bottom floating IP listed here was made from a central state older than the one read next.
  const existing = await ext.list('floatingips', { floating_network_id: extNetId });
  const wanted = await central.list('floatingips', { floating_network_id: extNetId });
  const bound = async (portId: string) => (await ctx.services.routings.podsOf(portId, ['port']))[0];

  for (const fip of wanted) {
    if (!fip.port_id || fip.router_id !== router.id) continue;
    const port = await central.find('ports', String(fip.port_id));
    if (!port || port.network_id !== networkId || (await bound(String(port.id))) !== podId) continue;
    const current = existing.find((b) => b.floating_ip_address === fip.floating_ip_address);
    if (current?.port_id === port.id) continue;
    if (podId !== extPod.pod_id) await shadowPort(setup, ext, extPod.pod_id, port);
    if (current) await ext.update('floatingips', String(current.id), { port_id: port.id });
    else await createFloatingIp(ext, extNetId, fip, String(port.id));
  }

  for (const b of existing) {
    const fip = wanted.find((f) => f.floating_ip_address === b.floating_ip_address);
    // Deleted or disassociated centrally, or associated with a port not bound yet (the bind's job re-adds it).
    const stale = !fip?.port_id || (fip.port_id !== b.port_id && (await bound(String(fip.port_id))) === undefined);
    if (stale) await ext.remove('floatingips', String(b.id));
  }
}

/** Creates the bottom floating IP; an address already taken there (a concurrent run) is associated instead. */
async function createFloatingIp(ext: NeutronApi, extNetId: string, fip: Json, portId: string): Promise<void> {
  try {
    await ext.create('floatingips', {
      floating_network_id: extNetId,
      floating_ip_address: fip.floating_ip_address,
      port_id: portId,
      project_id: fip.project_id,
    });
  } catch (err) {
    if ((err as { status?: unknown }).status !== 409) throw err;
    const [taken] = await ext.list('floatingips', { floating_network_id: extNetId, floating_ip_address: String(fip.floating_ip_address) });
    if (!taken) throw err;
    if (taken.port_id !== portId) await ext.update('floatingips', String(taken.id), { port_id: portId });
  }
}

/**
 * The VM port's copy in the external network's region (shadow_port_<id>, compute:shadow, same
 * addresses and MAC, bound to the VM's host), which the local role creates under the port's id;
 * its network and subnets are recorded as shadow copies there, the port as a shadow port.
 */
async function shadowPort(setup: Setup, ext: NeutronApi, extPodId: string, port: Json): Promise<void> {
  const { ctx } = setup;
  const portId = String(port.id);
  const vmPort = await setup.region.find('ports', portId);
  const profile = (port['binding:profile'] as Json | undefined) ?? {};
  await ext.create('ports', {
    name: shadowPortName(portId),
    network_id: port.network_id,
    project_id: port.project_id,
    admin_state_up: true,
    device_owner: SHADOW_OWNER,
    device_id: port.device_id,
    mac_address: port.mac_address,
    fixed_ips: (port.fixed_ips as FixedIp[]).map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })),
    'binding:host_id': vmPort?.['binding:host_id'] ?? profile['binding:host_id'] ?? '',
    // The VM host's tunnel endpoint, when its binding report carried one, records its agent in the external region.
    ...(profile.tunnel_ip ? { 'binding:profile': { tunnel_ip: profile.tunnel_ip } } : {}),
  });
  const projectId = String(port.project_id);
  const record = (topId: string, resourceType: string) => ctx.services.routings.record({ topId, podId: extPodId, resourceType, bottomId: topId, projectId });
  await record(String(port.network_id), 'shadow_network');
  for (const f of port.fixed_ips as FixedIp[]) await record(f.subnet_id, 'shadow_subnet');
  await record(portId, 'shadow_port');
}
