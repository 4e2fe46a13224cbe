import type { Kysely } from 'kysely';

// What the XJob engine keeps beside upstream's job columns: `run_id` tags the NEW and FAIL
// rows a run consumes (so a run finishes exactly the jobs it saw, whatever the clocks of the
// hosts that registered them say), and `error` is the message of the failure a FAIL job ended
// with. The status index serves the workers' poll for NEW jobs.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('async_jobs').addColumn('run_id', 'varchar(36)').execute();
  await db.schema.alterTable('async_jobs').addColumn('error', 'text').execute();
  await db.schema.createIndex('async_jobs0run_id').on('async_jobs').column('run_id').execute();
  await db.schema.createIndex('async_jobs0status0timestamp').on('async_jobs').columns(['status', 'timestamp']).execute();
}
