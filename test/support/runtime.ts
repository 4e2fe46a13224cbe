import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config, type SectionName } from '../../src/config/index.js';
import { migrateToLatest, openDb, parseConnection, type Db } from '../../src/db/index.js';

// What every test server starts from: noauth, silent logs, a migrated database of its own
// pool, and a listener on 127.0.0.1 at a free port that closes the database with it.

export type Overrides = Partial<Record<SectionName, Record<string, string>>>;

/** The configuration (noauth, silent, `overrides` on top), a logger and the migrated database at `connection`. */
export async function testRuntime(connection: string, overrides: Overrides = {}): Promise<{ config: Config; db: Db; logger: Logger }> {
  const { config } = loadConfig({
    env: {},
    overrides: { ...overrides, DEFAULT: { auth_strategy: 'noauth', log_level: 'silent', ...overrides.DEFAULT }, database: { connection } },
  });
  const db = openDb(parseConnection(connection, '.'), 4);
  await migrateToLatest(db);
  return { config, db, logger: pino({ level: config.DEFAULT.log_level }) };
}

/** Serves `app` on 127.0.0.1 at `port` (a free one by default); close() stops it and closes `db`. */
export async function serveOnLoopback(app: FastifyInstance, db: Db, port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const url = await app.listen({ host: '127.0.0.1', port });
  let closing: Promise<void> | undefined;
  return {
    url,
    // Once only: a test may stop a server that the cloud's own close() stops again.
    close: () => (closing ??= app.close().then(() => db.close())),
  };
}
