import { cidrContains, parseCidr, type Cidr } from '../../neutron/core/index.js';
import type { JobRunContext, RegionNeutron } from '../handler.js';
import { unlessGone, type Json } from './regions.js';

// seg_rule_setup {project_id} (reference §5.4): every region copy of the project's security
// groups gets central's rules. A rule with a remote group (any group's, not only `default`'s:
// central accepts them) becomes one rule per subnet CIDR of the project of its ethertype,
// bridge subnets excepted, as a region's copy of the group knows only that region's members.

/** What makes two rules the same rule here (upstream's comparison). */
const RULE_FIELDS = ['direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix'] as const;

type Rule = Partial<Record<(typeof RULE_FIELDS)[number], unknown>>;

const ruleOf = (source: Json, remoteIpPrefix?: string): Rule =>
  Object.fromEntries(
    RULE_FIELDS.map((field) => [field, field === 'remote_ip_prefix' && remoteIpPrefix !== undefined ? remoteIpPrefix : (source[field] ?? null)]),
  );

const keyOf = (rule: Json | Rule) => JSON.stringify(RULE_FIELDS.map((field) => rule[field] ?? null));

const versionOf = (ethertype: unknown) => (ethertype === 'IPv6' ? 6 : 4);

/** The project's subnet CIDRs outside the bridge range, by their text. */
async function projectCidrs(ctx: JobRunContext, central: RegionNeutron, projectId: string): Promise<Map<string, Cidr>> {
  const bridge = parseCidr(ctx.services.config.client.bridge_cidr);
  const { subnets } = await central.request<{ subnets: Json[] }>('GET', `/v2.0/subnets?project_id=${encodeURIComponent(projectId)}`, undefined, ctx.signal);
  const cidrs = new Map<string, Cidr>();
  for (const subnet of subnets) {
    const cidr = parseCidr(String(subnet.cidr));
    if (!cidr) continue;
    const onBridge = bridge !== null && cidr.prefixlen >= bridge.prefixlen && cidrContains(bridge, { version: cidr.version, value: cidr.network });
    if (!onBridge) cidrs.set(String(subnet.cidr), cidr);
  }
  return cidrs;
}

/** The rules a group's region copies should have, each once. */
function desiredRules(group: Json, cidrs: Map<string, Cidr>): Rule[] {
  const rules = new Map<string, Rule>();
  for (const rule of group.security_group_rules as Json[]) {
    const expanded = rule.remote_group_id
      ? [...cidrs].filter(([, cidr]) => cidr.version === versionOf(rule.ethertype)).map(([text]) => ruleOf(rule, text))
      : [ruleOf(rule)];
    for (const one of expanded) rules.set(keyOf(one), one);
  }
  return [...rules.values()];
}

const isConflict = (err: unknown) => (err as { status?: unknown } | null)?.status === 409;

/** Makes one region copy's rules the desired ones: extras (and remote-group rules) deleted, missing ones created. */
async function converge(ctx: JobRunContext, neutron: RegionNeutron, groupId: string, projectId: string, desired: Rule[]): Promise<void> {
  const reply = await unlessGone(neutron.request<{ security_group: Json }>('GET', `/v2.0/security-groups/${groupId}`, undefined, ctx.signal));
  if (!reply) return;
  const wanted = new Set(desired.map(keyOf));
  const kept = new Set<string>();
  for (const rule of reply.security_group.security_group_rules as Json[]) {
    const key = keyOf(rule);
    if (!rule.remote_group_id && wanted.has(key) && !kept.has(key)) {
      kept.add(key);
      continue;
    }
    await unlessGone(neutron.request('DELETE', `/v2.0/security-group-rules/${String(rule.id)}`, undefined, ctx.signal));
  }
  const missing = desired
    .filter((rule) => !kept.has(keyOf(rule)))
    .map((rule) => ({
      security_group_id: groupId,
      project_id: projectId,
      ...Object.fromEntries(Object.entries(rule).filter(([, value]) => value !== null)),
    }));
  if (missing.length === 0) return;
  const create = (rules: Json[]) => neutron.request('POST', '/v2.0/security-group-rules', { security_group_rules: rules }, ctx.signal);
  try {
    await create(missing);
  } catch (err) {
    if (!isConflict(err)) throw err;
    // A concurrent run made some of them: the bulk is all or nothing, so one at a time.
    for (const rule of missing) await create([rule]).catch((one: unknown) => (isConflict(one) ? undefined : Promise.reject(one)));
  }
}

export async function segRuleSetup(ctx: JobRunContext): Promise<void> {
  const projectId = ctx.resource.project_id!;
  const central = await ctx.services.central();
  const { security_groups: groups } = await central.request<{ security_groups: Json[] }>(
    'GET',
    `/v2.0/security-groups?project_id=${encodeURIComponent(projectId)}`,
    undefined,
    ctx.signal,
  );
  const cidrs = await projectCidrs(ctx, central, projectId);
  for (const group of groups) {
    const desired = desiredRules(group, cidrs);
    for (const mapping of await ctx.services.routings.mappings(String(group.id), ['security_group'])) {
      if (!(await ctx.services.pods.exists(mapping.pod_id))) continue;
      const pod = await ctx.services.pods.get(mapping.pod_id);
      await converge(ctx, await ctx.clients.neutron(pod.region_name), String(mapping.bottom_id), projectId, desired);
    }
  }
}
