import { Migrator, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Db } from './connect.js';
import * as initial from './migrations/001_initial.js';
import * as neutron from './migrations/002_neutron.js';
import * as securityGroupRules from './migrations/003_security_group_rules.js';
import * as jobRuns from './migrations/004_job_runs.js';
import * as computeServers from './migrations/005_compute_servers.js';
import * as agents from './migrations/006_agents.js';
import * as identity from './migrations/007_identity.js';

// Migrations are listed here, in order, rather than discovered on disk, so they work the
// same from sources and from a bundle. Names sort; never rename or edit a landed one.
function migrations(db: Db): Record<string, Migration> {
  return {
    '001_initial': { up: (k) => initial.up(k, db.dialect) },
    '002_neutron': { up: (k) => neutron.up(k, db.dialect) },
    '003_security_group_rules': { up: (k) => securityGroupRules.up(k, db.dialect) },
    '004_job_runs': { up: (k) => jobRuns.up(k) },
    '005_compute_servers': { up: (k) => computeServers.up(k, db.dialect) },
    '006_agents': { up: (k) => agents.up(k, db.dialect) },
    '007_identity': { up: (k) => identity.up(k, db.dialect) },
  };
}

function provider(db: Db): MigrationProvider {
  return { getMigrations: async () => migrations(db) };
}

/** Every migration's name, oldest first; the last is the version this code needs. */
export const MIGRATION_NAMES = Object.keys(migrations({ dialect: 'sqlite' } as Db)).sort();

function migrator(db: Db): Migrator {
  return new Migrator({
    db: db.kysely,
    provider: provider(db),
    migrationTableName: 'tricircle_migrations',
    migrationLockTableName: 'tricircle_migrations_lock',
  });
}

/** Brings the schema to the newest version (or to `target`); safe to run from several processes. */
export async function migrateToLatest(db: Db, target?: string): Promise<string[]> {
  const m = migrator(db);
  const result: MigrationResultSet = target ? await m.migrateTo(target) : await m.migrateToLatest();
  if (result.error) throw result.error;
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The newest applied migration, or null on an empty database. */
export async function currentVersion(db: Db): Promise<string | null> {
  const migrations = await migrator(db).getMigrations();
  const applied = migrations.filter((m) => m.executedAt !== undefined);
  return applied.length ? applied[applied.length - 1]!.name : null;
}
