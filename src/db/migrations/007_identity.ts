import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../connect.js';

// The tokens of the identity service (src/identity). Only a SHA-256 digest of each token is
// kept, so reading the table gives no usable token. Users, projects and roles are not stored:
// they are fixed (admin, demo) with passwords from the configuration.

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const builder = db.schema.createTable('identity_tokens');
  await (dialect === 'mysql' ? builder.modifyEnd(sql`ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`) : builder)
    .addColumn('digest', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)')
    .addColumn('methods', 'varchar(255)', (c) => c.notNull())
    .addColumn('audit_ids', 'varchar(255)', (c) => c.notNull())
    .addColumn('issued_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('revoked_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('identity_tokens0expires_at').on('identity_tokens').column('expires_at').execute();
}
