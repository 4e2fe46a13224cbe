import type { Logger } from 'pino';
import type { RequestContext } from '../../auth/index.js';
import type { Config } from '../../config/index.js';
import { formatSeconds, insertUnlessTaken, type Db } from '../../db/index.js';
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

/** The call's result, or undefined when what it names is gone already (a 404 from a region or the core): deletes converge. */
export async function unlessGone<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if ((err as { status?: number }).status === 404) return undefined;
    throw err;
  }
}

/** Seconds after which a deleting_resources row is a crashed deleter's and no longer guards its resource. */
const DELETING_EXPIRE = 300;

const deletingRows = (services: CentralServices, resourceType: string, id: string) =>
  services.db.kysely.selectFrom('deleting_resources').selectAll().where('resource_id', '=', id).where('resource_type', '=', resourceType);

const isFresh = (deletedAt: string | null) => deletedAt !== null && Date.now() - Date.parse(`${deletedAt.replace(' ', 'T')}Z`) < DELETING_EXPIRE * 1000;

/** Whether a delete of the resource is under way (reference §3.3 deleting guard): its reads must not recreate region copies. */
export async function isDeleting(services: CentralServices, resourceType: string, id: string): Promise<boolean> {
  const row = await deletingRows(services, resourceType, id).executeTakeFirst();
  return row !== undefined && isFresh(row.deleted_at);
}

/**
 * Runs `work` with the resource marked as being deleted (a deleting_resources row), removing
 * the mark however it ends. A second delete meanwhile gets ResourceIsInDeleting; a crashed
 * deleter's mark expires after DELETING_EXPIRE seconds.
 */
export async function whileDeleting<T>(services: CentralServices, resourceType: string, id: string, work: () => Promise<T>): Promise<T> {
  const kysely = services.db.kysely;
  const mark = () => insertUnlessTaken(kysely, 'deleting_resources', { resource_id: id, resource_type: resourceType, deleted_at: formatSeconds(new Date()) });
  if (!(await mark())) {
    const inDeleting = new ApiError('ResourceIsInDeleting', `The ${resourceType} ${id} is being deleted.`);
    const row = await deletingRows(services, resourceType, id).executeTakeFirst();
    if (row && isFresh(row.deleted_at)) throw inDeleting;
    // Only the stale mark goes: a concurrent taker's fresh one stays and this call then loses.
    let stale = kysely.deleteFrom('deleting_resources').where('resource_id', '=', id).where('resource_type', '=', resourceType);
    if (row) stale = row.deleted_at === null ? stale.where('deleted_at', 'is', null) : stale.where('deleted_at', '=', row.deleted_at);
    await stale.execute();
    if (!(await mark())) throw inDeleting;
  }
  try {
    return await work();
  } finally {
    await kysely.deleteFrom('deleting_resources').where('resource_id', '=', id).where('resource_type', '=', resourceType).execute();
  }
}
