import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { RequestContext } from '../../auth/index.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/index.js';
import { ApiError } from '../../http/errors.js';
import type { CoreDeps } from './deps.js';
import type { ListQuery, Page, Resource, ResourceOperations } from './plugin.js';
import { SECURITY_GROUPS, findGroupRow, insertRules, loadGroups, visibleGroups, type RuleContent } from './security-group-store.js';
import { insertOrConflict, listRows, loadInOrder, nowIso, toRow, type Executor } from './store.js';

// Security groups, and each project's "default" group, which Neutron creates on the
// project's first use (listing groups or rules, creating a group, network or port) with
// rules that let its members talk to each other and anything out.

const ETHERTYPES = ['IPv4', 'IPv6'] as const;
const EGRESS: RuleContent[] = ETHERTYPES.map((ethertype) => ({ direction: 'egress', ethertype }));

async function defaultGroupId(db: Executor, projectId: string, locking = false): Promise<string | undefined> {
  let query = db.selectFrom('default_security_groups').select('security_group_id').where('project_id', '=', projectId);
  // Shared, as the lost insert already holds a shared lock on that row (an exclusive one
  // would deadlock with other losers). MariaDB's syntax: only that engine gets here.
  if (locking) query = query.modifyEnd(sql`lock in share mode`);
  const row = await query.executeTakeFirst();
  return row ? String(row.security_group_id) : undefined;
}

async function insertGroup(tx: Executor, record: Resource, rules: (id: string) => RuleContent[]): Promise<string> {
  // An id in the record comes only from a plugin (the API refuses `id` in POST bodies).
  const id = (record.id as string | undefined) ?? randomUUID();
  const now = nowIso();
  await tx
    .insertInto('securitygroups')
    .values(toRow(SECURITY_GROUPS, { ...record, id, created_at: now, updated_at: now, revision_number: 1 }))
    .execute();
  await insertRules(tx, id, String(record.project_id), rules(id));
  return id;
}

async function createDefault(tx: Executor, projectId: string): Promise<string> {
  const record = { project_id: projectId, name: 'default', description: 'Default security group', stateful: true };
  // Ingress from the group itself and egress anywhere, for each ethertype.
  const id = await insertGroup(tx, record, (self) => [
    ...ETHERTYPES.map((ethertype) => ({ direction: 'ingress', ethertype, remote_group_id: self })),
    ...EGRESS,
  ]);
  await tx.insertInto('default_security_groups').values({ project_id: projectId, security_group_id: id }).execute();
  return id;
}

/**
 * The project's default security group, created with its rules if it has none yet. Safe
 * under concurrency: the default_security_groups key lets one creation win and the others
 * roll theirs back and read the winner's. Given the base database it commits on its own,
 * as Neutron does; inside a transaction it works under a savepoint.
 */
export async function ensureDefaultSecurityGroup(db: Executor, projectId: string): Promise<string> {
  const existing = await defaultGroupId(db, projectId);
  if (existing) return existing;
  let created: string | undefined;
  if (db.isTransaction) {
    await insertOrConflict(db, async () => (created = await createDefault(db, projectId)));
  } else {
    try {
      created = await db.transaction().execute((tx) => createDefault(tx, projectId));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }
  // Lost the race: the winner has committed. A transaction's snapshot may predate that
  // (MariaDB's repeatable read); a locking read sees past it.
  const id = created ?? (await defaultGroupId(db, projectId)) ?? (await defaultGroupId(db, projectId, true));
  if (!id) throw new Error(`default security group of project ${projectId} vanished while being created`);
  return id;
}

/** Neutron ensures the default group only for the caller's own project, unless an admin asks. */
export async function ensureDefaultFor(db: Executor, ctx: RequestContext, projectId: string | undefined): Promise<void> {
  const project = projectId ?? ctx.projectId;
  if (project && (project === ctx.projectId || ctx.isAdmin)) await ensureDefaultSecurityGroup(db, project);
}

export class SecurityGroupOperations implements ResourceOperations {
  constructor(private readonly deps: CoreDeps) {}

  async list(ctx: RequestContext, query: ListQuery): Promise<Page> {
    await ensureDefaultFor(this.deps.db, ctx, query.filters.project_id?.[0] as string | undefined);
    const { rows, more } = await listRows(this.deps.db, SECURITY_GROUPS, query, visibleGroups(ctx));
    return { items: await loadGroups(this.deps.db, rows), more };
  }

  async find(db: Executor, ctx: RequestContext, id: string): Promise<Resource> {
    return (await loadGroups(db, [await findGroupRow(db, ctx, id)]))[0]!;
  }

  get(ctx: RequestContext, id: string): Promise<Resource> {
    return this.find(this.deps.db, ctx, id);
  }

  async create(ctx: RequestContext, items: Resource[]): Promise<Resource[]> {
    const projects = [...new Set(items.map((i) => String(i.project_id)))];
    for (const project of projects) await ensureDefaultSecurityGroup(this.deps.db, project);
    return this.deps.db.transaction().execute(async (tx) => {
      const ids: string[] = [];
      for (const item of items) ids.push(await insertGroup(tx, item, () => EGRESS));
      await this.deps.quotas.check(tx, projects, 'security_group');
      // A group's egress rules count against the rule quota too, as in Neutron.
      await this.deps.quotas.check(tx, projects, 'security_group_rule');
      return loadInOrder(tx, 'securitygroups', ids, loadGroups);
    });
  }

  private async inUse(db: Executor, id: string): Promise<boolean> {
    return (await db.selectFrom('port_security_groups').select('port_id').where('security_group_id', '=', id).limit(1).execute()).length > 0;
  }

  private async isDefault(db: Executor, id: string): Promise<boolean> {
    return (await db.selectFrom('default_security_groups').select('project_id').where('security_group_id', '=', id).executeTakeFirst()) !== undefined;
  }

  async update(ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
    return this.deps.db.transaction().execute(async (tx) => {
      const current = await findGroupRow(tx, ctx, id);
      if ('stateful' in changes && Boolean(changes.stateful) !== (Number(current.stateful) === 1) && (await this.inUse(tx, id))) {
        throw new ApiError('SecurityGroupInUse', `Security Group ${id} in use.`);
      }
      if ('name' in changes && (await this.isDefault(tx, id))) {
        throw new ApiError('SecurityGroupCannotUpdateDefault', 'Updating default security group not allowed.');
      }
      await tx
        .updateTable('securitygroups')
        .set({ ...toRow(SECURITY_GROUPS, changes), updated_at: nowIso(), revision_number: Number(current.revision_number) + 1 })
        .where('id', '=', id)
        .execute();
      return this.find(tx, ctx, id);
    });
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    await this.deps.db.transaction().execute(async (tx) => {
      await findGroupRow(tx, ctx, id);
      if (await this.inUse(tx, id)) throw new ApiError('SecurityGroupInUse', `Security Group ${id} in use.`);
      // Admins may remove a default group (the project gets a new one on its next use).
      if (!ctx.isAdmin && (await this.isDefault(tx, id))) {
        throw new ApiError('SecurityGroupCannotRemoveDefault', 'Insufficient rights for removing default security group.');
      }
      // Rules referring to the group go with it, as Neutron's foreign key cascades.
      await tx
        .deleteFrom('securitygrouprules')
        .where((eb) => eb.or([eb('security_group_id', '=', id), eb('remote_group_id', '=', id)]))
        .execute();
      await tx.deleteFrom('default_security_groups').where('security_group_id', '=', id).execute();
      try {
        await tx.deleteFrom('securitygroups').where('id', '=', id).execute();
      } catch (err) {
        // A port took the group between the check and the delete.
        if (isForeignKeyViolation(err)) throw new ApiError('SecurityGroupInUse', `Security Group ${id} in use.`);
        throw err;
      }
      // The row before its tags, as a tag change locks the row first too.
      await tx.deleteFrom('tags').where('resource_type', '=', 'security_groups').where('resource_id', '=', id).execute();
    });
  }
}
