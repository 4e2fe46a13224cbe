import { formatSeconds, isForeignKeyViolation, isUniqueViolation, systemClock, toSeconds, type Clock, type Db } from '../db/index.js';
import type { ResourceRoutingsTable } from '../db/index.js';
import { badRequest, conflict, notFound } from '../http/errors.js';

/** A map from a central (top) resource to its copy in one region (bottom). */
export interface Routing {
  id: number;
  top_id: string;
  bottom_id: string | null;
  pod_id: string;
  project_id: string | null;
  resource_type: string;
  created_at: string | null;
  updated_at: string | null;
}

export type RoutingFields = Pick<Routing, 'top_id' | 'bottom_id' | 'pod_id' | 'project_id' | 'resource_type'>;

export const ROUTING_FILTERS = ['id', 'top_id', 'bottom_id', 'pod_id', 'project_id', 'resource_type', 'created_at', 'updated_at'] as const;
export type RoutingFilters = Partial<{ id: number[] } & Record<Exclude<(typeof ROUTING_FILTERS)[number], 'id'>, string[]>>;

export interface Page<T> {
  items: T[];
  /** True when more items follow the last one returned. */
  more: boolean;
}

type Row = Omit<ResourceRoutingsTable, 'id'> & { id: number | string };

const toRouting = (row: Row): Routing => ({
  ...row,
  id: Number(row.id),
  created_at: toSeconds(row.created_at),
  updated_at: toSeconds(row.updated_at),
});

export class RoutingRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  async create(fields: RoutingFields): Promise<Routing> {
    const values = { ...fields, created_at: formatSeconds(this.clock.now()), updated_at: null };
    try {
      const insert = this.db.kysely.insertInto('resource_routings').values(values);
      // PostgreSQL reports the new id through RETURNING; SQLite and MariaDB through insertId.
      const id =
        this.db.dialect === 'postgres'
          ? Number((await insert.returning('id').executeTakeFirstOrThrow()).id)
          : Number((await insert.executeTakeFirstOrThrow()).insertId);
      return await this.get(id);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('Resource routing already exists');
      if (isForeignKeyViolation(err)) throw badRequest(`Pod ${fields.pod_id} not found`);
      throw err;
    }
  }

  async get(id: number): Promise<Routing> {
    const row = await this.db.kysely.selectFrom('resource_routings').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`Resource routing ${id} not found`);
    return toRouting(row);
  }

  /** Newest first (id descending); `marker` is the id of the last item of the previous page. */
  async list(filters: RoutingFilters, limit: number, marker?: number): Promise<Page<Routing>> {
    let query = this.db.kysely.selectFrom('resource_routings').selectAll();
    for (const [field, values] of Object.entries(filters) as Array<[keyof RoutingFilters, Array<string | number>]>) {
      query = query.where(field, 'in', values as string[]);
    }
    if (marker !== undefined) {
      const exists = await this.db.kysely.selectFrom('resource_routings').select('id').where('id', '=', marker).executeTakeFirst();
      if (!exists) throw badRequest(`Marker ${marker} is an invalid ID`);
      query = query.where('id', '<', marker);
    }
    const rows = await query
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    return { items: rows.slice(0, limit).map(toRouting), more: rows.length > limit };
  }

  async update(id: number, changes: Partial<RoutingFields>): Promise<Routing> {
    await this.get(id);
    try {
      await this.db.kysely
        .updateTable('resource_routings')
        .set({ ...changes, updated_at: formatSeconds(this.clock.now()) })
        .where('id', '=', id)
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('Resource routing already exists');
      if (isForeignKeyViolation(err)) throw badRequest(`Pod ${changes.pod_id} not found`);
      throw err;
    }
    return this.get(id);
  }

  async delete(id: number): Promise<void> {
    const result = await this.db.kysely.deleteFrom('resource_routings').where('id', '=', id).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`Resource routing ${id} not found`);
  }
}

/** Resource types that may be mapped through the Admin API (internal types are Tricircle's own). */
export const API_RESOURCE_TYPES = [
  'network',
  'subnet',
  'port',
  'router',
  'security_group',
  'trunk',
  'port_pair',
  'port_pair_group',
  'flow_classifier',
  'port_chain',
  'qos_policy',
] as const;
