import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../connect.js';

// Upstream Tricircle's final schema (its models.py), with the indexes our lookups need and
// deleting_resources keyed as its model says (upstream's migration forgot the key).

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  // Binary collation on MariaDB, so names compare case-sensitively as on the other engines.
  const createTable = (name: string) => {
    const builder = db.schema.createTable(name);
    return dialect === 'mysql' ? builder.modifyEnd(sql`ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`) : builder;
  };
  await createTable('pods')
    .addColumn('pod_id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('region_name', 'varchar(255)', (c) => c.notNull().unique())
    .addColumn('pod_az_name', 'varchar(255)')
    .addColumn('dc_name', 'varchar(255)')
    .addColumn('az_name', 'varchar(255)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('pods0az_name').on('pods').column('az_name').execute();

  await createTable('cached_endpoints')
    .addColumn('service_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('pod_id', 'varchar(36)', (c) => c.notNull().references('pods.pod_id').onDelete('cascade'))
    .addColumn('service_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('service_url', 'varchar(512)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('cached_endpoints0pod_id').on('cached_endpoints').column('pod_id').execute();

  let routings = createTable('resource_routings');
  routings =
    dialect === 'postgres'
      ? routings.addColumn('id', 'bigserial', (c) => c.primaryKey())
      : routings.addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigint', (c) => c.primaryKey().autoIncrement());
  await routings
    .addColumn('top_id', 'varchar(127)', (c) => c.notNull())
    .addColumn('bottom_id', 'varchar(36)')
    .addColumn('pod_id', 'varchar(36)', (c) => c.notNull().references('pods.pod_id'))
    .addColumn('project_id', 'varchar(36)')
    .addColumn('resource_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)')
    .addColumn('updated_at', 'varchar(32)')
    .addUniqueConstraint('resource_routings0top_id0pod_id0resource_type', ['top_id', 'pod_id', 'resource_type'])
    .execute();
  await db.schema.createIndex('resource_routings0bottom_id').on('resource_routings').column('bottom_id').execute();
  await db.schema.createIndex('resource_routings0pod_id').on('resource_routings').column('pod_id').execute();
  await db.schema.createIndex('resource_routings0resource_type0id').on('resource_routings').columns(['resource_type', 'id']).execute();
  await db.schema.createIndex('resource_routings0project_id0id').on('resource_routings').columns(['project_id', 'id']).execute();

  await createTable('async_jobs')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(36)')
    .addColumn('type', 'varchar(36)', (c) => c.notNull())
    .addColumn('timestamp', 'varchar(32)', (c) => c.notNull())
    .addColumn('status', 'varchar(36)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(127)', (c) => c.notNull())
    .addColumn('extra_id', 'varchar(36)', (c) => c.notNull())
    .addUniqueConstraint('async_jobs0type0status0resource_id0extra_id', ['type', 'status', 'resource_id', 'extra_id'])
    .execute();
  await db.schema.createIndex('async_jobs0timestamp').on('async_jobs').column('timestamp').execute();
  await db.schema.createIndex('async_jobs0type0resource_id0timestamp').on('async_jobs').columns(['type', 'resource_id', 'timestamp']).execute();

  await createTable('async_job_logs')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(36)')
    .addColumn('resource_id', 'varchar(127)', (c) => c.notNull())
    .addColumn('type', 'varchar(36)', (c) => c.notNull())
    .addColumn('timestamp', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('async_job_logs0timestamp').on('async_job_logs').column('timestamp').execute();

  await createTable('shadow_agents')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('pod_id', 'varchar(36)', (c) => c.notNull().references('pods.pod_id').onDelete('cascade'))
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('type', 'varchar(36)', (c) => c.notNull())
    .addColumn('tunnel_ip', 'varchar(48)', (c) => c.notNull())
    .addUniqueConstraint('host0type', ['host', 'type'])
    .execute();

  await createTable('recycle_resources')
    .addColumn('resource_id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('resource_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(36)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('recycle_resources0project_id').on('recycle_resources').column('project_id').execute();

  await createTable('deleting_resources')
    .addColumn('resource_id', 'varchar(127)', (c) => c.notNull())
    .addColumn('resource_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('deleted_at', 'varchar(32)')
    .addPrimaryKeyConstraint('deleting_resources0resource_id0resource_type', ['resource_id', 'resource_type'])
    .execute();
}
