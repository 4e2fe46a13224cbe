import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import type { Cleanup } from './cleanup.js';

// Fresh, throw-away databases for one benchmark run; each is dropped by the cleanup stack.

export const ENGINES = ['sqlite', 'postgres'] as const;
export type EngineName = (typeof ENGINES)[number];

export const DEFAULT_PG_ADMIN_URL = process.env.TRICIRCLE_BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** A `[database] connection` URL for an empty database of `engine`. */
export async function freshDatabase(engine: EngineName, workDir: string, cleanup: Cleanup, pgAdminUrl = DEFAULT_PG_ADMIN_URL): Promise<string> {
  if (engine === 'sqlite') {
    // The file (and its -wal/-shm) live in workDir, which the caller removes.
    return `sqlite:///${join(workDir, 'bench.sqlite')}`;
  }
  const name = `tricircle_bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(pgAdminUrl, `CREATE DATABASE ${name}`);
  cleanup.add(`drop database ${name}`, () => adminQuery(pgAdminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Why PostgreSQL cannot be used, or undefined when it answers. */
export async function postgresProblem(pgAdminUrl = DEFAULT_PG_ADMIN_URL): Promise<string | undefined> {
  try {
    await adminQuery(pgAdminUrl, 'SELECT 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL at ${pgAdminUrl} is not reachable: ${(err as Error).message}`;
  }
}

/** The server settings that change write figures most, for the report: version, autovacuum, durability, memory. */
export async function postgresSettings(pgAdminUrl = DEFAULT_PG_ADMIN_URL): Promise<Record<string, string>> {
  const rows = await adminQuery(
    pgAdminUrl,
    `SELECT name, setting, unit FROM pg_settings
      WHERE name IN ('server_version', 'autovacuum', 'synchronous_commit', 'fsync', 'shared_buffers', 'max_connections')`,
  );
  const out: Record<string, string> = {};
  for (const r of rows) {
    // shared_buffers comes in 8kB pages.
    out[r.name] = r.unit === '8kB' ? `${Math.round((Number(r.setting) * 8) / 1024)}MB` : String(r.setting);
  }
  return out;
}

async function adminQuery(url: string, statement: string): Promise<any[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query(statement)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Runs `bench` on each engine in turn. PostgreSQL not answering skips it with a line, or stops
 * the suite when the engines were named on the command line.
 */
export async function onEachEngine(
  opts: { engines: readonly EngineName[]; enginesExplicit: boolean; pgUrl: string },
  bench: (engine: EngineName) => Promise<void>,
): Promise<void> {
  for (const engine of opts.engines) {
    if (engine === 'postgres') {
      const problem = await postgresProblem(opts.pgUrl);
      if (problem) {
        if (opts.enginesExplicit) throw new Error(problem);
        process.stdout.write(`\npostgres: SKIPPED (${problem})\n`);
        continue;
      }
    }
    await bench(engine);
  }
}
