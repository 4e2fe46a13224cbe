import type { Logger } from 'pino';
import { loadConfig, type Config, type LoadOptions } from '../config/index.js';
import type { Db } from '../db/index.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  db: Db;
}

/** Collects repeated --config-file flags. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function loadFromFlags(files: string[] | undefined, overrides?: LoadOptions['overrides']) {
  return loadConfig({ files: files ?? [], overrides });
}

/**
 * Configuration, JSON logger and database, ready to serve. The embedded SQLite database
 * migrates itself; a shared PostgreSQL or MariaDB database must be brought up to date with
 * `tricircle db sync` first, so that no server changes a schema others are using.
 */
export async function openRuntime(files: string[] | undefined, overrides?: LoadOptions['overrides']): Promise<Runtime> {
  // Loaded here rather than at the top: every CLI command loads this module, and pino would
  // slow down the ones that need none of it.
  const { pino } = await import('pino');
  const loaded = loadFromFlags(files, overrides);
  const config = loaded.config;
  const logger = pino({ level: config.DEFAULT.log_level, base: { pid: process.pid } });
  for (const option of loaded.unknown) logger.warn(`unknown option ${option} ignored`);
  return { config, logger, db: await openDatabase(config, logger) };
}

/** The database of `config`, migrated if embedded, refused if a shared one is behind. */
export async function openDatabase(config: Config, logger: Logger): Promise<Db> {
  const { MIGRATION_NAMES, currentVersion, migrateToLatest, openDb, parseConnection } = await import('../db/index.js');
  const connection = parseConnection(config.database.connection, config.DEFAULT.state_path);
  const db = openDb(connection, config.database.max_pool_size);
  if (connection.dialect === 'sqlite') {
    const applied = await migrateToLatest(db);
    if (applied.length) logger.info({ migrations: applied }, 'embedded database migrated');
  } else {
    const version = await currentVersion(db);
    const latest = MIGRATION_NAMES[MIGRATION_NAMES.length - 1];
    if (version !== latest) {
      await db.close();
      throw new Error(`database schema is at ${version ?? 'nothing'}, this version needs ${latest}: run 'tricircle db sync'`);
    }
  }
  return db;
}
