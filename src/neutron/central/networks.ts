import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { NOT_SPECIFIED_POD, regionsOfHints, type Pod } from '../../tricircle/index.js';
import { networkInUse } from '../core/network-ports.js';
import { wrapOperations, type Resource, type ResourceOperations } from '../core/plugin.js';
import { NETWORK } from '../resources/network.js';
import { asAdmin, castJob, inRegion, isDeleting, listAll, whileDeleting, type CentralServices } from './services.js';
import { copyPods, deleteRegionCopy, isReservedPort, removeReservedPorts } from './subnets.js';

// The central role's networks (reference §3.3): external networks are pinned to the region of
// their first hint and copied there at once; updates reach the region copies through
// update_network; deletes remove every copy first. Hints are shown as region names.

const PROVIDER = ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'];
const COPY_TYPES = ['network', 'shadow_network'];

const hintsOf = (network: Resource) => (network.availability_zone_hints as string[] | undefined) ?? [];

/**
 * Networks as callers get them: hints as region names. Upstream converts them for admins only,
 * but a region's Neutron decides whether it may hold a network by finding its region name in
 * the hints as its caller sees them, so a member's network hinted with an AZ name could not be
 * used in that AZ's regions.
 */
async function shown(services: CentralServices, networks: Resource[]): Promise<Resource[]> {
  if (!networks.some((n) => hintsOf(n).length)) return networks;
  const regionPods = await services.zones.regionPods();
  return networks.map((n) => (hintsOf(n).length ? { ...n, availability_zone_hints: regionsOfHints(hintsOf(n), regionPods) } : n));
}

/** The region an external network is pinned to: its first hint's, which must name one region. */
async function externalPod(services: CentralServices, item: Resource): Promise<Pod> {
  const hints = hintsOf(item);
  await services.zones.validate(hints);
  const pod = await services.zones.podOf(hints[0]!);
  if (!pod) throw new ApiError('ExternalNetPodNotSpecify', `External network must name one region in availability_zone_hints; ${hints[0]} stands for several.`);
  return pod;
}

/** Copies a new external network into its region (the local role copies it under the same id) and records the copy. */
async function mirrorExternal(services: CentralServices, network: Resource, pod: Pod): Promise<void> {
  const id = String(network.id);
  await inRegion(services, pod.region_name, async (neutron) => {
    try {
      await neutron.request('GET', `/v2.0/networks/${id}`);
    } catch (err) {
      const e = err as { status?: number; message?: string };
      if (e.status === 409 && /physical network/i.test(String(e.message))) {
        throw new ApiError('FlatNetworkInUse', `Physical network of external network ${id} is in use in region ${pod.region_name}.`);
      }
      throw err;
    }
  });
  await services.routings.record({ topId: id, podId: pod.pod_id, resourceType: 'network', bottomId: id, projectId: String(network.project_id) });
}

/** Deletes a network everywhere: region copies, reserved ports and routing rows, then the central network (and its segments). */
async function deleteNetwork(services: CentralServices, ctx: RequestContext, id: string): Promise<void> {
  const networks = services.core.networks!;
  const network = await networks.get(ctx, id);
  if (!ctx.isAdmin && network.project_id !== ctx.projectId) throw new ApiError('PolicyNotAuthorized', 'rule:delete_network is disallowed by policy');
  const subnetIds = (network.subnets as string[] | undefined) ?? [];
  const ports = await listAll(services.core.ports!, asAdmin(ctx), { network_id: [id] });
  // Checked before any region is touched: only the ports Tricircle reserved may remain.
  const regionPods = await services.zones.regionPods();
  const users = ports.filter((p) => !isReservedPort(p, subnetIds, regionPods));
  if (users.length)
    throw networkInUse(
      id,
      users.map((p) => String(p.id)),
    );
  for (const pod of await copyPods(services, id, COPY_TYPES, ports, subnetIds)) {
    // The region's own ports go with its copy; some (shadow ports of ports central no longer has) have routing rows only there.
    const regionPortIds = await inRegion(services, pod.region_name, async (neutron) => {
      const held = (await neutron.request<{ ports: Resource[] }>('GET', `/v2.0/ports?network_id=${id}`)).ports.map((p) => String(p.id));
      await deleteRegionCopy(neutron, 'networks', id, id);
      return held;
    });
    for (const topId of new Set([id, ...subnetIds, ...ports.map((p) => String(p.id)), ...regionPortIds])) {
      await services.routings.remove({ topId, podId: pod.pod_id });
    }
  }
  for (const topId of [id, ...subnetIds]) await services.routings.remove({ topId });
  await removeReservedPorts(services, ctx, ports, subnetIds);
  await networks.delete(ctx, id);
}

/** The central role's networks: the core's, with the central side effects (reference §3.3). */
export function centralNetworks(services: CentralServices): ResourceOperations {
  const networks = services.core.networks!;
  return wrapOperations(networks, {
    async list(ctx, query) {
      const page = await networks.list(ctx, query);
      return { ...page, items: await shown(services, page.items) };
    },
    async get(ctx, id) {
      // A region reading a network being deleted must not copy it back.
      if (await isDeleting(services, 'network', id)) throw new ApiError('NetworkNotFound', NETWORK.notFoundMessage(id));
      return (await shown(services, [await networks.get(ctx, id)]))[0]!;
    },
    async create(ctx, items) {
      const external = (item: Resource) => item['router:external'] === true;
      const defaultRegion = services.config.tricircle.default_region_for_external_network;
      const prepared = items.map((item) => (external(item) && !hintsOf(item).length ? { ...item, availability_zone_hints: [defaultRegion] } : item));
      // Resolved before anything is written: an external network's region must exist.
      const pods = await Promise.all(prepared.map((item) => (external(item) ? externalPod(services, item) : undefined)));
      const created = await networks.create(ctx, prepared);
      try {
        for (const [i, network] of created.entries()) if (pods[i]) await mirrorExternal(services, network, pods[i]);
      } catch (err) {
        // All or nothing: the networks go again, with whatever copies they got.
        for (const network of created) {
          const id = String(network.id);
          await whileDeleting(services, 'network', id, () => deleteNetwork(services, asAdmin(ctx), id)).catch((undo: unknown) =>
            services.logger.error({ err: undo, network: id }, 'undoing a network create failed'),
          );
        }
        throw err;
      }
      return shown(services, created);
    },
    async update(ctx, id, changes) {
      const current = await networks.get(ctx, id);
      const provider = PROVIDER.find((attr) => attr in changes);
      if (provider) throw new ApiError('InvalidInput', `Invalid input for operation: updating provider attribute ${provider} is not supported.`);
      if ('router:external' in changes && changes['router:external'] !== current['router:external']) {
        throw new ApiError('InvalidInput', 'Invalid input for operation: router:external cannot be changed once the network exists.');
      }
      const updated = await networks.update(ctx, id, changes);
      const ports = await listAll(services.core.ports!, asAdmin(ctx), { network_id: [id], device_owner: ['network:router_interface'] });
      if ((await copyPods(services, id, COPY_TYPES, ports, (updated.subnets as string[] | undefined) ?? [])).length) {
        await castJob(services, { ...ctx, projectId: String(updated.project_id) }, 'update_network', { pod_id: NOT_SPECIFIED_POD, network_id: id });
      }
      return (await shown(services, [updated]))[0]!;
    },
    delete: (ctx, id) => whileDeleting(services, 'network', id, () => deleteNetwork(services, ctx, id)),
  });
}
