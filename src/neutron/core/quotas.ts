import type { Config } from '../../config/index.js';
import { ApiError } from '../../http/errors.js';
import type { Quotas } from './deps.js';
import type { Executor } from './store.js';

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
 * Counts after the insert, inside the creating transaction, so a create that would pass
 * the limit rolls back whole (a bulk create is all or nothing). -1 means unlimited.
 */
export class DatabaseQuotas implements Quotas {
  constructor(private readonly defaults: Record<string, number>) {}

  async limit(db: Executor, projectId: string, resource: string): Promise<number> {
    const row = await db.selectFrom('quotas').select('limit').where('project_id', '=', projectId).where('resource', '=', resource).executeTakeFirst();
    return row ? Number(row.limit) : (this.defaults[resource] ?? -1);
  }

  async check(tx: Executor, projectIds: string[], resource: string): Promise<void> {
    for (const projectId of new Set(projectIds)) await this.checkOne(tx, projectId, resource);
  }

  private async checkOne(tx: Executor, projectId: string, resource: string): Promise<void> {
    const limit = await this.limit(tx, projectId, resource);
    if (limit < 0) return;
    const { n } = await tx
      .selectFrom(QUOTA_TABLES[resource]!)
      .select((eb) => eb.fn.countAll().as('n'))
      .where('project_id', '=', projectId)
      .executeTakeFirstOrThrow();
    if (Number(n) > limit) throw new ApiError('OverQuota', `Quota exceeded for resources: ['${resource}'].`);
  }
}
