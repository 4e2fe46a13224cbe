import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../auth/index.js';
import { isForeignKeyViolation } from '../../db/index.js';
import { ApiError } from '../../http/errors.js';
import { NETWORK } from '../resources/network.js';
import type { CoreDeps } from './deps.js';
import { clearNetwork, networkInUse } from './network-ports.js';
import type { ListQuery, Page, Resource, ResourceOperations } from './plugin.js';
import { ensureDefaultSecurityGroup } from './security-groups.js';
import type { NetworkType, Segment } from './segments.js';
import {
  STANDARD_COLUMNS,
  bool,
  fromRow,
  int,
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

export const NETWORKS: TableSpec = {
  table: 'networks',
  tagType: 'networks',
  columns: {
    ...STANDARD_COLUMNS,
    admin_state_up: bool('admin_state_up'),
    status: text('status'),
    shared: bool('shared'),
    mtu: int('mtu', -1),
    port_security_enabled: bool('port_security_enabled'),
    'router:external': bool('router_external'),
    availability_zone_hints: json('availability_zone_hints'),
  },
};

const PROVIDER = ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'] as const;

export const networkNotFound = (id: string) => new ApiError('NetworkNotFound', NETWORK.notFoundMessage(id));

/** Networks the caller may see: its own, shared ones and external ones (admins see all). */
export const visibleNetworks =
  (ctx: RequestContext) =>
  (q: Query): Query =>
    ctx.isAdmin
      ? q
      : q.where((eb) => eb.or([eb('networks.project_id', '=', ctx.projectId), eb('networks.shared', '=', 1), eb('networks.router_external', '=', 1)]));

export class NetworkOperations implements ResourceOperations {
  constructor(private readonly deps: CoreDeps) {}

  /** Adds what is not a column: segments (provider attributes), subnets, AZs and tags. */
  async load(db: Executor, rows: Record<string, unknown>[]): Promise<Resource[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => String(r.id));
    const [segments, subnets, tags] = await Promise.all([
      db.selectFrom('network_segments').selectAll().where('network_id', 'in', ids).where('segment_index', '=', 0).execute(),
      db.selectFrom('subnets').select(['id', 'network_id']).where('network_id', 'in', ids).orderBy('created_at').orderBy('id').execute(),
      loadTags(db, 'networks', ids),
    ]);
    const segmentOf = new Map(segments.map((s) => [String(s.network_id), s]));
    return rows.map((row) => {
      const record = fromRow(NETWORKS, row);
      const segment = segmentOf.get(String(row.id));
      record['provider:network_type'] = segment?.network_type ?? null;
      record['provider:physical_network'] = segment?.physical_network ?? null;
      record['provider:segmentation_id'] = segment?.segmentation_id === null || segment === undefined ? null : Number(segment.segmentation_id);
      record.subnets = subnets.filter((s) => s.network_id === row.id).map((s) => s.id);
      record.availability_zones = this.deps.availabilityZones.networkZones(record);
      record.tags = tags.get(String(row.id)) ?? [];
      return record;
    });
  }

  async list(ctx: RequestContext, query: ListQuery): Promise<Page> {
    const db = this.deps.db;
    const provider = PROVIDER.filter((attr) => query.filters[attr]);
    const { rows, more } = await listRows(db, NETWORKS, query, (q) => {
      let scoped = visibleNetworks(ctx)(q);
      // Provider attributes live on the network's first segment.
      for (const attr of provider) {
        const column = attr.slice('provider:'.length);
        const values = query.filters[attr]!.filter((v) => v !== null) as string[];
        const segments = db.selectFrom('network_segments').select('network_id').where('segment_index', '=', 0);
        scoped = scoped.where('networks.id', 'in', values.length ? segments.where(column, 'in', values) : segments.where(column, 'is', null));
      }
      return scoped;
    });
    return { items: await this.load(db, rows), more };
  }

  /** The network as the caller may see it, or NetworkNotFound. */
  async find(db: Executor, ctx: RequestContext, id: string): Promise<Resource> {
    return findVisible(db, 'networks', visibleNetworks(ctx), id, networkNotFound, (d, rows) => this.load(d, rows));
  }

  get(ctx: RequestContext, id: string): Promise<Resource> {
    return this.find(this.deps.db, ctx, id);
  }

  async create(ctx: RequestContext, items: Resource[]): Promise<Resource[]> {
    for (const item of items) await this.deps.availabilityZones.validate(item.availability_zone_hints as string[], 'network');
    // Neutron creates the project's default security group when it creates a network.
    for (const project of new Set(items.map((i) => String(i.project_id)))) await ensureDefaultSecurityGroup(this.deps.db, project);
    return this.deps.db.transaction().execute(async (tx) => {
      const ids: string[] = [];
      for (const item of items) ids.push(await this.insert(tx, ctx, item));
      await this.deps.quotas.check(
        tx,
        items.map((i) => String(i.project_id)),
        'network',
      );
      return loadInOrder(tx, 'networks', ids, (d, rows) => this.load(d, rows));
    });
  }

  private async insert(tx: Executor, ctx: RequestContext, item: Resource): Promise<string> {
    // An id in the item comes only from a plugin (the API refuses `id` in POST bodies): the local role's mirrors.
    const id = (item.id as string | undefined) ?? randomUUID();
    const requested = PROVIDER.some((attr) => item[attr] !== null && item[attr] !== undefined);
    const segment: Segment = requested
      ? await this.deps.segments.allocateProvider(tx, id, {
          network_type: (item['provider:network_type'] ?? 'local') as NetworkType,
          physical_network: (item['provider:physical_network'] as string | null) ?? null,
          segmentation_id: (item['provider:segmentation_id'] as number | null) ?? null,
        })
      : await this.deps.segments.allocateTenant(tx, id);
    const now = nowIso();
    const record: Resource = {
      ...item,
      id,
      status: 'ACTIVE',
      mtu: item.mtu ?? this.deps.segments.mtu(segment.network_type),
      created_at: now,
      updated_at: now,
      revision_number: 1,
    };
    if (record.shared && !ctx.isAdmin)
      throw new ApiError('PolicyNotAuthorized', '(rule:create_network and rule:create_network:shared) is disallowed by policy');
    if (record['router:external'] && !ctx.isAdmin)
      throw new ApiError('PolicyNotAuthorized', '(rule:create_network and rule:create_network:router:external) is disallowed by policy');
    await tx.insertInto('networks').values(toRow(NETWORKS, record)).execute();
    await tx
      .insertInto('network_segments')
      .values({ id: randomUUID(), network_id: id, ...segment, segment_index: 0 })
      .execute();
    return id;
  }

  async update(ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
    return this.deps.db.transaction().execute(async (tx) => {
      const current = await this.find(tx, ctx, id);
      if (!ctx.isAdmin && current.project_id !== ctx.projectId) throw new ApiError('PolicyNotAuthorized', 'rule:update_network is disallowed by policy');
      for (const attr of ['shared', 'router:external'] as const) {
        if (attr in changes && changes[attr] !== current[attr] && !ctx.isAdmin) {
          throw new ApiError('PolicyNotAuthorized', `(rule:update_network and rule:update_network:${attr}) is disallowed by policy`);
        }
      }
      // An empty update changes nothing, as in Neutron; any other bumps the revision, in SQL so none is lost.
      if (Object.keys(changes).length === 0) return current;
      await tx
        .updateTable('networks')
        .set((eb) => ({ ...toRow(NETWORKS, changes), updated_at: nowIso(), revision_number: eb('revision_number', '+', 1) }))
        .where('id', '=', id)
        .execute();
      return this.find(tx, ctx, id);
    });
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    await this.deps.db
      .transaction()
      .execute(async (tx) => {
        const current = await this.find(tx, ctx, id);
        if (!ctx.isAdmin && current.project_id !== ctx.projectId) throw new ApiError('PolicyNotAuthorized', 'rule:delete_network is disallowed by policy');
        // Service ports and subnets go along; any other port refuses with NetworkInUse.
        await clearNetwork(tx, id);
        await this.deps.segments.release(tx, id);
        // The row before its tags: a concurrent tag change locks the row first too, so neither waits on the other's tags.
        await tx.deleteFrom('networks').where('id', '=', id).execute();
        await tx.deleteFrom('tags').where('resource_type', '=', 'networks').where('resource_id', '=', id).execute();
      })
      .catch((err) => {
        // A port created while the network was being deleted keeps it.
        throw isForeignKeyViolation(err) ? networkInUse(id, []) : err;
      });
  }
}
