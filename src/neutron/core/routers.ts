import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import type { GatewayInfo } from '../resources/router.js';
import type { CoreDeps } from './deps.js';
import { ROUTER_GATEWAY, badRequest, forbidden, routerNotFound, type DevicePorts } from './l3.js';
import type { ListQuery, Page, Resource, ResourceOperations } from './plugin.js';
import { RouterGateways, checkRoutes, routerAddresses } from './router-gateway.js';
import { RouterInterfaces } from './router-interfaces.js';
import {
  STANDARD_COLUMNS,
  bool,
  fromRow,
  json,
  findVisible,
  listRows,
  loadInOrder,
  nowIso,
  text,
  toRow,
  type Executor,
  type Query,
  type TableSpec,
} from './store.js';
import { loadTags } from './tags.js';
import { writeTransaction } from '../../db/index.js';

// Routers: CRUD with the external gateway, extra routes, dvr/ha flags and AZ hints; the
// interface actions live in router-interfaces.ts.

export const ROUTERS: TableSpec = {
  table: 'routers',
  tagType: 'routers',
  columns: {
    ...STANDARD_COLUMNS,
    admin_state_up: bool('admin_state_up'),
    status: text('status'),
    distributed: bool('distributed'),
    ha: bool('ha'),
    availability_zone_hints: json('availability_zone_hints'),
    routes: json('routes'),
    // Not API attributes: what external_gateway_info is built from.
    gw_port_id: text('gw_port_id'),
    enable_snat: bool('enable_snat'),
  },
};

/** Routers the caller may see: its own (admins see all). */
export const visibleRouters =
  (ctx: RequestContext) =>
  (q: Query): Query =>
    ctx.isAdmin ? q : q.where('routers.project_id', '=', ctx.projectId);

/** Neutron's policy: only admins choose SNAT or the gateway's addresses. */
function checkGatewayPolicy(ctx: RequestContext, info: GatewayInfo | null | undefined, action: 'create' | 'update'): void {
  if (ctx.isAdmin || !info) return;
  for (const key of ['enable_snat', 'external_fixed_ips'] as const) {
    if (info[key] !== undefined) forbiddenGateway(action, key);
  }
}
const forbiddenGateway = (action: string, key: string) => {
  throw forbidden(`${action}_router and rule:${action}_router:external_gateway_info:${key}`);
};

export class RouterOperations implements ResourceOperations {
  private readonly gateways: RouterGateways;
  readonly actions: NonNullable<ResourceOperations['actions']>;

  constructor(
    private readonly deps: CoreDeps,
    ports: DevicePorts,
  ) {
    this.gateways = new RouterGateways(ports);
    const interfaces = new RouterInterfaces(deps.db, ports, (db, ctx, id) => this.find(db, ctx, id));
    this.actions = {
      add_router_interface: (ctx, id, body) => interfaces.add(ctx, id, body),
      remove_router_interface: (ctx, id, body) => interfaces.remove(ctx, id, body),
    };
  }

  /** Adds what is not a column: external_gateway_info (from the gateway port), availability zones and tags. */
  async load(db: Executor, rows: Record<string, unknown>[]): Promise<Resource[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => String(r.id));
    const gwPorts = rows.map((r) => r.gw_port_id).filter((id): id is string => typeof id === 'string');
    const [ports, ips, tags] = await Promise.all([
      gwPorts.length ? db.selectFrom('ports').select(['id', 'network_id']).where('id', 'in', gwPorts).execute() : [],
      gwPorts.length
        ? db
            .selectFrom('ip_allocations')
            .innerJoin('subnets', 'subnets.id', 'ip_allocations.subnet_id')
            .select(['ip_allocations.port_id', 'ip_allocations.subnet_id', 'ip_allocations.ip_address'])
            .where('ip_allocations.port_id', 'in', gwPorts)
            .orderBy('subnets.ip_version')
            .orderBy('subnets.created_at')
            .orderBy('ip_allocations.ip_address')
            .execute()
        : [],
      loadTags(db, 'routers', ids),
    ]);
    return rows.map((row) => {
      const record = fromRow(ROUTERS, row);
      const port = ports.find((p) => p.id === row.gw_port_id);
      record.external_gateway_info = port
        ? {
            network_id: port.network_id,
            external_fixed_ips: ips.filter((ip) => ip.port_id === port.id).map((ip) => ({ subnet_id: ip.subnet_id, ip_address: ip.ip_address })),
            enable_snat: record.enable_snat,
          }
        : null;
      record.availability_zones = this.deps.availabilityZones.networkZones(record);
      record.tags = tags.get(String(row.id)) ?? [];
      return record;
    });
  }

  async list(ctx: RequestContext, query: ListQuery): Promise<Page> {
    const { rows, more } = await listRows(this.deps.db, ROUTERS, query, visibleRouters(ctx));
    return { items: await this.load(this.deps.db, rows), more };
  }

  /** The router as the caller may see it, or RouterNotFound. */
  async find(db: Executor, ctx: RequestContext, id: string): Promise<Resource> {
    return findVisible(db, 'routers', visibleRouters(ctx), id, routerNotFound, (d, rows) => this.load(d, rows));
  }

  get(ctx: RequestContext, id: string): Promise<Resource> {
    return this.find(this.deps.db, ctx, id);
  }

  async create(ctx: RequestContext, items: Resource[]): Promise<Resource[]> {
    for (const item of items) {
      checkGatewayPolicy(ctx, item.external_gateway_info as GatewayInfo | null, 'create');
      await this.deps.availabilityZones.validate(item.availability_zone_hints as string[], 'router');
    }
    return writeTransaction(this.deps.db, async (tx) => {
      const ids: string[] = [];
      for (const item of items) {
        const now = nowIso();
        const { external_gateway_info: gateway, ...attrs } = item;
        const record: Resource = {
          ...attrs,
          id: randomUUID(),
          status: 'ACTIVE',
          distributed: item.distributed ?? false,
          ha: item.ha ?? false,
          routes: [],
          enable_snat: true,
          gw_port_id: null,
          created_at: now,
          updated_at: now,
          revision_number: 1,
        };
        await tx.insertInto('routers').values(toRow(ROUTERS, record)).execute();
        if (gateway) await this.gateways.set(tx, record, gateway as GatewayInfo);
        ids.push(record.id as string);
      }
      await this.deps.quotas.check(
        tx,
        items.map((i) => String(i.project_id)),
        'router',
      );
      return loadInOrder(tx, 'routers', ids, (d, rows) => this.load(d, rows));
    });
  }

  async update(ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
    checkGatewayPolicy(ctx, changes.external_gateway_info as GatewayInfo | null | undefined, 'update');
    return writeTransaction(this.deps.db, async (tx) => {
      const router = await this.locked(tx, ctx, id);
      const stillUp = router.admin_state_up && changes.admin_state_up !== false;
      if ('distributed' in changes && changes.distributed !== router.distributed && stillUp) {
        throw badRequest('router', "Cannot change the 'distributed' attribute of active routers. Please set router admin_state_up to False prior to upgrade");
      }
      if ('ha' in changes && changes.ha !== router.ha && stillUp) {
        throw badRequest('router', 'Cannot change HA attribute of active routers. Please set router admin_state_up to False prior to upgrade');
      }
      const { external_gateway_info: gateway, ...columns } = changes;
      if (gateway !== undefined) await this.gateways.set(tx, router, gateway as GatewayInfo | null);
      if (changes.routes !== undefined) checkRoutes(changes.routes as Array<{ destination: string; nexthop: string }>, await routerAddresses(tx, id));
      await tx
        .updateTable('routers')
        .set({ ...toRow(ROUTERS, columns), updated_at: nowIso(), revision_number: Number(router.revision_number) + 1 })
        .where('id', '=', id)
        .execute();
      return this.find(tx, ctx, id);
    });
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    await writeTransaction(this.deps.db, async (tx) => {
      const router = await this.locked(tx, ctx, id);
      const attached = await tx.selectFrom('router_ports').select('port_id').where('router_id', '=', id).where('port_type', '<>', ROUTER_GATEWAY).execute();
      if (attached.length) {
        throw new ApiError('RouterInUse', `Router ${id} has ports still attached: ${attached.map((p) => p.port_id).join(', ')}`);
      }
      if (router.gw_port_id) await this.gateways.set(tx, router, null);
      await tx.deleteFrom('routers').where('id', '=', id).execute();
      await tx.deleteFrom('tags').where('resource_type', '=', 'routers').where('resource_id', '=', id).execute();
    });
  }

  /** The router, its row locked for the rest of the transaction so concurrent changes to it queue up. */
  async locked(tx: Executor, ctx: RequestContext, id: string): Promise<Resource> {
    await tx
      .updateTable('routers')
      .set((eb) => ({ revision_number: eb.ref('revision_number') }))
      .where('id', '=', id)
      .execute();
    return this.find(tx, ctx, id);
  }
}
