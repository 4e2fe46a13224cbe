import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../auth/index.js';
import { insertUnlessTaken } from '../../db/index.js';
import { ApiError } from '../../http/errors.js';
import { interfacePortName, RESERVED_GATEWAY_DEVICE, SHADOW_OWNER, shadowPortName, type Pod } from '../../tricircle/index.js';
import { wrapOperations, type Resource, type ResourceOperations } from '../core/plugin.js';
import { reservedPort } from './reserved-ports.js';
import { asAdmin, castJob, inRegion, listAll, unlessGone, type CentralServices } from './services.js';

// The central role's ports (reference §3.5): a region's gateway port on request, binding
// reports from the regions (routing rows, router_setup, seg_rule_setup, the VxLAN agent),
// user updates carried to the region copies, and deletes that remove them through port_delete.

const ROUTER_INTERFACE = 'network:router_interface';
/** The only agent type a region reports (upstream maps vif type ovs to it and knows no other). */
const OVS_AGENT = 'Open vSwitch agent';
/** What a user update does not carry to a region copy: the name is central's, the profile the region's own. */
const CENTRAL_ONLY = ['name', 'binding:profile'];

type FixedIp = { subnet_id: string; ip_address: string };

const isServicePort = (port: Resource) => String(port.device_owner ?? '').startsWith('network:');
const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** The pod of a region named by a local Neutron; InvalidInput when no pod has that region. */
async function regionPod(services: CentralServices, region: string): Promise<Pod> {
  const pod = await services.zones.podOf(region);
  if (!pod || pod.region_name !== region) throw new ApiError('InvalidInput', `No pod is registered for region ${region}.`);
  return pod;
}

/**
 * A local Neutron asking for its region's gateway port on a stretched subnet: the central
 * port `interface_<region>_<subnet>`, made once for every concurrent caller.
 */
async function regionGatewayPort(services: CentralServices, ctx: RequestContext, item: Resource): Promise<Resource> {
  const name = String(item.name ?? '');
  const prefix = 'interface_';
  const last = name.lastIndexOf('_');
  if (!name.startsWith(prefix) || last <= prefix.length || last === name.length - 1) {
    throw new ApiError('InvalidInput', `A port with device_id ${RESERVED_GATEWAY_DEVICE} must be named interface_<region>_<subnet id>, not '${name}'.`);
  }
  const pod = await regionPod(services, name.slice(prefix.length, last));
  // As the caller: a subnet it cannot see gets no gateway port.
  const subnet = await services.core.subnets!.get(ctx, name.slice(last + 1));
  if (item.network_id !== subnet.network_id) {
    throw new ApiError('InvalidInput', `Subnet ${String(subnet.id)} is not on network ${String(item.network_id)}.`);
  }
  return reservedPort(services, ctx, {
    subnet,
    name: interfacePortName(pod.region_name, String(subnet.id)),
    deviceOwner: ROUTER_INTERFACE,
    deviceId: '',
    podId: pod.pod_id,
  });
}

/** The VxLAN agent of a host in a region (shadow_agents, one per host and type), for shadow ports elsewhere. */
async function recordAgent(services: CentralServices, podId: string, host: string, type: string, tunnelIp: string): Promise<void> {
  const kysely = services.db.kysely;
  const added = await insertUnlessTaken(kysely, 'shadow_agents', { id: randomUUID(), pod_id: podId, host, type, tunnel_ip: tunnelIp });
  if (!added) await kysely.updateTable('shadow_agents').set({ pod_id: podId, tunnel_ip: tunnelIp }).where('host', '=', host).where('type', '=', type).execute();
}

/**
 * A VM port bound in a region: the region now holds copies of the port, its network, subnets
 * and security groups (routing rows with the same ids); the network's non-local routers and
 * the port's floating IPs' routers are set up there, and the project's rules synchronised.
 */
async function boundInRegion(services: CentralServices, ctx: RequestContext, port: Resource, pod: Pod): Promise<void> {
  const admin = asAdmin(ctx);
  const core = services.core;
  const network = await core.networks!.get(admin, String(port.network_id));
  const record = (topId: string, resourceType: string, projectId: unknown) =>
    services.routings.record({ topId, podId: pod.pod_id, resourceType, bottomId: topId, projectId: String(projectId) });
  await record(String(port.id), 'port', port.project_id);
  await record(String(network.id), 'network', network.project_id);
  for (const subnetId of new Set((port.fixed_ips as FixedIp[]).map((f) => f.subnet_id))) await record(subnetId, 'subnet', network.project_id);
  for (const group of (port.security_groups as string[] | undefined) ?? []) await record(group, 'security_group', port.project_id);

  const routers = new Set<string>();
  for (const iface of await listAll(core.ports!, admin, { network_id: [network.id], device_owner: [ROUTER_INTERFACE] })) {
    // The regions' reserved gateway ports have no router.
    if (!iface.device_id) continue;
    const router = await unlessGone(core.routers!.get(admin, String(iface.device_id)));
    if (router && !(await services.zones.isLocalRouter(router))) routers.add(String(router.id));
  }
  for (const fip of await listAll(core.floatingips!, admin, { port_id: [port.id] })) if (fip.router_id) routers.add(String(fip.router_id));
  const projectCtx = { ...ctx, projectId: String(port.project_id) };
  for (const routerId of routers)
    await castJob(services, projectCtx, 'router_setup', { pod_id: pod.pod_id, router_id: routerId, network_id: String(network.id) });
  await castJob(services, projectCtx, 'seg_rule_setup', { project_id: String(port.project_id) });
  // p2p VxLAN: the other regions' L2 learns of this port (and this region of theirs) through shadow ports.
  if (network['provider:network_type'] === 'vxlan' && services.config.client.cross_pod_vxlan_mode === 'p2p') {
    await castJob(services, projectCtx, 'shadow_port_setup', { pod_id: pod.pod_id, network_id: String(network.id) });
  }
}

/**
 * A VM gone from a region (§3.5 path 1, §9.7): the port's shadows in the other regions go at
 * once, so that a VM can take the port in one of them. A region that cannot be reached now is
 * left to shadow_port_setup, which removes the shadows of ports that are VM ports nowhere.
 */
async function releasedInRegion(services: CentralServices, ctx: RequestContext, port: Resource, pod: Pod): Promise<void> {
  const id = String(port.id);
  await services.routings.remove({ topId: id, podId: pod.pod_id, resourceTypes: ['port'] });
  const networkId = String(port.network_id);
  for (const podId of await services.routings.podsOf(networkId, ['network'])) {
    if (podId === pod.pod_id) continue;
    const other = await services.pods.get(podId);
    try {
      await inRegion(services, other.region_name, async (neutron) => {
        const found = await neutron.request<{ ports: Resource[] }>('GET', `/v2.0/ports?name=${shadowPortName(id)}&network_id=${networkId}`);
        for (const shadow of found.ports) if (shadow.device_owner === SHADOW_OWNER) await unlessGone(neutron.request('DELETE', `/v2.0/ports/${id}`));
      });
      await services.routings.remove({ topId: id, podId, resourceTypes: ['shadow_port'] });
    } catch (err) {
      services.logger.warn({ err, region: other.region_name, port: id }, 'the shadow port of a released port stays until shadow_port_setup removes it');
      await castJob(services, { ...ctx, projectId: String(port.project_id) }, 'shadow_port_setup', { pod_id: podId, network_id: networkId });
    }
  }
}

/** A local Neutron's report of a port's binding in its region (reference §3.5 update_port path 1, §4.4). */
async function bindingReport(services: CentralServices, ctx: RequestContext, id: string, changes: Resource, profile: Resource): Promise<Resource> {
  const pod = await regionPod(services, String(profile.region));
  // The core derives vif type and details from the host and vnic type, as it does for its own bindings.
  const binding: Resource = { 'binding:profile': profile };
  for (const attr of ['binding:host_id', 'binding:vnic_type']) if (text(profile[attr]) !== undefined) binding[attr] = profile[attr];
  if (profile.status === 'ACTIVE' || profile.status === 'DOWN') binding.status = profile.status;
  const port = await services.core.ports!.update(ctx, id, { ...changes, ...binding });
  // The agent first: the shadow_port_setup cast below reads it.
  const [host, tunnelIp] = [text(profile.host), text(profile.tunnel_ip)];
  if (host && tunnelIp) await recordAgent(services, pod.pod_id, host, text(profile.type) ?? OVS_AGENT, tunnelIp);
  const device = text(profile.device) ?? '';
  if (device.startsWith('compute:')) await boundInRegion(services, ctx, port, pod);
  else if (profile.status === 'DOWN' && device === '') await releasedInRegion(services, ctx, port, pod);
  return port;
}

/** The pods of the regions holding a copy of a port. */
async function podsOfPort(services: CentralServices, id: string): Promise<Pod[]> {
  return Promise.all((await services.routings.podsOf(id, ['port'])).map((podId) => services.pods.get(podId)));
}

/** A MAC change of a port bound in some region is refused (PortBound), whatever central's own binding says. */
async function checkMacChange(services: CentralServices, pods: Pod[], before: Resource, mac: unknown): Promise<void> {
  if (mac === undefined || mac === before.mac_address) return;
  for (const { region_name: region } of pods) {
    const reply = await inRegion(services, region, (neutron) => unlessGone(neutron.request<{ port: Resource }>('GET', `/v2.0/ports/${String(before.id)}`)));
    const copy = reply?.port;
    if (copy?.['binding:host_id'] && !['unbound', 'binding_failed'].includes(String(copy['binding:vif_type']))) {
      throw new ApiError(
        'PortBound',
        `Unable to complete operation on port ${String(before.id)}, port is already bound in ${region}, port type: ${String(copy['binding:vif_type'])}, old_mac ${String(before.mac_address)}, new_mac ${String(mac)}.`,
      );
    }
  }
}

/**
 * A user's update of a port with copies in regions (reference §3.5 path 2): central first, then
 * every copy (security groups copied there first); a region refusing undoes the central change.
 */
async function userUpdate(services: CentralServices, ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
  const ports = services.core.ports!;
  const before = await ports.get(ctx, id);
  const pods = isServicePort(before) ? [] : await podsOfPort(services, id);
  if (pods.length === 0) return ports.update(ctx, id, changes);
  // Every copy holds the same addresses; changing them everywhere at once is not something a region copy can follow.
  if (changes.fixed_ips !== undefined) {
    throw new ApiError(
      'InvalidInput',
      `Invalid input for fixed_ips: port ${id} is in use in ${pods.map((pod) => pod.region_name).join(', ')}; its addresses cannot change.`,
    );
  }
  await checkMacChange(services, pods, before, changes.mac_address);
  const after = await ports.update(ctx, id, changes);
  const forRegions = Object.fromEntries(Object.entries(changes).filter(([attr]) => !CENTRAL_ONLY.includes(attr)));
  const groups = changes.security_groups as string[] | undefined;
  try {
    for (const pod of pods) {
      await inRegion(services, pod.region_name, async (neutron) => {
        // A GET by id makes the region copy the group from central.
        for (const group of groups ?? []) await neutron.request('GET', `/v2.0/security-groups/${group}`);
        if (Object.keys(forRegions).length) await unlessGone(neutron.request('PUT', `/v2.0/ports/${id}`, { port: forRegions }));
      });
      for (const group of groups ?? []) {
        await services.routings.record({
          topId: group,
          podId: pod.pod_id,
          resourceType: 'security_group',
          bottomId: group,
          projectId: String(before.project_id),
        });
      }
    }
  } catch (err) {
    await ports.update(ctx, id, Object.fromEntries(Object.keys(changes).map((attr) => [attr, before[attr]]))).catch(() => undefined);
    throw err;
  }
  if (groups) await castJob(services, { ...ctx, projectId: String(before.project_id) }, 'seg_rule_setup', { project_id: String(before.project_id) });
  return after;
}

/**
 * A VM port's delete removes its copy from every region holding it or its network
 * (port_delete jobs); service ports are central's alone.
 */
async function deletePort(services: CentralServices, ctx: RequestContext, id: string): Promise<void> {
  const ports = services.core.ports!;
  const port = await ports.get(ctx, id);
  if (isServicePort(port)) return ports.delete(ctx, id);
  const pods = new Set([
    ...(await services.routings.podsOf(id, ['port', 'shadow_port'])),
    ...(await services.routings.podsOf(String(port.network_id), ['network', 'shadow_network'])),
  ]);
  await ports.delete(ctx, id);
  for (const podId of pods) await castJob(services, ctx, 'port_delete', { pod_id: podId, port_id: id });
  await services.routings.remove({ topId: id, resourceTypes: ['port', 'shadow_port'] });
}

/** The central role's ports (reference §3.5). */
export function centralPorts(services: CentralServices): ResourceOperations {
  const ports = services.core.ports!;
  return wrapOperations(ports, {
    create: async (ctx, items) => {
      const gateways = items.filter((item) => item.device_id === RESERVED_GATEWAY_DEVICE);
      if (gateways.length === 0) return ports.create(ctx, items);
      if (items.length > 1)
        throw new ApiError('InvalidInput', `A port with device_id ${RESERVED_GATEWAY_DEVICE} is created on its own, not in a bulk request.`);
      return [await regionGatewayPort(services, ctx, gateways[0]!)];
    },
    update: (ctx, id, changes) => {
      const profile = changes['binding:profile'];
      const fromRegion = profile !== null && typeof profile === 'object' && typeof (profile as Resource).region === 'string';
      return fromRegion ? bindingReport(services, ctx, id, changes, profile as Resource) : userUpdate(services, ctx, id, changes);
    },
    delete: (ctx, id) => deletePort(services, ctx, id),
  });
}
