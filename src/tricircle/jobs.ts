import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { issueTimestamp, systemClock, writeTransaction, toSeconds, type Clock, type Db } from '../db/index.js';
import type { AsyncJobsTable, TricircleTables } from '../db/index.js';
import { badRequest, notFound } from '../http/errors.js';
import { resourceIdOf, resourceOf, type JobType } from './job-types.js';
import type { Page } from './routings.js';

export const JOB_STATUSES = ['NEW', 'RUNNING', 'SUCCESS', 'FAIL'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A job as the Admin API shows it. */
export interface Job {
  id: string;
  project_id: string | null;
  type: string;
  timestamp: string;
  status: JobStatus;
  resource: Record<string, string>;
  /** Why the job failed: set on FAIL jobs only. */
  error: string | null;
}

/** What a run works on: jobs of one type for one resource run one at a time. */
export interface JobKey {
  type: string;
  resourceId: string;
  projectId: string | null;
}

/** Tells the workers that jobs are waiting (in process, or through the message broker). */
export interface JobWaker {
  wake(keys: readonly JobKey[]): void;
}

/** Who registers a job: the project the job works for. */
export interface JobContext {
  projectId: string | null;
}

export interface JobFilters {
  project_id?: string[];
  type?: string[];
  status?: JobStatus[];
}

type Executor = Kysely<TricircleTables> | Transaction<TricircleTables>;
type LogRow = { id: string; project_id: string | null; type: string; timestamp: string; resource_id: string };

const toJob = (row: LogRow & { status?: string; error?: string | null }): Job => ({
  id: row.id,
  project_id: row.project_id,
  type: row.type,
  timestamp: toSeconds(row.timestamp)!,
  status: (row.status ?? 'SUCCESS') as JobStatus,
  resource: resourceOf(row.type, row.resource_id),
  error: row.error ?? null,
});

/**
 * The job tables as callers and the Admin API see them. Active jobs live in async_jobs (NEW,
 * the RUNNING row that is a run's lock, FAIL); a successful run moves the jobs it consumed
 * to async_job_logs. The workers' side is JobRuns.
 */
export class JobRepository {
  /** Jobs registered inside a transaction, woken once it commits. */
  private readonly unwoken = new WeakMap<Executor, JobKey[]>();

  constructor(
    private readonly db: Db,
    private readonly waker: JobWaker = { wake: () => {} },
    private readonly clock: Clock = systemClock,
    /** Counts registrations, by type (the xjob_jobs_registered_total metric). */
    private readonly onRegistered: (type: string) => void = () => {},
  ) {}

  /**
   * Records a NEW job for `resource` (the type's resource keys). Inside a transaction from
   * `transaction()` (or one whose commit the caller reports to `committed()`), the job
   * commits or rolls back with the change that implies it, and the workers are woken after
   * the commit; outside one, it is written and woken at once.
   */
  async register(executor: Executor, ctx: JobContext, type: JobType, resource: Record<string, string>): Promise<Job> {
    return this.add(executor, { type, resourceId: resourceIdOf(type, resource), projectId: ctx.projectId });
  }

  /** register() in a write of its own, waking the workers at once. */
  registerNow(ctx: JobContext, type: JobType, resource: Record<string, string>): Promise<Job> {
    return this.register(this.db.kysely, ctx, type, resource);
  }

  /** register() for a key already joined into a resource id (redo, and job types outside the registry). */
  async add(executor: Executor, key: JobKey): Promise<Job> {
    const row: AsyncJobsTable = {
      id: randomUUID(),
      project_id: key.projectId,
      type: key.type,
      timestamp: issueTimestamp(this.clock.now()),
      status: 'NEW',
      resource_id: key.resourceId,
      extra_id: randomUUID(),
    };
    await executor.insertInto('async_jobs').values(row).execute();
    this.onRegistered(key.type);
    if (executor.isTransaction) {
      const keys = this.unwoken.get(executor) ?? [];
      keys.push(key);
      this.unwoken.set(executor, keys);
    } else {
      this.waker.wake([key]);
    }
    return toJob(row);
  }

  /** Runs `fn` in one READ COMMITTED transaction and wakes the workers for the jobs it registered once it commits. */
  async transaction<T>(fn: (tx: Transaction<TricircleTables>) => Promise<T>): Promise<T> {
    let last: Transaction<TricircleTables> | undefined;
    const result = await writeTransaction(this.db.kysely, (tx) => {
      last = tx;
      return fn(tx);
    });
    if (last) this.committed(last);
    return result;
  }

  /** Wakes the workers for the jobs registered in `tx`, which has committed. */
  committed(tx: Executor): void {
    const keys = this.unwoken.get(tx);
    if (!keys) return;
    this.unwoken.delete(tx);
    this.waker.wake(keys);
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
      // Only a database written by upstream holds these: finish it as upstream would.
      await this.db.kysely.transaction().execute((tx) => this.moveToLog(tx, id, found.resourceId, job, issueTimestamp(this.clock.now())));
      return;
    }
    await this.db.kysely.deleteFrom('async_jobs').where('id', '=', id).execute();
  }

  /** Admin API redo: a NEW or FAIL job gets a fresh NEW job for the same type and resource, and the workers are woken. */
  async redo(id: string): Promise<Job> {
    const found = await this.find(id);
    if (!found) throw notFound(`Job ${id} not found`);
    if (found.fromLog) throw badRequest(`Job ${id} is from job log`);
    if (found.job.status === 'RUNNING') throw badRequest(`Can't redo job ${id} which is running`);
    if (found.job.status === 'SUCCESS') throw badRequest(`Can't redo job ${id} which has succeeded`);
    return this.add(this.db.kysely, { type: found.job.type, resourceId: found.resourceId, projectId: found.job.project_id });
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
