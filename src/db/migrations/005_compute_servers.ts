import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../connect.js';

// The servers of `tricircle compute`. A server's ports and addresses are kept as JSON: they
// are written once at boot and read whole, never queried by their parts.

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const builder = db.schema.createTable('compute_servers');
  await (dialect === 'mysql' ? builder.modifyEnd(sql`ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`) : builder)
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)')
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('flavor_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('availability_zone', 'varchar(255)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('ports', 'text', (c) => c.notNull())
    .addColumn('addresses', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('compute_servers0project_id0created_at').on('compute_servers').columns(['project_id', 'created_at']).execute();
}
