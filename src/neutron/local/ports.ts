import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import type { Resource, ResourceOperations } from '../core/plugin.js';
import { reachesCentral, type CentralNeutron } from './central.js';
import type { LocalAgents } from './agents.js';
import type { Mirror } from './mirror.js';
import { SHADOW_OWNER } from '../../tricircle/index.js';
import { createShadowPorts, SPECIAL_OWNERS, specialPortBody } from './special-ports.js';
import type { Cidr } from '../core/ip.js';

// Ports of the local role (reference §4.4): central allocates, the region copies; bindings
// are reported back to central; a compute port leaves central before it leaves the region.

const isCompute = (owner: unknown) => typeof owner === 'string' && owner.startsWith('compute:');
const isNotFound = (err: unknown) => err instanceof ApiError && err.status === 404;

/** What the caller asked for that the local copy keeps over central's values. */
const REQUEST_ATTRS = ['name', 'device_id', 'device_owner', 'binding:host_id', 'binding:vnic_type', 'binding:profile', 'admin_state_up'];

function requested(item: Resource): Resource {
  return Object.fromEntries(REQUEST_ATTRS.filter((attr) => item[attr] !== undefined).map((attr) => [attr, item[attr]]));
}

/** An empty security_groups list means the project's central `default` group (none there: no group). */
async function centralGroups(central: CentralNeutron, ctx: RequestContext, item: Resource): Promise<string[] | undefined> {
  const groups = item.security_groups as string[] | undefined;
  if (groups === undefined || groups.length > 0 || String(item.device_owner ?? '').startsWith('network:')) return groups;
  const found = await central.list(ctx, 'security_groups', [
    ['name', 'default'],
    ['project_id', String(item.project_id)],
  ]);
  return found.length ? [String(found[0]!.id)] : undefined;
}

/** The central port of a port request: the one owning the requested IP, or a new one central allocates. */
async function centralPort(central: CentralNeutron, ctx: RequestContext, item: Resource): Promise<{ port: Resource; created: boolean }> {
  const fixed = item.fixed_ips as Array<{ subnet_id?: string; ip_address?: string }> | undefined;
  if (fixed?.length) {
    // A region never picks an address itself: it must be one central has given out.
    const ip = fixed[0]!.ip_address;
    const invalid = new ApiError('InvalidIpForNetwork', `IP address ${ip ?? 'None'} is not a valid IP for the specified network.`);
    if (!ip) throw invalid;
    const owners = await central.list(ctx, 'ports', [
      ['network_id', String(item.network_id)],
      ['fixed_ips', `ip_address=${ip}`],
    ]);
    if (!owners.length) throw invalid;
    return { port: owners[0]!, created: false };
  }
  const body: Resource = {};
  for (const attr of ['network_id', 'project_id', 'name', 'description', 'admin_state_up', 'device_owner', 'device_id', 'mac_address', 'binding:vnic_type']) {
    if (item[attr] !== undefined) body[attr] = item[attr];
  }
  const groups = await centralGroups(central, ctx, item);
  if (groups !== undefined) body.security_groups = groups;
  return { port: await central.create(ctx, 'ports', 'port', body), created: true };
}

/** Creates one port the local role's way; a central port made for it is removed again if the local copy fails. */
async function createPort(
  ports: ResourceOperations,
  mirror: Mirror,
  central: CentralNeutron,
  ctx: RequestContext,
  item: Resource,
  bridge: Cidr,
): Promise<Resource> {
  await mirror.network(ctx, String(item.network_id));
  if (SPECIAL_OWNERS.has(String(item.device_owner))) return (await ports.create(ctx, [await specialPortBody(central, ctx, item, bridge)]))[0]!;
  const { port, created } = await centralPort(central, ctx, item);
  try {
    const overlay = requested(item);
    if (Array.isArray(item.security_groups) && item.security_groups.length === 0) overlay.security_groups = port.security_groups;
    return await mirror.portFrom(ctx, port, overlay);
  } catch (err) {
    if (created) await central.delete(ctx, 'ports', String(port.id)).catch(() => undefined);
    throw err;
  }
}

export async function createPorts(
  ports: ResourceOperations,
  mirror: Mirror,
  central: CentralNeutron,
  ctx: RequestContext,
  given: Resource[],
  bridge: Cidr,
  agents: LocalAgents,
): Promise<Resource[]> {
  // A tunnel_ip in a binding's profile records that host's agent (§4.4 create_port step 7).
  const items: Resource[] = [];
  for (const item of given) items.push(await agents.record(item));
  // xjob's shadow ports are the region's own business (§4.4 create_port_bulk); the rest follow in order.
  if (items.some((item) => item.device_owner === SHADOW_OWNER)) {
    const shadows = await createShadowPorts(
      ports,
      mirror,
      ctx,
      items.filter((item) => item.device_owner === SHADOW_OWNER),
    );
    const others = items.filter((item) => item.device_owner !== SHADOW_OWNER);
    const rest = others.length ? await createPorts(ports, mirror, central, ctx, others, bridge, agents) : [];
    return items.map((item) => (item.device_owner === SHADOW_OWNER ? shadows.shift()! : rest.shift()!));
  }
  // Internal callers (agents) get the core's own allocation.
  if (!reachesCentral(ctx)) return ports.create(ctx, items);
  const created: Resource[] = [];
  try {
    for (const item of items) {
      const port = await createPort(ports, mirror, central, ctx, item, bridge);
      created.push(port);
      if (item['binding:host_id']) await reportBinding(central, mirror.region, agents, ctx, port);
    }
  } catch (err) {
    // A bulk create is all or nothing here too.
    for (const port of created) await deletePort(ports, central, ctx, String(port.id)).catch(() => undefined);
    throw err;
  }
  return created;
}

/**
 * PUTs the region's binding of a port into the central port's binding:profile (reference §4.4),
 * with the bound host's agent on a VxLAN network, as the [client] admin when configured: the
 * profile is admin-only.
 */
async function reportBinding(central: CentralNeutron, region: string, agents: LocalAgents, ctx: RequestContext, port: Resource): Promise<void> {
  await central.admin().update(ctx, 'ports', 'port', String(port.id), {
    'binding:profile': {
      region,
      device: port.device_owner,
      'binding:vif_details': port['binding:vif_details'],
      'binding:vnic_type': port['binding:vnic_type'],
      'binding:vif_type': port['binding:vif_type'],
      'binding:host_id': port['binding:host_id'],
      status: port.status,
      ...(await agents.profileOf(ctx, port)),
    },
  });
}

/** Whether central must hear of an update: a compute port (re)bound or unbound, never a shadow port going away. */
function reportsToCentral(before: Resource, after: Resource, changes: Resource): boolean {
  const released = after.device_owner === '' && after.device_id === '';
  if (before.device_owner === 'compute:shadow' && released) return false;
  if (isCompute(before.device_owner) && released) return true;
  return 'binding:host_id' in changes && isCompute(after.device_owner);
}

/**
 * force_up (reference §4.4): a `force_up` key in the binding profile (not kept), or a free port
 * taken by Nova, makes the port ACTIVE without a binding agent's report; this activates shadow
 * ports. The core keeps `status` given by a plugin (the API refuses it in PUT bodies). The
 * vnic type is left as it is, as upstream leaves it unspecified.
 */
function forcedUp(before: Resource, changes: Resource): Resource {
  const profile = changes['binding:profile'] as Resource | null | undefined;
  const flagged = profile != null && 'force_up' in profile;
  const takenByNova = !before.device_owner && !before.device_id && changes.device_owner === 'compute:nova';
  if (!flagged && !takenByNova) return changes;
  const { 'binding:vnic_type': _vnic, ...forced } = changes;
  if (flagged) {
    const { force_up: _flag, ...kept } = profile;
    forced['binding:profile'] = kept;
  }
  return { ...forced, status: 'ACTIVE' };
}

/** A VM port Nova lets go (its owner cleared) is DOWN, as an agent would report it: central reads that as the VM gone (§3.5 path 1). */
function releasedDown(before: Resource, changes: Resource): Resource {
  return isCompute(before.device_owner) && changes.device_owner === '' ? { ...changes, status: 'DOWN' } : changes;
}

export async function updatePort(
  ports: ResourceOperations,
  central: CentralNeutron,
  region: string,
  agents: LocalAgents,
  ctx: RequestContext,
  id: string,
  asked: Resource,
): Promise<Resource> {
  const before = await ports.get(ctx, id);
  const changes = releasedDown(before, forcedUp(before, await agents.record(asked, asked['binding:host_id'] ?? before['binding:host_id'])));
  const after = await ports.update(ctx, id, changes);
  if (!reachesCentral(ctx) || !reportsToCentral(before, after, changes)) return after;
  try {
    await reportBinding(central, region, agents, ctx, after);
  } catch (err) {
    // Central did not hear of it: the region does not keep a binding central does not know.
    await ports.update(ctx, id, Object.fromEntries(Object.keys(changes).map((attr) => [attr, before[attr]]))).catch(() => undefined);
    throw err;
  }
  return after;
}

export async function deletePort(ports: ResourceOperations, central: CentralNeutron, ctx: RequestContext, id: string): Promise<void> {
  const port = await ports.get(ctx, id);
  if (reachesCentral(ctx) && isCompute(port.device_owner) && !String(port.name).includes('shadow_port')) {
    try {
      await central.delete(ctx, 'ports', id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  await ports.delete(ctx, id);
}
