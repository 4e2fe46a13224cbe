import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../connect.js';

// Neutron's L2 agent records (GET /v2.0/agents): one per host and agent type. A local Neutron
// records its region's compute hosts and, for shadow ports, other regions' hosts (reference §4.4).

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const builder = db.schema.createTable('agents');
  await (dialect === 'mysql' ? builder.modifyEnd(sql`ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`) : builder)
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('agent_type', 'varchar(255)', (c) => c.notNull())
    .addColumn('binary', 'varchar(255)', (c) => c.notNull())
    .addColumn('topic', 'varchar(255)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('admin_state_up', 'integer', (c) => c.notNull())
    .addColumn('configurations', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('heartbeat_timestamp', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('uniq_agents0agent_type0host', ['agent_type', 'host'])
    .execute();
}
