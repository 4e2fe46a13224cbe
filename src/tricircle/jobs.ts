import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { formatMicros, issueTimestamp, isUniqueViolation, systemClock, toSeconds, type Clock, type Db } from '../db/index.js';
import type { AsyncJobsTable, TricircleTables } from '../db/index.js';
import { badRequest, notFound } from '../http/errors.js';
import { resourceOf } from './job-types.js';
import type { Page } from './routings.js';

export const JOB_STATUSES = ['NEW', 'RUNNING', 'SUCCESS', 'FAIL'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** extra_id of the RUNNING row: with the unique (type, status, resource_id, extra_id) it is the run lock. */
const RUNNING_LOCK = '00000000-0000-0000-0000-000000000000';

/** A job as the Admin API shows it. */
export interface Job {
  id: string;
  project_id: string | null;
  type: string;
  timestamp: string;
  status: JobStatus;
  resource: Record<string, string>;
}

export interface JobFilters {
  project_id?: string[];
  type?: string[];
  status?: JobStatus[];
}

type Executor = Kysely<TricircleTables> | Transaction<TricircleTables>;
type LogRow = { id: string; project_id: string | null; type: string; timestamp: string; resource_id: string };

const toJob = (row: LogRow & { status?: string }): Job => ({
  id: row.id,
  project_id: row.project_id,
  type: row.type,
  timestamp: toSeconds(row.timestamp)!,
  status: (row.status ?? 'SUCCESS') as JobStatus,
  resource: resourceOf(row.type, row.resource_id),
});

/**
 * The job tables. Active jobs live in async_jobs (NEW, RUNNING, FAIL and not-yet-moved
 * SUCCESS); a successful run moves its job to async_job_logs and purges the rows it consumed.
 */
export class JobRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
    /** Seconds after which a RUNNING row is a dead worker's and may be taken over. */
    private readonly runExpireSeconds = 180,
  ) {}

  /** Records a NEW job; pass the caller's transaction so the job commits with the change that implies it. */
  async register(projectId: string | null, type: string, resourceId: string, executor: Executor = this.db.kysely): Promise<Job> {
    const row: AsyncJobsTable = {
      id: randomUUID(),
      project_id: projectId,
      type,
      timestamp: issueTimestamp(this.clock.now()),
      status: 'NEW',
      resource_id: resourceId,
      extra_id: randomUUID(),
    };
    await executor.insertInto('async_jobs').values(row).execute();
    return toJob(row);
  }

  /** From the active table or, failing that, the log; `fromLog` says which. */
  async find(id: string): Promise<{ job: Job; fromLog: boolean; resourceId: string } | null> {
    const active = await this.db.kysely.selectFrom('async_jobs').selectAll().where('id', '=', id).executeTakeFirst();
    if (active) return { job: toJob(active), fromLog: false, resourceId: active.resource_id };
    const logged = await this.db.kysely.selectFrom('async_job_logs').selectAll().where('id', '=', id).executeTakeFirst();
    if (logged) return { job: toJob(logged), fromLog: true, resourceId: logged.resource_id };
    return null;
  }

  async get(id: string): Promise<Job> {
    const found = await this.find(id);
    if (!found) throw notFound(`Job ${id} not found`);
    return found.job;
  }

  /**
   * Active jobs first, then the log, each newest first (timestamp, then id, descending).
   * A status filter other than SUCCESS leaves the log out. `marker` is the id of the last
   * job of the previous page, from either table.
   */
  async list(filters: JobFilters, limit: number, marker?: string): Promise<Page<Job>> {
    // A filter that allows no value (e.g. a status that names none) matches nothing.
    if (Object.values(filters).some((values) => values.length === 0)) return { items: [], more: false };
    let markerRow: { timestamp: string; id: string } | undefined;
    let markerInLog = false;
    if (marker !== undefined) {
      const found = await this.find(marker);
      if (!found) throw badRequest(`Invalid marker: job ${marker} not found`);
      markerInLog = found.fromLog;
      const table = markerInLog ? 'async_job_logs' : 'async_jobs';
      markerRow = await this.db.kysely.selectFrom(table).select(['timestamp', 'id']).where('id', '=', marker).executeTakeFirstOrThrow();
    }
    const items: Job[] = [];
    const wanted = limit + 1;
    if (!markerInLog) {
      let query = this.db.kysely.selectFrom('async_jobs').selectAll();
      if (filters.project_id) query = query.where('project_id', 'in', filters.project_id);
      if (filters.type) query = query.where('type', 'in', filters.type);
      if (filters.status) query = query.where('status', 'in', filters.status);
      if (markerRow) {
        const m = markerRow;
        query = query.where((eb) => eb.or([eb('timestamp', '<', m.timestamp), eb.and([eb('timestamp', '=', m.timestamp), eb('id', '<', m.id)])]));
      }
      const rows = await query.orderBy('timestamp', 'desc').orderBy('id', 'desc').limit(wanted).execute();
      items.push(...rows.map(toJob));
    }
    const logIncluded = !filters.status || filters.status.includes('SUCCESS');
    if (items.length < wanted && logIncluded) {
      let query = this.db.kysely.selectFrom('async_job_logs').selectAll();
      if (filters.project_id) query = query.where('project_id', 'in', filters.project_id);
      if (filters.type) query = query.where('type', 'in', filters.type);
      if (markerRow && markerInLog) {
        const m = markerRow;
        query = query.where((eb) => eb.or([eb('timestamp', '<', m.timestamp), eb.and([eb('timestamp', '=', m.timestamp), eb('id', '<', m.id)])]));
      }
      const rows = await query
        .orderBy('timestamp', 'desc')
        .orderBy('id', 'desc')
        .limit(wanted - items.length)
        .execute();
      items.push(...rows.map(toJob));
    }
    return { items: items.slice(0, limit), more: items.length > limit };
  }

  /**
   * Admin API delete: a NEW or FAIL job is removed; a SUCCESS job still in the active table
   * is finished (moved to the log, consuming older rows); RUNNING and logged jobs are refused.
   */
  async remove(id: string): Promise<void> {
    const found = await this.find(id);
    if (!found) throw notFound(`Job ${id} not found`);
    if (found.fromLog) throw badRequest(`Job ${id} is from job log`);
    const { job } = found;
    if (job.status === 'RUNNING') throw badRequest(`Failed to delete the job ${id} because it is running`);
    if (job.status === 'SUCCESS') {
      await this.db.kysely.transaction().execute((tx) => this.moveToLog(tx, id, found.resourceId, job, issueTimestamp(this.clock.now())));
      return;
    }
    await this.db.kysely.deleteFrom('async_jobs').where('id', '=', id).execute();
  }

  /** Admin API redo: a NEW or FAIL job gets a fresh NEW job for the same type and resource. */
  async redo(id: string): Promise<Job> {
    const found = await this.find(id);
    if (!found) throw notFound(`Job ${id} not found`);
    if (found.fromLog) throw badRequest(`Job ${id} is from job log`);
    if (found.job.status === 'RUNNING') throw badRequest(`Can't redo job ${id} which is running`);
    if (found.job.status === 'SUCCESS') throw badRequest(`Can't redo job ${id} which has succeeded`);
    return this.register(found.job.project_id, found.job.type, found.resourceId);
  }

  /**
   * Takes the run lock of (type, resource): inserts the RUNNING row, which the unique
   * constraint allows once. A RUNNING row older than the expiry is a dead worker's: it is
   * turned into FAIL and the lock taken over. Returns the RUNNING job's id, or null when
   * another live worker holds the lock.
   */
  async claim(type: string, resourceId: string, projectId: string | null): Promise<string | null> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const id = randomUUID();
      try {
        await this.db.kysely
          .insertInto('async_jobs')
          .values({
            id,
            project_id: projectId,
            type,
            timestamp: issueTimestamp(this.clock.now()),
            status: 'RUNNING',
            resource_id: resourceId,
            extra_id: RUNNING_LOCK,
          })
          .execute();
        return id;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      const expiredBefore = formatMicros(new Date(this.clock.now().getTime() - this.runExpireSeconds * 1000));
      const taken = await this.db.kysely
        .updateTable('async_jobs')
        .set({ status: 'FAIL', extra_id: randomUUID() })
        .where('type', '=', type)
        .where('resource_id', '=', resourceId)
        .where('status', '=', 'RUNNING')
        .where('extra_id', '=', RUNNING_LOCK)
        .where('timestamp', '<', expiredBefore)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 0) return null;
    }
    return null;
  }

  /** Timestamp of the newest NEW job of (type, resource): a run consumes the jobs up to it. */
  async latestNewTimestamp(type: string, resourceId: string): Promise<string | null> {
    const row = await this.db.kysely
      .selectFrom('async_jobs')
      .select('timestamp')
      .where('type', '=', type)
      .where('resource_id', '=', resourceId)
      .where('status', '=', 'NEW')
      .orderBy('timestamp', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.timestamp ?? null;
  }

  /**
   * Ends a run and releases the lock. Success: the run goes to the log and every active row
   * of (type, resource) up to `consumedUpTo` is purged; NEW rows registered later stay and
   * cause another run. Failure: the run stays as FAIL at `consumedUpTo`, older rows go.
   */
  async finish(runningId: string, ok: boolean, consumedUpTo: string): Promise<void> {
    await this.db.kysely.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('async_jobs').selectAll().where('id', '=', runningId).executeTakeFirst();
      if (!row) return;
      if (ok) {
        await this.moveToLog(tx, runningId, row.resource_id, toJob(row), consumedUpTo);
        return;
      }
      await tx.updateTable('async_jobs').set({ status: 'FAIL', extra_id: randomUUID(), timestamp: consumedUpTo }).where('id', '=', runningId).execute();
      await tx
        .deleteFrom('async_jobs')
        .where('type', '=', row.type)
        .where('resource_id', '=', row.resource_id)
        .where('timestamp', '<', consumedUpTo)
        .where('id', '!=', runningId)
        .execute();
    });
  }

  private async moveToLog(tx: Executor, id: string, resourceId: string, job: Job, timestamp: string): Promise<void> {
    await tx.deleteFrom('async_jobs').where('id', '=', id).execute();
    await tx
      .deleteFrom('async_jobs')
      .where('type', '=', job.type)
      .where('resource_id', '=', resourceId)
      .where('timestamp', '<=', timestamp)
      .where('status', '!=', 'RUNNING')
      .execute();
    await tx.insertInto('async_job_logs').values({ id, project_id: job.project_id, type: job.type, resource_id: resourceId, timestamp }).execute();
  }
}
