import type { Logger } from 'pino';
import type { RequestContext } from '../../auth/index.js';
import type { Config } from '../../config/index.js';
import type { Db } from '../../db/index.js';
import { ApiError } from '../../http/errors.js';
import type { JobRepository, JobType, PodRepository, RoutingMap } from '../../tricircle/index.js';
import type { RegionClients, RegionNeutron } from '../../xjob/index.js';
import type { NeutronPlugin, Resource, ResourceOperations } from '../core/plugin.js';
import type { PodZones } from './zones.js';

/** What the central role's operations work with besides the core's own database. */
export interface CentralServices {
  config: Config;
  /** The Tricircle database; the central Neutron's tables live in it too. */
  db: Db;
  /** The plain core: the central Neutron's own state, without the central role's side effects. */
  core: NeutronPlugin;
  pods: PodRepository;
  zones: PodZones;
  routings: RoutingMap;
  /** Jobs registered here wake the workers (in process, or through the broker). */
  jobs: JobRepository;
  /** The regions' Neutrons, for the few steps upstream does synchronously (external networks, gateways, deletes). */
  regions: RegionClients;
  logger: Logger;
}

/** The caller's context with the admin role: the central role's own reads and writes of resources Tricircle manages. */
export function asAdmin(ctx: RequestContext): RequestContext {
  return ctx.isAdmin ? ctx : { ...ctx, isAdmin: true, roles: [...ctx.roles, 'admin'] };
}

/**
 * A synchronous call to a region's Neutron; its failure becomes BottomPodOperationFailure
 * naming the region (the caller's change is then undone by the caller).
 */
export async function inRegion<T>(services: CentralServices, region: string, call: (neutron: RegionNeutron) => Promise<T>): Promise<T> {
  try {
    return await call(await services.regions.neutron(region));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError('BottomPodOperationFailure', `Operation in region ${region} failed: ${(err as Error).message}`);
  }
}

/** Registers a job now (after the change committed) and wakes the workers. */
export function castJob(services: CentralServices, ctx: RequestContext, type: JobType, resource: Record<string, string>) {
  return services.jobs.registerNow({ projectId: ctx.projectId }, type, resource);
}

/** Every item the filters (attribute -> accepted values) select, as `ctx` may see them. */
export async function listAll(ops: ResourceOperations, ctx: RequestContext, filters: Record<string, unknown[]>): Promise<Resource[]> {
  const page = await ops.list(ctx, {
    filters,
    tags: { all: [], any: [], notAll: [], notAny: [] },
    sorts: [],
    limit: null,
    marker: null,
    pageReverse: false,
  });
  return page.items;
}
