import { SHADOW_OWNER, shadowPortName, type Pod } from '../../tricircle/index.js';
import type { JobRunContext } from '../handler.js';
import { centralApi, regionApi, type Json, type NeutronApi } from './regions.js';

// shadow_port_setup {pod_id, network_id} (reference §5.4): the target region of a VxLAN network
// gets a shadow port (same id, IP and MAC, bound to the remote host with its tunnel IP) for
// every VM port of the network in the other regions, and loses the shadows of VM ports that
// exist nowhere any more. Regions still missing some of the target's VM ports get a job too.

const isRealPort = (port: Json) => String(port.device_owner ?? '').startsWith('compute:') && port.device_owner !== SHADOW_OWNER;

/** What one region holds on the network: its VM ports and its shadow ports, by id. */
interface RegionPorts {
  pod: Pod;
  neutron: NeutronApi;
  real: Map<string, Json>;
  shadows: Map<string, Json>;
}

async function regionPorts(ctx: JobRunContext, pod: Pod, networkId: string): Promise<RegionPorts> {
  const neutron = await regionApi(ctx, pod.region_name);
  const ports = await neutron.list('ports', { network_id: networkId });
  const byId = (items: Json[]) => new Map(items.map((port) => [String(port.id), port]));
  return { pod, neutron, real: byId(ports.filter(isRealPort)), shadows: byId(ports.filter((port) => port.device_owner === SHADOW_OWNER)) };
}

/** The tunnel endpoint of a host as a binding report recorded it (shadow_agents). */
async function agentOf(ctx: JobRunContext, host: unknown): Promise<{ type: string; tunnel_ip: string } | undefined> {
  if (typeof host !== 'string' || !host) return undefined;
  return ctx.services.db.kysely.selectFrom('shadow_agents').select(['type', 'tunnel_ip']).where('host', '=', host).orderBy('type').executeTakeFirst();
}

function shadowBody(port: Json, agent: { type: string; tunnel_ip: string }): Json {
  return {
    name: shadowPortName(String(port.id)),
    network_id: port.network_id,
    project_id: port.project_id,
    device_owner: SHADOW_OWNER,
    device_id: port.device_id,
    mac_address: port.mac_address,
    fixed_ips: (port.fixed_ips as Json[]).map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })),
    admin_state_up: true,
    'binding:host_id': port['binding:host_id'],
    'binding:profile': { tunnel_ip: agent.tunnel_ip, type: agent.type },
  };
}

const MAC_IN_USE = /The mac address (\S+) is in use/;

/**
 * Bulk-creates shadow ports in batches of [client] max_shadow_port_bulk_size. A MAC already in
 * use in the region means that port is there already (upstream's reading): its body is dropped
 * and the batch sent again.
 */
async function createShadows(ctx: JobRunContext, region: string, bodies: Json[]): Promise<Json[]> {
  const neutron = await ctx.clients.neutron(region);
  const size = ctx.services.config.client.max_shadow_port_bulk_size;
  const created: Json[] = [];
  for (let start = 0; start < bodies.length; start += size) {
    let batch = bodies.slice(start, start + size);
    while (batch.length) {
      try {
        const reply = await neutron.request<{ ports: Json[] }>('POST', '/v2.0/ports', { ports: batch }, ctx.signal);
        created.push(...reply.ports);
        break;
      } catch (err) {
        const mac = MAC_IN_USE.exec((err as Error).message)?.[1];
        if ((err as { type?: unknown }).type !== 'MacAddressInUse' || !mac || !batch.some((body) => body.mac_address === mac)) throw err;
        ctx.logger.warn({ mac }, 'a shadow port MAC is in use in the region: taking that port as existing');
        batch = batch.filter((body) => body.mac_address !== mac);
      }
    }
  }
  return created;
}

export async function shadowPortSetup(ctx: JobRunContext): Promise<void> {
  const { pod_id: podId, network_id: networkId } = ctx.resource as { pod_id: string; network_id: string };
  if (!(await (await centralApi(ctx)).find('networks', networkId))) return;
  const mapped = await ctx.services.routings.podsOf(networkId, ['network']);
  if (!mapped.includes(podId)) {
    ctx.logger.info({ pod: podId, network: networkId }, 'the network is not in the target region: no shadow ports');
    return;
  }
  const regions: RegionPorts[] = [];
  for (const id of mapped) if (await ctx.services.pods.exists(id)) regions.push(await regionPorts(ctx, await ctx.services.pods.get(id), networkId));
  const target = regions.find((region) => region.pod.pod_id === podId);
  // Its pod unregistered since: nothing left to set up.
  if (!target) return;
  const others = regions.filter((region) => region !== target);
  // A VM port now in the target moved here: the other region's copy is a stale leftover.
  for (const other of others) for (const id of target.real.keys()) other.real.delete(id);

  const remote = new Map<string, Json>();
  for (const other of others) for (const [id, port] of other.real) remote.set(id, port);
  const bodies: Json[] = [];
  for (const [id, port] of remote) {
    // A shadow still bound to the host its VM left is bound again (the region updates an existing shadow).
    if (target.real.has(id) || target.shadows.get(id)?.['binding:host_id'] === port['binding:host_id']) continue;
    const agent = await agentOf(ctx, port['binding:host_id']);
    if (!agent) {
      ctx.logger.warn({ port: id, host: port['binding:host_id'] }, 'no agent is known for the host of a VM port: no shadow port for it yet');
      continue;
    }
    bodies.push(shadowBody(port, agent));
  }
  const created = await createShadows(ctx, target.pod.region_name, bodies);
  for (const port of created) {
    await ctx.services.routings.record({
      topId: String(port.id),
      podId,
      resourceType: 'shadow_port',
      bottomId: String(port.id),
      projectId: String(port.project_id),
    });
  }
  const down = [...target.shadows.values()].filter((port) => port.status === 'DOWN' && remote.has(String(port.id)));
  for (const id of new Set([...created, ...down].map((port) => String(port.id)))) {
    await target.neutron.update('ports', id, { 'binding:profile': { force_up: 'True' } });
  }

  // The shadows of VM ports that are gone from every region (server deleted or unbound) go too.
  for (const id of target.shadows.keys()) {
    if (remote.has(id) || target.real.has(id)) continue;
    await target.neutron.remove('ports', id);
    await ctx.services.routings.remove({ topId: id, podId, resourceTypes: ['shadow_port'] });
  }

  // Regions lacking a VM port of the target that they could shadow (its host's agent is known) are set up in turn.
  const shadowable: string[] = [];
  for (const [id, port] of target.real) if (await agentOf(ctx, port['binding:host_id'])) shadowable.push(id);
  for (const other of others) {
    if (shadowable.some((id) => !other.real.has(id) && !other.shadows.has(id))) {
      await ctx.services.jobs.registerNow({ projectId: ctx.projectId }, 'shadow_port_setup', { pod_id: other.pod.pod_id, network_id: networkId });
    }
  }
}
