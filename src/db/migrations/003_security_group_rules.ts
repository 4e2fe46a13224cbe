import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../connect.js';

// Security group rules as Neutron shows them: a rule's description may be null (the rules
// of a default group have none, a created rule defaults to ''), and normalized_cidr (the
// network of remote_ip_prefix) is a filter and sort key, so it is a column.

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  if (dialect === 'postgres') {
    await db.schema
      .alterTable('securitygrouprules')
      .alterColumn('description', (c) => c.dropNotNull())
      .execute();
  }
  if (dialect === 'mysql') {
    await db.schema
      .alterTable('securitygrouprules')
      .modifyColumn('description', 'varchar(255)', (c) => c.defaultTo(''))
      .execute();
  }
  if (dialect !== 'sqlite') {
    await db.schema.alterTable('securitygrouprules').addColumn('normalized_cidr', 'varchar(64)').execute();
    return;
  }
  // SQLite cannot drop NOT NULL in place: rebuild the table (nothing references it).
  await db.schema
    .createTable('securitygrouprules_new')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)')
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('securitygroups.id').onDelete('cascade'))
    .addColumn('remote_group_id', 'varchar(36)', (c) => c.references('securitygroups.id').onDelete('cascade'))
    .addColumn('direction', 'varchar(16)', (c) => c.notNull())
    .addColumn('ethertype', 'varchar(8)', (c) => c.notNull())
    .addColumn('protocol', 'varchar(40)')
    .addColumn('port_range_min', 'integer')
    .addColumn('port_range_max', 'integer')
    .addColumn('remote_ip_prefix', 'varchar(64)')
    .addColumn('description', 'varchar(255)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('normalized_cidr', 'varchar(64)')
    .execute();
  const columns = sql.raw(
    'id, project_id, security_group_id, remote_group_id, direction, ethertype, protocol, port_range_min, port_range_max, remote_ip_prefix, description, created_at, updated_at, revision_number, fingerprint',
  );
  await sql`insert into securitygrouprules_new (${columns}) select ${columns} from securitygrouprules`.execute(db);
  await db.schema.dropTable('securitygrouprules').execute();
  await db.schema.alterTable('securitygrouprules_new').renameTo('securitygrouprules').execute();
  await db.schema.createIndex('securitygrouprules0security_group_id').on('securitygrouprules').column('security_group_id').execute();
}
