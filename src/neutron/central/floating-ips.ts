import type { RequestContext } from '../../auth/index.js';
import { wrapOperations, type Resource, type ResourceOperations } from '../core/plugin.js';
import { asAdmin, castJob, unlessGone, type CentralServices } from './services.js';

// The central role's floating IPs (reference §3.7): the bottom floating IP is router_setup's
// work in the region of the associated port. An association whose port is not bound in any
// region yet waits for the binding report, which casts router_setup itself.

/** The association of a floating IP, or null. */
type Association = { portId: string; routerId: string; fixedIp: unknown };

const associationOf = (fip: Resource): Association | null =>
  fip.port_id && fip.router_id ? { portId: String(fip.port_id), routerId: String(fip.router_id), fixedIp: fip.fixed_ip_address } : null;

const sameAssociation = (a: Association | null, b: Association | null) => a?.portId === b?.portId && a?.routerId === b?.routerId && a?.fixedIp === b?.fixedIp;

/** router_setup in the region of the port (its first), for the router and the port's network; nothing while the port is unbound. */
async function castForPort(services: CentralServices, ctx: RequestContext, association: Association): Promise<void> {
  const [podId] = await services.routings.podsOf(association.portId, ['port']);
  if (podId === undefined) return;
  const port = await unlessGone(services.core.ports!.get(asAdmin(ctx), association.portId));
  if (!port) return;
  await castJob(services, ctx, 'router_setup', { pod_id: podId, router_id: association.routerId, network_id: String(port.network_id) });
}

export function centralFloatingIps(services: CentralServices): ResourceOperations {
  const core = services.core.floatingips!;
  return wrapOperations(core, {
    async create(ctx, items) {
      const created = await core.create(ctx, items);
      try {
        for (const fip of created) {
          const association = associationOf(fip);
          if (association) await castForPort(services, ctx, association);
        }
      } catch (err) {
        for (const fip of created) await core.delete(asAdmin(ctx), String(fip.id));
        throw err;
      }
      return created;
    },

    async update(ctx, id, changes) {
      const before = await core.get(ctx, id);
      const after = await core.update(ctx, id, changes);
      const [old, now] = [associationOf(before), associationOf(after)];
      if (sameAssociation(old, now)) return after;
      try {
        // The old router and port's region first: its job deletes the bottom floating IP there.
        if (old) await castForPort(services, ctx, old);
        if (now) await castForPort(services, ctx, now);
      } catch (err) {
        await core.update(asAdmin(ctx), id, { port_id: before.port_id ?? null, ...(before.port_id ? { fixed_ip_address: before.fixed_ip_address } : {}) });
        throw err;
      }
      return after;
    },

    async delete(ctx, id) {
      const old = associationOf(await core.get(ctx, id));
      await core.delete(ctx, id);
      if (old) await castForPort(services, ctx, old);
    },
  });
}
