import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { DialectName } from '../../src/db/index.js';

// The database engines the suite runs on. SQLite always; PostgreSQL and MariaDB when their
// servers answer (CI starts them and sets TRICIRCLE_TEST_REQUIRE_ALL_ENGINES=1, so there a
// missing server fails the run instead of skipping).

export const PG_ADMIN_URL = process.env.TRICIRCLE_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const MYSQL_ADMIN_URL = process.env.TRICIRCLE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

export interface TestDatabase {
  /** A [database] connection URL for a fresh, empty database. */
  connection: string;
  drop(): Promise<void>;
}

export interface Engine {
  name: DialectName;
  /** Why this engine is skipped here, or undefined when it runs. */
  skip: string | undefined;
  create(): Promise<TestDatabase>;
}

const unique = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

async function reachable(check: () => Promise<void>): Promise<string | undefined> {
  try {
    await check();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const sqlite: Engine = {
  name: 'sqlite',
  skip: undefined,
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'tricircle-test-'));
    return { connection: `sqlite:///${join(dir, 'test.sqlite')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

async function postgres(): Promise<Engine> {
  const problem = await reachable(async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
    await client.connect();
    await client.end();
  });
  return {
    name: 'postgres',
    skip: problem && `PostgreSQL at ${PG_ADMIN_URL} is not reachable (${problem})`,
    async create() {
      const name = unique('tricircle_test');
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      await client.end();
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${name}`;
      return {
        connection: url.toString(),
        drop: async () => {
          const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
          await admin.connect();
          await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await admin.end();
        },
      };
    },
  };
}

async function mariadb(): Promise<Engine> {
  const problem = await reachable(async () => {
    const conn = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 3000 });
    await conn.end();
  });
  return {
    name: 'mysql',
    skip: problem && `MariaDB at ${MYSQL_ADMIN_URL} is not reachable (${problem})`,
    async create() {
      const name = unique('tricircle_test');
      const conn = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
      await conn.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      await conn.end();
      const url = new URL(MYSQL_ADMIN_URL);
      url.pathname = `/${name}`;
      return {
        connection: url.toString(),
        drop: async () => {
          const admin = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
          await admin.query(`DROP DATABASE IF EXISTS ${name}`);
          await admin.end();
        },
      };
    },
  };
}

/** Every engine, each with its skip reason; throws where all are required and one is missing. */
export async function engines(): Promise<Engine[]> {
  const all = [sqlite, await postgres(), await mariadb()];
  const missing = all.filter((e) => e.skip);
  if (missing.length && process.env.TRICIRCLE_TEST_REQUIRE_ALL_ENGINES === '1') {
    throw new Error(`database engines required but unavailable: ${missing.map((e) => e.skip).join('; ')}`);
  }
  return all;
}
