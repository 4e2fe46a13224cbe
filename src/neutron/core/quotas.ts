import type { Config } from '../../config/index.js';
import { ApiError } from '../../http/errors.js';
import type { Quotas } from './deps.js';
import { insertOrConflict, type Executor } from './store.js';

interface QuotaRow {
  project_id?: string;
  resource: string;
  limit: number | string;
}

/** Quota resource -> the table its count comes from. */
export const QUOTA_TABLES: Record<string, string> = {
  network: 'networks',
  subnet: 'subnets',
  subnetpool: 'subnetpools',
  port: 'ports',
  router: 'routers',
  floatingip: 'floatingips',
  security_group: 'securitygroups',
  security_group_rule: 'securitygrouprules',
};

/** Each resource's default limit, from [QUOTAS] quota_<resource>. */
export function defaultLimits(config: Config): Record<string, number> {
  const q = config.QUOTAS as Record<string, number>;
  return Object.fromEntries(Object.keys(QUOTA_TABLES).map((r) => [r, q[`quota_${r}`]!]));
}

/**
 * Limits live in `quotas` only where a project has its own; everything else is the default.
 * Enforcement counts after the insert, inside the creating transaction, so a create that
 * would pass the limit rolls back whole (a bulk create is all or nothing). -1 means unlimited.
 */
export class DatabaseQuotas implements Quotas {
  constructor(private readonly defaultLimits: Record<string, number>) {}

  defaults(): Record<string, number> {
    return { ...this.defaultLimits };
  }

  async limit(db: Executor, projectId: string, resource: string): Promise<number> {
    const row = await db.selectFrom('quotas').select('limit').where('project_id', '=', projectId).where('resource', '=', resource).executeTakeFirst();
    return row ? Number(row.limit) : (this.defaultLimits[resource] ?? -1);
  }

  async limits(db: Executor, projectId: string): Promise<Record<string, number>> {
    const rows = await db.selectFrom('quotas').select(['resource', 'limit']).where('project_id', '=', projectId).execute();
    return this.merge(rows as QuotaRow[]);
  }

  async overridden(db: Executor): Promise<Array<{ projectId: string; limits: Record<string, number> }>> {
    const rows = (await db.selectFrom('quotas').select(['project_id', 'resource', 'limit']).orderBy('project_id').execute()) as QuotaRow[];
    const projects = [...new Set(rows.map((r) => r.project_id!))];
    return projects.map((projectId) => ({ projectId, limits: this.merge(rows.filter((r) => r.project_id === projectId)) }));
  }

  async set(db: Executor, projectId: string, limits: Record<string, number>): Promise<void> {
    const run = async (tx: Executor) => {
      for (const [resource, limit] of Object.entries(limits)) {
        // Insert, or update the row a concurrent request (or an earlier PUT) made.
        const inserted = await insertOrConflict(tx, () => tx.insertInto('quotas').values({ project_id: projectId, resource, limit }).execute());
        if (!inserted) await tx.updateTable('quotas').set({ limit }).where('project_id', '=', projectId).where('resource', '=', resource).execute();
      }
    };
    await (db.isTransaction ? run(db) : db.transaction().execute(run));
  }

  async reset(db: Executor, projectId: string): Promise<boolean> {
    const result = await db.deleteFrom('quotas').where('project_id', '=', projectId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async usage(db: Executor, projectId: string): Promise<Record<string, number>> {
    const counts = await Promise.all(
      Object.entries(QUOTA_TABLES).map(async ([resource, table]) => [resource, await this.count(db, table, projectId)] as const),
    );
    return Object.fromEntries(counts);
  }

  async check(tx: Executor, projectIds: string[], resource: string): Promise<void> {
    for (const projectId of new Set(projectIds)) await this.checkOne(tx, projectId, resource);
  }

  private merge(rows: QuotaRow[]): Record<string, number> {
    const limits = this.defaults();
    for (const row of rows) if (row.resource in limits) limits[row.resource] = Number(row.limit);
    return limits;
  }

  private async count(db: Executor, table: string, projectId: string): Promise<number> {
    const { n } = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'))
      .where('project_id', '=', projectId)
      .executeTakeFirstOrThrow();
    return Number(n);
  }

  private async checkOne(tx: Executor, projectId: string, resource: string): Promise<void> {
    const limit = await this.limit(tx, projectId, resource);
    if (limit < 0) return;
    if ((await this.count(tx, QUOTA_TABLES[resource]!, projectId)) > limit) throw new ApiError('OverQuota', `Quota exceeded for resources: ['${resource}'].`);
  }
}
