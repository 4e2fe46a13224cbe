import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { openDb, parseConnection, type Db } from '../../src/db/index.js';
import type { JobHandlerSpec, JobRunContext } from '../../src/xjob/index.js';

// Job types for `tricircle xjob` processes under test and benchmark, loaded through
// [xjob] handler_modules. The recording types write one row per handler run into
// xjob_test_runs of the database named by TRICIRCLE_TEST_RECORD_DB, so a test can see which
// process ran what and when (Date.now() of processes on one machine: one clock).
//   TRICIRCLE_TEST_RECORD_DB   connection URL (the test creates the table: createRunsTable)
//   TRICIRCLE_TEST_RECORD_MS   how long test_record sleeps (default 5)
//   TRICIRCLE_TEST_SLEEP_MS    how long test_sleep sleeps (default 3000)

export interface TestRunsTable {
  id: string;
  type: string;
  resource_id: string;
  pid: number;
  attempt: number;
  /** Date.now() when the handler started, and when it finished (null: it never did); bigint, so pg reads strings. */
  started_at: number | string;
  ended_at: number | string | null;
}

export type TestRunsDb = Kysely<{ xjob_test_runs: TestRunsTable }>;

export function runsTable(db: Db): TestRunsDb {
  return db.kysely.withTables<{ xjob_test_runs: TestRunsTable }>() as unknown as TestRunsDb;
}

export async function createRunsTable(db: Db): Promise<void> {
  await runsTable(db)
    .schema.createTable('xjob_test_runs')
    .ifNotExists()
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('type', 'varchar(64)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .execute();
}

let recordDb: TestRunsDb | undefined;

function records(): TestRunsDb {
  if (!recordDb) {
    const url = process.env.TRICIRCLE_TEST_RECORD_DB;
    if (!url) throw new Error('TRICIRCLE_TEST_RECORD_DB is not set: the recording job types have nowhere to write');
    recordDb = runsTable(openDb(parseConnection(url, '.'), 4));
  }
  return recordDb;
}

const envMs = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

/** Records the run as started, sleeps (aborted with the run), then records its end. */
function recording(sleepMs: () => number): JobHandlerSpec {
  return {
    resource: ['key'],
    handle: async (ctx: JobRunContext) => {
      const id = randomUUID();
      await records()
        .insertInto('xjob_test_runs')
        .values({ id, type: ctx.type, resource_id: ctx.resourceId, pid: process.pid, attempt: ctx.attempt, started_at: Date.now(), ended_at: null })
        .execute();
      await sleep(sleepMs(), undefined, { signal: ctx.signal });
      await records().updateTable('xjob_test_runs').set({ ended_at: Date.now() }).where('id', '=', id).execute();
    },
  };
}

export const jobTypes: Record<string, JobHandlerSpec> = {
  test_record: recording(() => envMs('TRICIRCLE_TEST_RECORD_MS', 5)),
  test_sleep: recording(() => envMs('TRICIRCLE_TEST_SLEEP_MS', 3000)),
  test_noop: { resource: ['key'], handle: async () => {} },
};
