import { createAdminApi } from '../../src/admin/index.js';
import type { SectionName } from '../../src/config/index.js';
import type { Clock, Db } from '../../src/db/index.js';
import { serveOnLoopback, testRuntime } from './runtime.js';

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
  const { config, db, logger } = await testRuntime(connection, overrides);
  const app = createAdminApi({ config, db, logger, clock });
  return { ...(await serveOnLoopback(app, db)), db };
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
