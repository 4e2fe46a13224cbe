import type { SectionName } from '../../src/config/index.js';
import type { Db } from '../../src/db/index.js';
import type { NeutronDb } from '../../src/neutron/core/store.js';
import { createNeutronApi, createNeutronCore } from '../../src/neutron/index.js';
import { call } from './admin-server.js';
import { serveOnLoopback, testRuntime } from './runtime.js';

export { call };

/** The server's database, its Neutron tables addressable by name. */
export type NeutronTestDb = Omit<Db, 'kysely'> & { kysely: NeutronDb };

export interface RunningNeutronApi {
  url: string;
  db: NeutronTestDb;
  close(): Promise<void>;
}

/**
 * A real Neutron API (the core, no role plugin) on 127.0.0.1 and a free port, over a
 * migrated database. Several may share one database, as several servers would.
 */
export async function startNeutronApi(connection: string, overrides: Partial<Record<SectionName, Record<string, string>>> = {}): Promise<RunningNeutronApi> {
  const { config, db, logger } = await testRuntime(connection, overrides);
  const { plugin, deps } = createNeutronCore(config, db.kysely);
  const app = createNeutronApi({ config, db, logger, plugin, deps });
  return { ...(await serveOnLoopback(app, db)), db: db as unknown as NeutronTestDb };
}

/** Identity headers for noauth: an admin of project 'admin', and members of two other projects. */
export const ADMIN = { 'x-user-id': 'admin-user', 'x-project-id': 'admin', 'x-roles': 'admin,member' };
export const MEMBER = { 'x-user-id': 'member-user', 'x-project-id': 'p2', 'x-roles': 'member' };
export const OTHER = { 'x-user-id': 'other-user', 'x-project-id': 'p3', 'x-roles': 'member' };

export type Headers = Record<string, string>;

/** Short calls against one server: `api.get(path, headers)`, `api.post(path, body, headers)`, ... (admin by default). */
export function neutronClient(url: string) {
  return {
    get: (path: string, headers: Headers = ADMIN) => call(url, 'GET', path, undefined, headers),
    post: (path: string, body: unknown, headers: Headers = ADMIN) => call(url, 'POST', path, body, headers),
    put: (path: string, body?: unknown, headers: Headers = ADMIN) => call(url, 'PUT', path, body, headers),
    del: (path: string, headers: Headers = ADMIN) => call(url, 'DELETE', path, undefined, headers),
    /** Creates one network and returns it (asserting 201). */
    network: async (attrs: Record<string, unknown> = {}, headers: Headers = ADMIN) => {
      const reply = await call(url, 'POST', '/v2.0/networks', { network: attrs }, headers);
      if (reply.status !== 201) throw new Error(`network create: ${reply.status} ${reply.text}`);
      return reply.body.network as Record<string, any>;
    },
  };
}
