import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { wrapOperations, type ResourceOperations } from '../core/plugin.js';
import { asAdmin, castJob, inRegion, isDeleting, listAll, unlessGone, whileDeleting, type CentralServices } from './services.js';

// The central role's security groups (reference §3.8). Groups reach a region when a port
// there uses them (the local role copies them by id); their rules follow through
// seg_rule_setup. Rules with a remote group are accepted, unlike upstream's
// RemoteGroupNotSupported: seg_rule_setup gives the regions one rule per subnet CIDR of the
// project instead, for every group as for `default`.

const GROUP = 'security_group';

/** Rule changes of a group converge in the regions through its project's seg_rule_setup. */
async function syncRules(services: CentralServices, ctx: RequestContext, groupIds: Iterable<string>): Promise<void> {
  const projects = new Set<string>();
  for (const id of new Set(groupIds)) projects.add(String((await services.core.security_groups!.get(asAdmin(ctx), id)).project_id));
  for (const project of projects) await castJob(services, { ...ctx, projectId: project }, 'seg_rule_setup', { project_id: project });
}

/** What the core would refuse, checked before any region copy goes: a group in use, or a member's default group. */
async function checkDeletable(services: CentralServices, ctx: RequestContext, id: string, name: unknown): Promise<void> {
  const users = await listAll(services.core.ports!, asAdmin(ctx), { security_groups: [id] });
  if (users.length) throw new ApiError('SecurityGroupInUse', `Security Group ${id} in use.`);
  if (name === 'default' && !ctx.isAdmin) throw new ApiError('SecurityGroupCannotRemoveDefault', 'Insufficient rights for removing default security group.');
}

/** Deletes every region copy (one in use there stops the delete), then the group. */
async function deleteGroup(services: CentralServices, ctx: RequestContext, id: string): Promise<void> {
  const groups = services.core.security_groups!;
  const group = await groups.get(ctx, id);
  await whileDeleting(services, GROUP, id, async () => {
    await checkDeletable(services, ctx, id, group.name);
    for (const mapping of await services.routings.mappings(id, [GROUP])) {
      const { region_name: region } = await services.pods.get(mapping.pod_id);
      await inRegion(services, region, async (neutron) => {
        try {
          await unlessGone(neutron.request('DELETE', `/v2.0/security-groups/${String(mapping.bottom_id)}`));
        } catch (err) {
          if ((err as { status?: number }).status === 409) throw new ApiError('SecurityGroupInUse', `Security Group ${id} in use in ${region}.`);
          throw err;
        }
      });
      await services.routings.remove({ topId: id, podId: mapping.pod_id, resourceTypes: [GROUP] });
    }
    await groups.delete(ctx, id);
  });
}

/** The central role's security_groups: a group being deleted is not read (nor copied into a region again). */
export function centralSecurityGroups(services: CentralServices): ResourceOperations {
  const groups = services.core.security_groups!;
  return wrapOperations(groups, {
    get: async (ctx, id) => {
      if (await isDeleting(services, GROUP, id)) throw new ApiError('ResourceIsInDeleting', `The security group ${id} is being deleted.`);
      return groups.get(ctx, id);
    },
    delete: (ctx, id) => deleteGroup(services, ctx, id),
  });
}

/** The central role's security group rules: rule changes converge in the regions through seg_rule_setup. */
export function centralSecurityGroupRules(services: CentralServices): ResourceOperations {
  const rules = services.core.security_group_rules!;
  return wrapOperations(rules, {
    create: async (ctx, items) => {
      const created = await rules.create(ctx, items);
      await syncRules(
        services,
        ctx,
        created.map((rule) => String(rule.security_group_id)),
      );
      return created;
    },
    delete: async (ctx, id) => {
      const rule = await rules.get(ctx, id);
      await rules.delete(ctx, id);
      await syncRules(services, ctx, [String(rule.security_group_id)]);
    },
  });
}
