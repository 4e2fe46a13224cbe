import type { JobRunContext } from '../handler.js';
import { regionApi } from './regions.js';

// resource_recycle {project_id} (reference §5.4): the region copies of deleted central SFC
// objects, recorded in recycle_resources, are deleted (chains before the classifiers and
// groups they use, groups before their pairs), then their routing rows and recycle rows.
// Upstream first waited up to 20 s for the project's sfc_sync jobs; this version has no SFC
// API, so nothing races it.

/** Recycled types in deletion order, with their collection under /v2.0/sfc. */
const RECYCLE_ORDER = [
  ['port_chain', 'sfc/port_chains'],
  ['flow_classifier', 'sfc/flow_classifiers'],
  ['port_pair_group', 'sfc/port_pair_groups'],
  ['port_pair', 'sfc/port_pairs'],
] as const;

export async function resourceRecycle(ctx: JobRunContext): Promise<void> {
  const { db, pods, routings } = ctx.services;
  const recycled = await db.kysely.selectFrom('recycle_resources').selectAll().where('project_id', '=', ctx.resource.project_id!).execute();
  for (const [type, collection] of RECYCLE_ORDER) {
    for (const row of recycled.filter((r) => r.resource_type === type)) {
      for (const mapping of await routings.mappings(row.resource_id, [type])) {
        if (await pods.exists(mapping.pod_id)) {
          const region = await regionApi(ctx, (await pods.get(mapping.pod_id)).region_name);
          await region.remove(collection, mapping.bottom_id!);
        }
        await routings.remove({ topId: row.resource_id, podId: mapping.pod_id, resourceTypes: [type] });
      }
      await db.kysely.deleteFrom('recycle_resources').where('resource_id', '=', row.resource_id).execute();
    }
  }
}
