import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { formatSeconds, migrateToLatest, openDb, parseConnection } from '../../src/db/index.js';

// Test data written straight into a Tricircle database with Kysely (batch inserts), far
// faster than through the API.

export interface SeedOptions {
  /** `[database] connection` URL. */
  connection: string;
  /** Region (bottom) pods; a central pod is added besides. */
  pods: number;
  routings: number;
}

export interface SeededRoutings {
  podIds: string[];
  /** Every routing id, ascending (the oldest first). */
  ids: number[];
  /** How many routings of each resource type. */
  byType: Record<string, number>;
  seconds: number;
}

// The mix of resource types, roughly as a cloud has them: ports outnumber the rest.
const TYPE_CYCLE = ['port', 'network', 'port', 'subnet', 'port', 'router', 'port', 'security_group', 'port', 'network', 'subnet', 'port'];
const PROJECTS = 20;
const BATCH = 500;

/** Migrates the database, then writes the pods and routings; PostgreSQL is ANALYZEd after. */
export async function seedRoutings(options: SeedOptions): Promise<SeededRoutings> {
  const started = performance.now();
  const db = openDb(parseConnection(options.connection, '.'), 2);
  try {
    await migrateToLatest(db);
    const central = { pod_id: randomUUID(), region_name: 'CentralRegion', pod_az_name: '', dc_name: '', az_name: '' };
    const regions = Array.from({ length: options.pods }, (_, i) => ({
      pod_id: randomUUID(),
      region_name: `Region${i + 1}`,
      pod_az_name: `pod-az${i + 1}`,
      dc_name: `dc${(i % 4) + 1}`,
      az_name: `az${(i % 3) + 1}`,
    }));
    const projects = Array.from({ length: PROJECTS }, () => randomUUID().replaceAll('-', ''));
    const byType: Record<string, number> = {};
    const base = Date.now() - options.routings * 1000;
    const rows = Array.from({ length: options.routings }, (_, i) => {
      const resourceType = TYPE_CYCLE[i % TYPE_CYCLE.length]!;
      byType[resourceType] = (byType[resourceType] ?? 0) + 1;
      const topId = randomUUID();
      return {
        top_id: topId,
        // Local Neutrons keep the central UUID for most resources; routers get their own.
        bottom_id: resourceType === 'router' ? randomUUID() : topId,
        pod_id: regions[i % regions.length]!.pod_id,
        project_id: projects[i % PROJECTS]!,
        resource_type: resourceType,
        created_at: formatSeconds(new Date(base + i * 1000)),
        updated_at: null,
      };
    });
    await db.kysely.transaction().execute(async (tx) => {
      await tx
        .insertInto('pods')
        .values([central, ...regions])
        .execute();
      for (let i = 0; i < rows.length; i += BATCH) {
        await tx
          .insertInto('resource_routings')
          .values(rows.slice(i, i + BATCH))
          .execute();
      }
    });
    // Fresh statistics and visibility map, as autovacuum would soon make them; left to autovacuum,
    // it would run (and plans could change) in the middle of a measurement.
    if (db.dialect === 'postgres') await sql`VACUUM ANALYZE`.execute(db.kysely);
    const ids = (await db.kysely.selectFrom('resource_routings').select('id').orderBy('id').execute()).map((r) => Number(r.id));
    return { podIds: regions.map((p) => p.pod_id), ids, byType, seconds: (performance.now() - started) / 1000 };
  } finally {
    await db.close();
  }
}
