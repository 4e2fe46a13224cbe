import type { Executor } from './store.js';

/** Tags of many resources at once: id -> sorted tags. */
export async function loadTags(db: Executor, resourceType: string, ids: string[]): Promise<Map<string, string[]>> {
  const rows = await db
    .selectFrom('tags')
    .select(['resource_id', 'tag'])
    .where('resource_type', '=', resourceType)
    .where('resource_id', 'in', ids)
    .orderBy('tag')
    .execute();
  const byId = new Map<string, string[]>();
  for (const row of rows as Array<{ resource_id: string; tag: string }>) {
    const list = byId.get(row.resource_id) ?? [];
    list.push(row.tag);
    byId.set(row.resource_id, list);
  }
  return byId;
}
