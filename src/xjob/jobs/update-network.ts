import { NOT_SPECIFIED_POD, interfacePortName, type JobType } from '../../tricircle/index.js';
import type { JobRunContext } from '../handler.js';
import { ROUTER_INTERFACE, centralApi, regionApi, type NeutronApi } from './regions.js';

// update_network {pod_id, network_id} (reference §5.4): a region's copy of a network takes the
// central description, admin_state_up and shared (never the name). With NOT_SPECIFIED_POD it
// registers one job per region holding a copy instead.

/**
 * The pods holding copies of a central network or subnet: its routing rows of `types`, and the
 * regions that made a gateway port interface_<region>_<subnet> for one of `subnetIds` (a region
 * copies a subnet when it is first read there, before any binding gives it a routing row).
 */
export async function copyPodIds(ctx: JobRunContext, topId: string, types: string[], networkId: string, subnetIds: string[]): Promise<string[]> {
  const mapped = new Set(await ctx.services.routings.podsOf(topId, types));
  const ports = await (await centralApi(ctx)).list('ports', { network_id: networkId, device_owner: ROUTER_INTERFACE });
  const names = new Set(ports.map((p) => String(p.name)));
  return (await ctx.services.pods.regionPods())
    .filter((pod) => mapped.has(pod.pod_id) || subnetIds.some((subnet) => names.has(interfacePortName(pod.region_name, subnet))))
    .map((pod) => pod.pod_id);
}

/** Fans a NOT_SPECIFIED_POD job out: one job per pod in `podIds`. */
export async function fanOut(ctx: JobRunContext, type: JobType, podIds: string[], resource: Record<string, string>): Promise<void> {
  for (const podId of podIds) await ctx.services.jobs.registerNow({ projectId: ctx.projectId }, type, { ...resource, pod_id: podId });
}

/** The Neutron of a pod's region, and the region's name. */
export async function podRegion(ctx: JobRunContext, podId: string): Promise<{ name: string; neutron: NeutronApi }> {
  const { region_name: name } = await ctx.services.pods.get(podId);
  return { name, neutron: await regionApi(ctx, name) };
}

export async function updateNetwork(ctx: JobRunContext): Promise<void> {
  const { pod_id: podId, network_id: networkId } = ctx.resource as { pod_id: string; network_id: string };
  const network = await (await centralApi(ctx)).find('networks', networkId);
  if (!network) return;
  if (podId === NOT_SPECIFIED_POD) {
    const pods = await copyPodIds(ctx, networkId, ['network', 'shadow_network'], networkId, (network.subnets as string[] | undefined) ?? []);
    return fanOut(ctx, 'update_network', pods, { network_id: networkId });
  }
  const region = await podRegion(ctx, podId);
  // A PUT never copies from central: a region without the copy answers 404, and has nothing to converge.
  try {
    await region.neutron.update('networks', networkId, { description: network.description, admin_state_up: network.admin_state_up, shared: network.shared });
  } catch (err) {
    if ((err as { status?: unknown }).status !== 404) throw err;
    ctx.logger.info({ region: region.name, network: networkId }, 'the region holds no copy of the network: nothing to update');
  }
}
