import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import type { Resource, ResourceOperations } from './plugin.js';
import { nowIso, type Executor, type NeutronDb, type TableSpec } from './store.js';

// Tags (standard-attr-tag) of any resource whose table has a tag type: the tags API's
// operations, and loading tags alongside records. A change that alters the tag set bumps
// the resource's revision_number and updated_at, as Neutron does; a no-op changes nothing.

/** Tags of many resources at once: id -> tags in code-point order (the same on every engine). */
export async function loadTags(db: Executor, resourceType: string, ids: string[]): Promise<Map<string, string[]>> {
  const byId = new Map<string, string[]>();
  if (ids.length === 0) return byId;
  const rows = await db.selectFrom('tags').select(['resource_id', 'tag']).where('resource_type', '=', resourceType).where('resource_id', 'in', ids).execute();
  for (const row of rows as Array<{ resource_id: string; tag: string }>) {
    const list = byId.get(row.resource_id) ?? [];
    list.push(row.tag);
    byId.set(row.resource_id, list);
  }
  for (const list of byId.values()) list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return byId;
}

/** GET/PUT/DELETE /v2.0/<collection>/<id>/tags[/<tag>]; tags arrive already validated. */
export interface TagOperations {
  list(ctx: RequestContext, id: string): Promise<string[]>;
  /** Throws TagNotFound when the resource lacks the tag. */
  check(ctx: RequestContext, id: string, tag: string): Promise<void>;
  replace(ctx: RequestContext, id: string, tags: string[]): Promise<void>;
  add(ctx: RequestContext, id: string, tag: string): Promise<void>;
  /** Throws TagNotFound when the resource lacks the tag. */
  remove(ctx: RequestContext, id: string, tag: string): Promise<void>;
  clear(ctx: RequestContext, id: string): Promise<void>;
}

export type Taggable<T extends ResourceOperations = ResourceOperations> = T & { tags: TagOperations };

class Unchanged extends Error {}

const tagNotFound = (tag: string) => new ApiError('TagNotFound', `Tag ${tag} could not be found.`);

class ResourceTags implements TagOperations {
  private readonly type: string;

  constructor(
    private readonly db: NeutronDb,
    private readonly spec: TableSpec,
    private readonly ops: ResourceOperations,
  ) {
    if (!spec.tagType) throw new Error(`table ${spec.table} has no tag type`);
    this.type = spec.tagType;
  }

  /** The resource through its own get, so tags follow its visibility; unseen is TagResourceNotFound. */
  private async resource(ctx: RequestContext, id: string): Promise<Resource> {
    try {
      return await this.ops.get(ctx, id);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        throw new ApiError('TagResourceNotFound', `Resource ${this.type} ${id} could not be found.`);
      }
      throw err;
    }
  }

  /** Changing tags takes the owner or an admin, like changing the resource itself. */
  private async owned(ctx: RequestContext, id: string, rule: string): Promise<void> {
    const record = await this.resource(ctx, id);
    if (!ctx.isAdmin && record.project_id !== ctx.projectId) {
      throw new ApiError('PolicyNotAuthorized', `rule:${rule}_${this.type}_tags is disallowed by policy`);
    }
  }

  private async current(db: Executor, id: string): Promise<string[]> {
    return (await loadTags(db, this.type, [id])).get(id) ?? [];
  }

  /** Applies a change to the tag set in one transaction, bumping the revision if it changed anything. */
  private async change(id: string, next: (tags: string[]) => string[]): Promise<void> {
    try {
      await this.db.transaction().execute(async (tx) => {
        // The bump comes first: it locks the row, so the tags read next are current under concurrent
        // changes, and a resource deleted meanwhile gets no orphan tags. No change rolls it back.
        const bumped = await tx
          .updateTable(this.spec.table)
          .set((eb) => ({ revision_number: eb('revision_number', '+', 1), updated_at: nowIso() }))
          .where('id', '=', id)
          .executeTakeFirst();
        if (Number(bumped.numUpdatedRows) === 0) throw new ApiError('TagResourceNotFound', `Resource ${this.type} ${id} could not be found.`);
        const before = await this.current(tx, id);
        const after = [...new Set(next(before))];
        const removed = before.filter((t) => !after.includes(t));
        const added = after.filter((t) => !before.includes(t));
        if (!removed.length && !added.length) throw new Unchanged();
        if (removed.length) {
          await tx.deleteFrom('tags').where('resource_type', '=', this.type).where('resource_id', '=', id).where('tag', 'in', removed).execute();
        }
        if (added.length) {
          await tx
            .insertInto('tags')
            .values(added.map((tag) => ({ resource_type: this.type, resource_id: id, tag })))
            .execute();
        }
      });
    } catch (err) {
      if (!(err instanceof Unchanged)) throw err;
    }
  }

  async list(ctx: RequestContext, id: string): Promise<string[]> {
    const record = await this.resource(ctx, id);
    return (record.tags as string[] | undefined) ?? this.current(this.db, id);
  }

  async check(ctx: RequestContext, id: string, tag: string): Promise<void> {
    if (!(await this.list(ctx, id)).includes(tag)) throw tagNotFound(tag);
  }

  async replace(ctx: RequestContext, id: string, tags: string[]): Promise<void> {
    await this.owned(ctx, id, 'update');
    await this.change(id, () => tags);
  }

  async add(ctx: RequestContext, id: string, tag: string): Promise<void> {
    await this.owned(ctx, id, 'create');
    await this.change(id, (tags) => [...tags, tag]);
  }

  async remove(ctx: RequestContext, id: string, tag: string): Promise<void> {
    await this.owned(ctx, id, 'delete');
    await this.change(id, (tags) => {
      if (!tags.includes(tag)) throw tagNotFound(tag);
      return tags.filter((t) => t !== tag);
    });
  }

  async clear(ctx: RequestContext, id: string): Promise<void> {
    await this.owned(ctx, id, 'delete');
    await this.change(id, () => []);
  }
}

/** Gives a resource's operations the tags API: `withTags(ops, db, TABLE)` is all a taggable resource needs. */
export function withTags<T extends ResourceOperations>(ops: T, db: NeutronDb, spec: TableSpec): Taggable<T> {
  return Object.assign(ops, { tags: new ResourceTags(db, spec, ops) });
}
