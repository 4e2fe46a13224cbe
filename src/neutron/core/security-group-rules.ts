import type { RequestContext } from '../../auth/index.js';
import { isUniqueViolation } from '../../db/index.js';
import { ApiError } from '../../http/errors.js';
import { SECURITY_GROUP_RULE, PROTOCOLS } from '../resources/security-group.js';
import { parsePrefix } from '../resources/ip-prefix.js';
import type { CoreDeps } from './deps.js';
import type { ListQuery, Page, Resource, ResourceOperations } from './plugin.js';
import { SECURITY_GROUP_RULES, bumpGroup, findGroupRow, fingerprint, insertRules, ruleRecords, visibleRules } from './security-group-store.js';
import { ensureDefaultFor } from './security-groups.js';
import { listRows, nowIso, type Executor } from './store.js';

// Security group rules: Neutron's canonical forms and checks (in its order, since the
// first failing check names the error), then an insert whose fingerprint key turns a
// duplicate, even a concurrent one, into SecurityGroupRuleExists.

const PORT_PROTOCOLS = new Set([33, 132, 6, 17, 136]); // dccp, sctp, tcp, udp, udplite
const ICMP_PROTOCOLS = new Set([1, 58]);
const IPV6_ONLY = new Set(['ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', '41', '44', '58', '59', '60', '43']);
const FIELDS = ['direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_group_id', 'remote_ip_prefix', 'description'];

const invalid = (type: ConstructorParameters<typeof ApiError>[0], message: string) => new ApiError(type, message);
const protocolNumber = (protocol: string) => PROTOCOLS.get(protocol) ?? Number(protocol);

/** Legacy IPv6 ICMP spellings become ipv6-icmp (58); a range of every port becomes no range. */
function canonical(rule: Resource): void {
  if (rule.ethertype === 'IPv6') {
    if (rule.protocol === 'icmp' || rule.protocol === 'icmpv6') rule.protocol = 'ipv6-icmp';
    else if (rule.protocol === '1') rule.protocol = '58';
  }
  if (rule.port_range_min === 1 && rule.port_range_max === 65535) rule.port_range_min = rule.port_range_max = null;
}

function checkPorts(rule: Resource): void {
  const [min, max] = [rule.port_range_min as number | null, rule.port_range_max as number | null];
  if (min === null && max === null) return;
  if (rule.protocol === null) throw invalid('SecurityGroupProtocolRequiredWithPorts', 'Must also specify protocol if port range is given.');
  const number = protocolNumber(String(rule.protocol));
  if (PORT_PROTOCOLS.has(number)) {
    if (min === 0 || max === 0) throw invalid('SecurityGroupInvalidPortValue', 'Invalid value for port 0');
    if (min === null || max === null || min > max) {
      throw invalid('SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max');
    }
  } else if (ICMP_PROTOCOLS.has(number)) {
    for (const [attr, field, value] of [['port_range_min', 'type', min] as const, ['port_range_max', 'code', max] as const]) {
      if (value !== null && value > 255) {
        throw invalid('SecurityGroupInvalidIcmpValue', `Invalid value for ICMP ${field} (${attr}) ${value}. It must be 0 to 255.`);
      }
    }
    if (min === null) throw invalid('SecurityGroupMissingIcmpType', `ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`);
  } else {
    throw invalid(
      'SecurityGroupInvalidProtocolForPort',
      `Ports cannot be specified for protocol ${number}. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.`,
    );
  }
}

/** Everything about a rule that needs no database, in Neutron's order. */
export function checkRule(rule: Resource): void {
  canonical(rule);
  checkPorts(rule);
  const prefix = rule.remote_ip_prefix === null ? null : parsePrefix(String(rule.remote_ip_prefix));
  if (prefix && rule.ethertype !== `IPv${prefix.version}`) {
    throw invalid('SecurityGroupRuleParameterConflict', `Conflicting value ethertype ${rule.ethertype} for CIDR ${rule.remote_ip_prefix}`);
  }
  if (rule.ethertype === 'IPv4' && IPV6_ONLY.has(String(rule.protocol))) {
    throw invalid('SecurityGroupEthertypeConflictWithProtocol', `Invalid ethertype ${rule.ethertype} for protocol ${rule.protocol}.`);
  }
  if (rule.remote_ip_prefix !== null && rule.remote_group_id !== null) {
    throw invalid('SecurityGroupMultipleRemoteEntites', 'Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.');
  }
}

/** A bulk create takes rules of one group and one project. */
function checkBulk(items: Resource[]): void {
  if (new Set(items.map((i) => i.security_group_id)).size > 1) {
    throw invalid('SecurityGroupNotSingleGroupRules', 'Only allowed to update rules for one security profile at a time');
  }
  if (new Set(items.map((i) => i.project_id)).size > 1) {
    throw invalid('SecurityGroupRulesNotSingleTenant', 'Multiple tenant_ids in bulk security group rule create not allowed');
  }
}

const ruleExists = (id: unknown) => new ApiError('SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${String(id)}.`);

export class SecurityGroupRuleOperations implements ResourceOperations {
  constructor(private readonly deps: CoreDeps) {}

  async list(ctx: RequestContext, query: ListQuery): Promise<Page> {
    await ensureDefaultFor(this.deps.db, ctx, query.filters.project_id?.[0] as string | undefined);
    const { rows, more } = await listRows(this.deps.db, SECURITY_GROUP_RULES, query, visibleRules(ctx));
    return { items: ruleRecords(rows), more };
  }

  /** The rule as the caller may see it: an unknown id is SecurityGroupRuleNotFound, another's is a plain 404. */
  private async find(db: Executor, ctx: RequestContext, id: string): Promise<Resource> {
    const row = await visibleRules(ctx)(db.selectFrom('securitygrouprules').selectAll().where('id', '=', id)).executeTakeFirst();
    if (row) return ruleRecords([row])[0]!;
    const exists = await db.selectFrom('securitygrouprules').select('id').where('id', '=', id).executeTakeFirst();
    if (exists) throw new ApiError('ResourceNotFound', 'The resource could not be found.');
    throw new ApiError(SECURITY_GROUP_RULE.notFound as 'SecurityGroupRuleNotFound', SECURITY_GROUP_RULE.notFoundMessage(id));
  }

  get(ctx: RequestContext, id: string): Promise<Resource> {
    return this.find(this.deps.db, ctx, id);
  }

  async create(ctx: RequestContext, items: Resource[]): Promise<Resource[]> {
    checkBulk(items);
    for (const item of items) checkRule(item);
    const prints = items.map(fingerprint);
    try {
      return await this.deps.db.transaction().execute(async (tx) => {
        for (const item of items) {
          if (item.remote_group_id !== null) await findGroupRow(tx, ctx, String(item.remote_group_id));
          await findGroupRow(tx, ctx, String(item.security_group_id));
        }
        if (new Set(prints).size < prints.length) throw new ApiError('DuplicateSecurityGroupRuleInPost', 'Duplicate Security Group Rule in POST.');
        const existing = await tx.selectFrom('securitygrouprules').select('id').where('fingerprint', 'in', prints).executeTakeFirst();
        if (existing) throw ruleExists(existing.id);
        const groupId = String(items[0]!.security_group_id);
        const ids: string[] = [];
        for (const item of items) {
          const content = Object.fromEntries(FIELDS.map((f) => [f, item[f]])) as Resource & { direction: string; ethertype: string };
          ids.push(...(await insertRules(tx, groupId, String(item.project_id), [content])));
        }
        await bumpGroup(tx, groupId);
        await this.deps.quotas.check(tx, [String(items[0]!.project_id)], 'security_group_rule');
        const rows = await tx.selectFrom('securitygrouprules').selectAll().where('id', 'in', ids).execute();
        const loaded = ruleRecords(rows);
        return ids.map((id) => loaded.find((r) => r.id === id)!);
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // A concurrent create of the same rule won; its row is committed now.
      const winner = await this.deps.db.selectFrom('securitygrouprules').select('id').where('fingerprint', 'in', prints).executeTakeFirst();
      throw ruleExists(winner?.id);
    }
  }

  /** Only the description changes (Neutron's own server answers 500 here). */
  async update(ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
    return this.deps.db.transaction().execute(async (tx) => {
      const current = await this.find(tx, ctx, id);
      await tx
        .updateTable('securitygrouprules')
        .set({ description: changes.description as string, updated_at: nowIso(), revision_number: Number(current.revision_number) + 1 })
        .where('id', '=', id)
        .execute();
      return this.find(tx, ctx, id);
    });
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    await this.deps.db.transaction().execute(async (tx) => {
      const rule = await this.find(tx, ctx, id);
      await tx.deleteFrom('securitygrouprules').where('id', '=', id).execute();
      await bumpGroup(tx, String(rule.security_group_id));
    });
  }
}
