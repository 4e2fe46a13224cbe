import { randomUUID } from 'node:crypto';
import type { ExpressionBuilder } from 'kysely';
import { againOnLostRace, formatMicros, insertUnlessTaken, issueTimestamp, systemClock, writeTransaction, type Clock, type Db } from '../db/index.js';
import type { TricircleTables } from '../db/index.js';
import type { JobKey } from './jobs.js';

/**
 * extra_id of the RUNNING row. With the unique (type, status, resource_id, extra_id) there is
 * at most one such row per (type, resource): it is the run lock, held across processes and
 * hosts by the database itself, as upstream held it.
 */
export const RUNNING_LOCK = '00000000-0000-0000-0000-000000000000';

export type RunOutcome = { ok: true } | { ok: false; error: string };

/** How a run ended in the database: what it consumed, or that its lock was taken over. */
export type FinishResult = { held: true; jobs: number } | { held: false };

export interface JobBacklog {
  /** NEW jobs waiting, whether or not a run is consuming them. */
  count: number;
  /** Seconds since the oldest NEW job was registered (0 when none). */
  oldestAgeSeconds: number;
}

/**
 * The workers' side of the job tables. A run of (type, resource):
 *   claim   inserts the RUNNING lock row (taking over one older than job_run_expire);
 *   mark    tags every NEW and FAIL row of the key with the run's id: those are what it consumes;
 *   finish  success moves the tagged rows to the log; failure turns them into FAIL with the error;
 *           either way the lock goes, in the same transaction.
 * Rows registered after `mark` are untagged and cause the next run.
 */
export class JobRuns {
  constructor(
    private readonly db: Db,
    /** Seconds after which a lock that was not refreshed belongs to a dead worker. */
    private readonly runExpireSeconds: number,
    private readonly clock: Clock = systemClock,
  ) {}

  private expiredBefore(): string {
    return formatMicros(new Date(this.clock.now().getTime() - this.runExpireSeconds * 1000));
  }

  /**
   * Takes the lock of `key` for a new run and returns the run's id, or null while another
   * live run holds it. A lock not refreshed within job_run_expire is a dead worker's: it is
   * deleted and taken (the jobs that run had tagged are NEW or FAIL still, and are re-tagged).
   */
  async claim(key: JobKey): Promise<string | null> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const runId = randomUUID();
      const lock = {
        id: runId,
        project_id: key.projectId,
        type: key.type,
        timestamp: issueTimestamp(this.clock.now()),
        status: 'RUNNING',
        resource_id: key.resourceId,
        extra_id: RUNNING_LOCK,
      };
      if (await againOnLostRace(() => insertUnlessTaken(this.db.kysely, 'async_jobs', lock))) return runId;
      const expired = await this.db.kysely
        .deleteFrom('async_jobs')
        .where('type', '=', key.type)
        .where('resource_id', '=', key.resourceId)
        .where('status', '=', 'RUNNING')
        .where('extra_id', '=', RUNNING_LOCK)
        .where('timestamp', '<', this.expiredBefore())
        .executeTakeFirst();
      if (Number(expired.numDeletedRows) === 0) return null;
    }
    return null;
  }

  /**
   * Tags the key's NEW jobs (and its FAIL jobs too, for a redo) as consumed by `runId`;
   * returns how many. A run with nothing tagged has nothing to do.
   */
  async mark(key: JobKey, runId: string, withFailed = false): Promise<number> {
    const result = await againOnLostRace(() =>
      this.db.kysely
        .updateTable('async_jobs')
        .set({ run_id: runId })
        .where('type', '=', key.type)
        .where('resource_id', '=', key.resourceId)
        .where('status', 'in', withFailed ? ['NEW', 'FAIL'] : ['NEW'])
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows);
  }

  /** Refreshes the lock of a long run so that nobody takes it over; false when it was lost. */
  async heartbeat(runId: string): Promise<boolean> {
    const result = await this.db.kysely
      .updateTable('async_jobs')
      .set({ timestamp: issueTimestamp(this.clock.now()) })
      .where('id', '=', runId)
      .where('status', '=', 'RUNNING')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Records how the run ended and releases its lock, in one transaction. Success logs the
   * tagged jobs and the key's earlier failures, which this run has now made good; failure
   * turns the tagged jobs into FAIL and gives every FAIL job of the key the new error.
   */
  async finish(runId: string, key: JobKey, outcome: RunOutcome): Promise<FinishResult> {
    return writeTransaction(this.db.kysely, async (tx) => {
      const lock = await tx.deleteFrom('async_jobs').where('id', '=', runId).where('status', '=', 'RUNNING').executeTakeFirst();
      // Taken over after an expiry: the run that took it owns these jobs now.
      if (Number(lock.numDeletedRows) === 0) return { held: false };
      if (!outcome.ok) {
        await tx
          .updateTable('async_jobs')
          .set({ error: outcome.error })
          .where('type', '=', key.type)
          .where('resource_id', '=', key.resourceId)
          .where('status', '=', 'FAIL')
          .execute();
        const failed = await tx
          .updateTable('async_jobs')
          .set({ status: 'FAIL', error: outcome.error, run_id: null })
          .where('type', '=', key.type)
          .where('resource_id', '=', key.resourceId)
          .where('run_id', '=', runId)
          .executeTakeFirst();
        return { held: true, jobs: Number(failed.numUpdatedRows) };
      }
      // Within the key's rows (its index), so that MariaDB locks those and no others: an OR
      // across indexes would scan and lock the table, deadlocking with other keys' runs.
      const consumed = (eb: ExpressionBuilder<TricircleTables, 'async_jobs'>) =>
        eb.and([eb('type', '=', key.type), eb('resource_id', '=', key.resourceId), eb.or([eb('run_id', '=', runId), eb('status', '=', 'FAIL')])]);
      await tx
        .insertInto('async_job_logs')
        .columns(['id', 'project_id', 'type', 'resource_id', 'timestamp'])
        .expression(tx.selectFrom('async_jobs').select(['id', 'project_id', 'type', 'resource_id', 'timestamp']).where(consumed))
        .execute();
      const done = await tx.deleteFrom('async_jobs').where(consumed).executeTakeFirst();
      return { held: true, jobs: Number(done.numDeletedRows) };
    });
  }

  /** Gives a run up unfinished (shutdown): the lock goes and its jobs are left for the next run, as they were. */
  async release(runId: string): Promise<void> {
    await writeTransaction(this.db.kysely, async (tx) => {
      await tx.deleteFrom('async_jobs').where('id', '=', runId).where('status', '=', 'RUNNING').execute();
      await tx.updateTable('async_jobs').set({ run_id: null }).where('run_id', '=', runId).execute();
    });
  }

  /** Whether NEW jobs of `key` are waiting (registered after the last run tagged its jobs). */
  async hasNew(key: JobKey): Promise<boolean> {
    const row = await this.db.kysely
      .selectFrom('async_jobs')
      .select('id')
      .where('type', '=', key.type)
      .where('resource_id', '=', key.resourceId)
      .where('status', '=', 'NEW')
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Keys with NEW jobs and no live run, oldest first: the poll that finds jobs whose wake-up
   * was lost, and locks whose worker died. Keys whose oldest NEW job is younger than
   * `minAgeSeconds` are left to their wake-up.
   */
  async waiting(limit: number, minAgeSeconds = 0): Promise<JobKey[]> {
    const expiredBefore = this.expiredBefore();
    const registeredBefore = formatMicros(new Date(this.clock.now().getTime() - minAgeSeconds * 1000));
    // The oldest NEW job of each key, read in timestamp order: the database stops after `limit`
    // keys instead of grouping the whole backlog on every poll.
    const rows = await this.db.kysely
      .selectFrom('async_jobs as j')
      .select((eb) => [
        'j.type',
        'j.resource_id',
        eb
          .selectFrom('async_jobs as p')
          .select((sub) => sub.fn.max('p.project_id').as('project_id'))
          .whereRef('p.type', '=', 'j.type')
          .whereRef('p.resource_id', '=', 'j.resource_id')
          .where('p.status', '=', 'NEW')
          .as('project_id'),
      ])
      .where('j.status', '=', 'NEW')
      .$if(minAgeSeconds > 0, (q) => q.where('j.timestamp', '<', registeredBefore))
      .where(({ and, not, exists, selectFrom }) =>
        and([
          not(
            exists(
              selectFrom('async_jobs as r')
                .select('r.id')
                .whereRef('r.type', '=', 'j.type')
                .whereRef('r.resource_id', '=', 'j.resource_id')
                .where('r.status', '=', 'RUNNING')
                .where('r.timestamp', '>=', expiredBefore),
            ),
          ),
          not(
            exists(
              selectFrom('async_jobs as o')
                .select('o.id')
                .whereRef('o.type', '=', 'j.type')
                .whereRef('o.resource_id', '=', 'j.resource_id')
                .where('o.status', '=', 'NEW')
                .where((eb) =>
                  eb.or([
                    eb('o.timestamp', '<', eb.ref('j.timestamp')),
                    eb.and([eb('o.timestamp', '=', eb.ref('j.timestamp')), eb('o.id', '<', eb.ref('j.id'))]),
                  ]),
                ),
            ),
          ),
        ]),
      )
      .orderBy('j.timestamp')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ type: r.type, resourceId: r.resource_id, projectId: r.project_id }));
  }

  /** Keys whose jobs failed within the last `spanSeconds`: what the periodic redo runs again. */
  async failed(spanSeconds: number): Promise<JobKey[]> {
    const since = formatMicros(new Date(this.clock.now().getTime() - spanSeconds * 1000));
    const rows = await this.db.kysely
      .selectFrom('async_jobs')
      .select((eb) => ['type', 'resource_id', eb.fn.max('project_id').as('project_id')])
      .where('status', '=', 'FAIL')
      .where('timestamp', '>=', since)
      .groupBy(['type', 'resource_id'])
      .execute();
    return rows.map((r) => ({ type: r.type, resourceId: r.resource_id, projectId: r.project_id }));
  }

  async backlog(): Promise<JobBacklog> {
    const row = await this.db.kysely
      .selectFrom('async_jobs')
      .select((eb) => [eb.fn.countAll<number | string>().as('count'), eb.fn.min('timestamp').as('oldest')])
      .where('status', '=', 'NEW')
      .executeTakeFirstOrThrow();
    const oldest = row.oldest === null ? null : Date.parse(`${String(row.oldest).replace(' ', 'T')}Z`);
    return {
      count: Number(row.count),
      oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (this.clock.now().getTime() - oldest) / 1000),
    };
  }
}
