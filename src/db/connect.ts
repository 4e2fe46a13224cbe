import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresDialect, type Dialect } from 'kysely';
import mysql from 'mysql2';
import pg from 'pg';
import type { TricircleTables } from './schema.js';
import { cachingDatabase } from './sqlite-statements.js';
import { ImmediateTransactionDialect } from './sqlite-transactions.js';

const SQLITE_BUSY_TIMEOUT_MS = 10_000;

export type DialectName = 'sqlite' | 'postgres' | 'mysql';

export interface Connection {
  dialect: DialectName;
  /** For sqlite: the file path (or ':memory:'); otherwise the driver's URL. */
  target: string;
}

/**
 * Reads an OpenStack-style database URL. SQLAlchemy driver suffixes such as
 * `mysql+pymysql://` and `postgresql+psycopg2://` are accepted so existing configs work.
 */
export function parseConnection(url: string | null, statePath: string): Connection {
  if (url === null || url.trim() === '') {
    return { dialect: 'sqlite', target: resolve(join(statePath, 'tricircle.sqlite')) };
  }
  const match = /^([a-z0-9]+)(?:\+[a-z0-9_]+)?:\/\/(.*)$/i.exec(url.trim());
  if (!match) throw new Error(`'${url}' is not a database URL (sqlite:///path, postgresql://..., mysql://...)`);
  const scheme = match[1]!.toLowerCase();
  const rest = match[2]!;
  if (scheme === 'sqlite') {
    // sqlite:///relative/path, sqlite:////absolute/path, sqlite:// (memory), as SQLAlchemy reads them.
    if (rest === '' || rest === '/' || rest === '/:memory:') return { dialect: 'sqlite', target: ':memory:' };
    if (!rest.startsWith('/')) throw new Error(`'${url}' is not a sqlite URL: use sqlite:///path`);
    return { dialect: 'sqlite', target: resolve(rest.slice(1)) };
  }
  if (scheme === 'postgresql' || scheme === 'postgres') return { dialect: 'postgres', target: `postgresql://${rest}` };
  if (scheme === 'mysql' || scheme === 'mariadb') return { dialect: 'mysql', target: `mysql://${rest}` };
  throw new Error(`database scheme '${scheme}' is not supported (sqlite, postgresql, mysql)`);
}

export interface Db {
  kysely: Kysely<TricircleTables>;
  dialect: DialectName;
  close(): Promise<void>;
}

export function openDb(connection: Connection, maxPoolSize = 10): Db {
  let dialect: Dialect;
  if (connection.dialect === 'sqlite') {
    if (connection.target !== ':memory:') mkdirSync(dirname(connection.target), { recursive: true });
    const database = new SqliteDatabase(connection.target);
    // WAL lets readers run beside a writer; busy_timeout lets several processes share the file.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    database.pragma('foreign_keys = ON');
    dialect = new ImmediateTransactionDialect({ database: cachingDatabase(database) }, connection.target, SQLITE_BUSY_TIMEOUT_MS);
  } else if (connection.dialect === 'postgres') {
    const pool = new pg.Pool({ connectionString: connection.target, max: maxPoolSize });
    // An idle connection the server ends (restart, termination, a dropped test database) is
    // discarded by the pool and the next query reconnects; unheard, the pool's 'error' event
    // would crash the process.
    pool.on('error', () => {});
    dialect = new PostgresDialect({ pool });
  } else {
    const url = new URL(connection.target);
    url.searchParams.set('connectionLimit', String(maxPoolSize));
    dialect = new MysqlDialect({ pool: mysql.createPool({ uri: url.toString(), supportBigNumbers: true, bigNumberStrings: false }) });
  }
  const kysely = new Kysely<TricircleTables>({ dialect });
  return { kysely, dialect: connection.dialect, close: () => kysely.destroy() };
}
