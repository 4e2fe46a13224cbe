import { createHash, randomUUID } from 'node:crypto';
import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { PROTOCOLS, SECURITY_GROUP } from '../resources/security-group.js';
import { parsePrefix } from '../resources/ip-prefix.js';
import type { Resource } from './plugin.js';
import { STANDARD_COLUMNS, bool, fromRow, int, nowIso, text, toRow, type Executor, type Query, type TableSpec } from './store.js';
import { loadTags } from './tags.js';

// The rows behind security groups and rules, shared by both resources' operations: tables,
// who sees what, loading a group with its rules, and inserting rules under their
// fingerprint (the unique key that makes a duplicate rule a conflict on every engine).

export const SECURITY_GROUPS: TableSpec = {
  table: 'securitygroups',
  tagType: 'security_groups',
  columns: { ...STANDARD_COLUMNS, stateful: bool('stateful') },
};

export const SECURITY_GROUP_RULES: TableSpec = {
  table: 'securitygrouprules',
  columns: {
    id: text('id'),
    project_id: text('project_id'),
    security_group_id: text('security_group_id'),
    remote_group_id: text('remote_group_id', ''),
    direction: text('direction'),
    ethertype: text('ethertype'),
    protocol: text('protocol', ''),
    port_range_min: int('port_range_min', -1),
    port_range_max: int('port_range_max', -1),
    remote_ip_prefix: text('remote_ip_prefix', ''),
    normalized_cidr: text('normalized_cidr', ''),
    description: text('description', ''),
    created_at: text('created_at'),
    updated_at: text('updated_at'),
    revision_number: int('revision_number'),
  },
};

export const groupNotFound = (id: string) => new ApiError('SecurityGroupNotFound', SECURITY_GROUP.notFoundMessage(id));

/** Groups the caller may see: its project's (admins see all). */
export const visibleGroups =
  (ctx: RequestContext) =>
  (q: Query): Query =>
    ctx.isAdmin ? q : q.where('securitygroups.project_id', '=', ctx.projectId);

/** Rules the caller may see: its own, and every rule of its groups. */
export const visibleRules =
  (ctx: RequestContext) =>
  (q: Query): Query =>
    ctx.isAdmin
      ? q
      : q.where((eb) =>
          eb.or([
            eb('securitygrouprules.project_id', '=', ctx.projectId),
            eb('securitygrouprules.security_group_id', 'in', eb.selectFrom('securitygroups').select('id').where('project_id', '=', ctx.projectId)),
          ]),
        );

/** The group as the caller may see it, or SecurityGroupNotFound. */
export async function findGroupRow(db: Executor, ctx: RequestContext, id: string): Promise<Record<string, unknown>> {
  const row = await visibleGroups(ctx)(db.selectFrom('securitygroups').selectAll().where('id', '=', id)).executeTakeFirst();
  if (!row) throw groupNotFound(id);
  return row;
}

/** A change to a group's rules is a change to the group, as Neutron counts revisions. */
export async function bumpGroup(tx: Executor, id: string): Promise<void> {
  await tx
    .updateTable('securitygroups')
    .set((eb) => ({ revision_number: eb('revision_number', '+', 1), updated_at: nowIso() }))
    .where('id', '=', id)
    .execute();
}

/**
 * Rules as records, complete as a group's security_group_rules shows them (with tenant_id).
 * Neutron shows rules with tags, though they cannot carry any.
 */
export function ruleRecords(rows: Record<string, unknown>[]): Resource[] {
  return rows.map((row) => {
    const record = fromRow(SECURITY_GROUP_RULES, row);
    return { ...record, tenant_id: record.project_id, tags: [] };
  });
}

/** Groups with their rules (ordered by id, as Neutron lists them) and tags. */
export async function loadGroups(db: Executor, rows: Record<string, unknown>[]): Promise<Resource[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => String(r.id));
  const [ruleRows, tags] = await Promise.all([
    db.selectFrom('securitygrouprules').selectAll().where('security_group_id', 'in', ids).orderBy('id').execute(),
    loadTags(db, 'security_groups', ids),
  ]);
  const rules = ruleRecords(ruleRows);
  return rows.map((row) => ({
    ...fromRow(SECURITY_GROUPS, row),
    security_group_rules: rules.filter((r) => r.security_group_id === row.id),
    tags: tags.get(String(row.id)) ?? [],
  }));
}

// Neutron's _rule_to_key: a protocol compares as its (name, number) pair, so "tcp" and "6"
// are the same rule, and a prefix covering every address is the same as none.
const NUMBER_TO_NAME = new Map([...PROTOCOLS].filter(([name]) => name !== 'icmpv6').map(([name, n]) => [String(n), name]));
const ANY_ADDRESS = new Set(['0.0.0.0/0', '::/0']);

function protocolKey(protocol: string): string {
  const number = PROTOCOLS.get(protocol);
  if (number !== undefined) return `${protocol}/${number}`;
  return `${NUMBER_TO_NAME.get(protocol) ?? protocol}/${protocol}`;
}

export function fingerprint(rule: Resource): string {
  const prefix = rule.remote_ip_prefix as string | null;
  const key = [
    rule.security_group_id,
    rule.direction,
    rule.ethertype,
    rule.protocol === null ? null : protocolKey(String(rule.protocol)),
    rule.port_range_min,
    rule.port_range_max,
    rule.remote_group_id,
    prefix === null || ANY_ADDRESS.has(prefix) ? null : prefix,
  ];
  return createHash('sha256').update(JSON.stringify(key)).digest('hex');
}

export type RuleContent = Pick<Resource, 'direction' | 'ethertype'> & Partial<Resource>;

/** Inserts rules of one group (content already canonical and checked); returns their ids. */
export async function insertRules(tx: Executor, groupId: string, projectId: string, rules: RuleContent[]): Promise<string[]> {
  const now = nowIso();
  const records = rules.map((rule): Record<string, unknown> => {
    const record: Resource = {
      id: randomUUID(),
      project_id: projectId,
      security_group_id: groupId,
      remote_group_id: null,
      protocol: null,
      port_range_min: null,
      port_range_max: null,
      remote_ip_prefix: null,
      description: null,
      ...rule,
      created_at: now,
      updated_at: now,
      revision_number: 0,
    };
    record.normalized_cidr = record.remote_ip_prefix === null ? null : parsePrefix(String(record.remote_ip_prefix))!.network;
    return { ...toRow(SECURITY_GROUP_RULES, record), fingerprint: fingerprint(record) };
  });
  if (records.length) await tx.insertInto('securitygrouprules').values(records).execute();
  return records.map((r) => String(r.id));
}
