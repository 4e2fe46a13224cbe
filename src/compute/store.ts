import type { Kysely } from 'kysely';
import type { Db } from '../db/index.js';

/** A port of a server: `created` ports are deleted with the server, given ones are released. */
export interface ServerPort {
  port_id: string;
  network_id: string;
  created: boolean;
}

export interface AddressEntry {
  addr: string;
  version: 4 | 6;
  'OS-EXT-IPS:type': 'fixed';
  'OS-EXT-IPS-MAC:mac_addr': string;
}

export interface Server {
  id: string;
  projectId: string;
  userId: string | null;
  name: string;
  status: string;
  flavorId: string;
  imageId: string;
  availabilityZone: string;
  host: string;
  ports: ServerPort[];
  addresses: Record<string, AddressEntry[]>;
  createdAt: string;
  updatedAt: string;
}

interface ServersTable {
  id: string;
  project_id: string;
  user_id: string | null;
  name: string;
  status: string;
  flavor_id: string;
  image_id: string;
  availability_zone: string;
  host: string;
  ports: string;
  addresses: string;
  created_at: string;
  updated_at: string;
}

type ComputeDb = Kysely<{ compute_servers: ServersTable }>;

const toRow = (s: Server): ServersTable => ({
  id: s.id,
  project_id: s.projectId,
  user_id: s.userId,
  name: s.name,
  status: s.status,
  flavor_id: s.flavorId,
  image_id: s.imageId,
  availability_zone: s.availabilityZone,
  host: s.host,
  ports: JSON.stringify(s.ports),
  addresses: JSON.stringify(s.addresses),
  created_at: s.createdAt,
  updated_at: s.updatedAt,
});

const fromRow = (r: ServersTable): Server => ({
  id: r.id,
  projectId: r.project_id,
  userId: r.user_id,
  name: r.name,
  status: r.status,
  flavorId: r.flavor_id,
  imageId: r.image_id,
  availabilityZone: r.availability_zone,
  host: r.host,
  ports: JSON.parse(r.ports) as ServerPort[],
  addresses: JSON.parse(r.addresses) as Record<string, AddressEntry[]>,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export interface ServerFilters {
  /** Only this project's servers; undefined: every project's (an admin's all_tenants). */
  projectId?: string;
  name?: string;
  status?: string;
  /** The page starts after this server (by creation time, then id). */
  after?: Server;
  limit: number;
}

/** The compute_servers table (migration 005). */
export class ServerStore {
  private readonly db: ComputeDb;

  /** `db`: the process's database, whose other tables this store does not touch. */
  constructor(db: Db['kysely']) {
    this.db = db as unknown as ComputeDb;
  }

  async insert(server: Server): Promise<void> {
    await this.db.insertInto('compute_servers').values(toRow(server)).execute();
  }

  async get(id: string): Promise<Server | undefined> {
    const row = await this.db.selectFrom('compute_servers').selectAll().where('id', '=', id).executeTakeFirst();
    return row && fromRow(row);
  }

  /** Newest first, as Nova lists. */
  async list(filters: ServerFilters): Promise<Server[]> {
    let query = this.db.selectFrom('compute_servers').selectAll();
    if (filters.projectId !== undefined) query = query.where('project_id', '=', filters.projectId);
    if (filters.name !== undefined) query = query.where('name', '=', filters.name);
    if (filters.status !== undefined) query = query.where('status', '=', filters.status);
    const after = filters.after;
    if (after) {
      query = query.where((eb) => eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]));
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filters.limit).execute();
    return rows.map(fromRow);
  }

  /** Reads the table, for the health check. */
  async ping(): Promise<void> {
    await this.db.selectFrom('compute_servers').select('id').limit(1).execute();
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('compute_servers').where('id', '=', id).execute();
  }
}
