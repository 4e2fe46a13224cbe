import { pino } from 'pino';
import { createAdminApi } from '../../src/admin/index.js';
import { loadConfig, type SectionName } from '../../src/config/index.js';
import { migrateToLatest, openDb, parseConnection, type Clock, type Db } from '../../src/db/index.js';

export interface RunningAdminApi {
  url: string;
  db: Db;
  close(): Promise<void>;
}

/** A real Admin API on 127.0.0.1 and a free port, over a migrated database. */
export async function startAdminApi(
  connection: string,
  overrides: Partial<Record<SectionName, Record<string, string>>> = {},
  clock?: Clock,
): Promise<RunningAdminApi> {
  const { config } = loadConfig({
    env: {},
    overrides: { ...overrides, DEFAULT: { auth_strategy: 'noauth', log_level: 'silent', ...overrides.DEFAULT }, database: { connection } },
  });
  const db = openDb(parseConnection(connection, '.'), 4);
  await migrateToLatest(db);
  const app = createAdminApi({ config, db, logger: pino({ level: config.DEFAULT.log_level }), clock });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: address,
    db,
    close: async () => {
      await app.close();
      await db.close();
    },
  };
}

export const ADMIN = { 'x-user-id': 'admin-user', 'x-project-id': 'admin-project', 'x-roles': 'admin,member' };
export const MEMBER = { 'x-user-id': 'member-user', 'x-project-id': 'member-project', 'x-roles': 'member' };

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** One HTTP request; JSON bodies are sent as given (a string is sent verbatim). */
export async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = ADMIN): Promise<Reply> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}
