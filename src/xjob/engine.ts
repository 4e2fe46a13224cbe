import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { JobKey, JobRuns, JobWaker, RunOutcome } from '../tricircle/index.js';
import { failureMessage, isTransient, type JobHandlerSpec, type JobServices, type RegionClients } from './handler.js';
import type { JobMetrics } from './metrics.js';

export interface RetryPolicy {
  /** Attempts per run, the first included. */
  attempts: number;
  /** Seconds before the first retry; each further retry doubles it, up to maxDelay. */
  baseDelay: number;
  maxDelay: number;
}

export interface EngineOptions {
  runs: JobRuns;
  handlers: ReadonlyMap<string, JobHandlerSpec>;
  clients: RegionClients;
  services: JobServices;
  logger: Logger;
  metrics?: JobMetrics;
  /** Concurrent runs in this process. */
  workers: number;
  /** Seconds between polls of the database for NEW jobs nobody woke us for. */
  pollInterval: number;
  /**
   * Seconds a NEW job must have waited before the poll takes it. With a broker its wake-up is
   * on the way to some process: a poll that took it too would race that process for nothing.
   */
  pollMinAge: number;
  /** [xjob] job_run_expire: a run refreshes its lock at a third of it. */
  runExpire: number;
  redo: { interval: number; fuzzyDelay: number; timeSpan: number };
  retry: RetryPolicy;
}

interface Pending {
  key: JobKey;
  /** Also consume the key's FAIL jobs (the periodic redo). */
  redo: boolean;
  /** Acknowledgements of the broker messages this entry stands for. */
  acks: Array<() => void>;
  /** It waited for a run of its key in this process, whose last check for new jobs has likely consumed them. */
  deferred?: boolean;
}

/** Not an outcome: the process is stopping and the run is given back unfinished. */
const ABANDONED = Symbol('abandoned');

const keyOf = (key: JobKey) => `${key.type}\u0000${key.resourceId}`;

/** A poll reads this many times the keys it takes, and takes a random share of them. */
const POLL_SPREAD = 8;

/** Fisher-Yates, in place. */
function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Full jitter: a random wait up to the capped exponential delay, in milliseconds. */
export function backoffDelay(retry: RetryPolicy, attempt: number): number {
  return Math.random() * Math.min(retry.maxDelay, retry.baseDelay * 2 ** (attempt - 1)) * 1000;
}

/**
 * The job workers of one process. Keys to run come from wake-ups (in process, or broker
 * messages), from the database poll and from the periodic redo; each key runs in at most one
 * place at a time, held by the database lock (JobRuns), and a run loops while NEW jobs keep
 * arriving for its key.
 */
export class XJobEngine implements JobWaker {
  private readonly pending = new Map<string, Pending>();
  private readonly active = new Set<string>();
  private readonly runningRuns = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  private stopping = false;
  private polling = false;
  /** The last poll filled its page: there is more backlog to fetch as soon as there is room. */
  private backlogLeft = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly options: EngineOptions) {}

  start(): void {
    const { pollInterval, redo } = this.options;
    this.timers.push(setInterval(() => void this.poll(), pollInterval * 1000));
    // Several processes started together should not redo in step: a random first delay.
    const first = setTimeout(
      () => {
        void this.redoFailed();
        this.timers.push(setInterval(() => void this.redoFailed(), redo.interval * 1000).unref());
      },
      Math.random() * redo.fuzzyDelay * 1000,
    );
    this.timers.push(first);
    for (const timer of this.timers) timer.unref();
    void this.poll();
  }

  /** JobWaker: jobs were committed in this process. */
  wake(keys: readonly JobKey[]): void {
    for (const key of keys) this.enqueue(key, false);
    this.pump();
  }

  /** A broker message for `key`; `ack` is called once a run has dealt with it. */
  deliver(key: JobKey, ack: () => void): void {
    this.enqueue(key, false, ack);
    this.pump();
  }

  /** How many runs are under way in this process. */
  get busy(): number {
    return this.active.size;
  }

  /**
   * Stops claiming, lets running handlers finish for up to `graceSeconds`, then aborts them
   * and gives their runs back (lock released, jobs left NEW for another process).
   */
  async stop(graceSeconds: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const entry of this.pending.values()) entry.acks.forEach((ack) => ack());
    this.pending.clear();
    const settled = Promise.allSettled([...this.runningRuns]);
    // The grace timer keeps the process alive while runs are under way (a handler waiting on
    // nothing that holds the event loop would otherwise let it exit before the abort and
    // release), and is cancelled as soon as they settle.
    const cancelGrace = new AbortController();
    const graceOver = sleep(graceSeconds * 1000, 'grace over', { signal: cancelGrace.signal }).catch(() => 'runs settled');
    const first = await Promise.race([settled, graceOver]);
    cancelGrace.abort();
    if (first === 'grace over') {
      this.options.logger.warn({ runs: this.active.size }, 'grace period over: aborting running jobs');
      this.shutdown.abort();
      await settled;
    }
  }

  private enqueue(key: JobKey, redo: boolean, ack?: () => void): void {
    if (this.stopping) {
      ack?.();
      return;
    }
    const id = keyOf(key);
    const entry = this.pending.get(id);
    if (entry) {
      entry.redo ||= redo;
      if (ack) entry.acks.push(ack);
      return;
    }
    this.pending.set(id, { key, redo, acks: ack ? [ack] : [] });
  }

  /** Starts runs while there are free workers and keys not already running here. */
  private pump(): void {
    for (const [id, entry] of this.pending) {
      if (this.stopping || this.active.size >= this.options.workers) break;
      if (this.active.has(id)) {
        entry.deferred = true; // its run checks for new jobs when it ends; this entry waits for that
        continue;
      }
      this.pending.delete(id);
      this.active.add(id);
      const run = this.runKey(entry).finally(() => {
        this.active.delete(id);
        this.runningRuns.delete(run);
        entry.acks.forEach((ack) => ack());
        this.pump();
      });
      this.runningRuns.add(run);
    }
    if (this.backlogLeft && this.pending.size < this.options.workers) void this.poll();
  }

  /** Finds NEW jobs that no wake-up announced (lost message, dead worker) and queues their keys. */
  private async poll(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      // A random share of the oldest waiting keys: processes polling one backlog then mostly
      // take different keys, instead of all racing for the same oldest ones (a lost race
      // costs the loser two or three transactions and does nothing).
      const limit = this.options.workers * 4;
      const keys = shuffled(await this.options.runs.waiting(limit * POLL_SPREAD, this.options.pollMinAge));
      this.backlogLeft = keys.length > limit;
      for (const key of keys.slice(0, limit)) if (!this.active.has(keyOf(key))) this.enqueue(key, false);
    } catch (err) {
      this.backlogLeft = false;
      this.options.logger.warn({ err }, 'polling for jobs failed');
    } finally {
      this.polling = false;
    }
    this.pump();
  }

  /** The periodic redo: runs again every key whose jobs failed within redo_time_span. */
  private async redoFailed(): Promise<void> {
    if (this.stopping) return;
    try {
      const keys = await this.options.runs.failed(this.options.redo.timeSpan);
      for (const key of keys) this.enqueue(key, true);
      if (keys.length) this.options.logger.info({ keys: keys.length }, 'redoing failed jobs');
    } catch (err) {
      this.options.logger.warn({ err }, 'looking for failed jobs failed');
    }
    this.pump();
  }

  /** Runs `entry`'s key until no NEW job is left for it, or another worker holds it. */
  private async runKey(entry: Pending): Promise<void> {
    const { runs, logger } = this.options;
    let redo = entry.redo;
    // A deferred entry is usually stale: one read instead of claiming and releasing a lock for nothing.
    if (entry.deferred && !redo && !(await runs.hasNew(entry.key).catch(() => true))) return;
    while (!this.stopping) {
      let runId: string | null = null;
      try {
        runId = await runs.claim(entry.key);
        if (runId === null) return; // a live run elsewhere has it, and will see our jobs when it ends
        if ((await runs.mark(entry.key, runId, redo)) === 0) {
          await runs.release(runId);
          return;
        }
        await this.run(entry.key, runId);
        runId = null;
        redo = false;
        if (!(await runs.hasNew(entry.key))) return;
      } catch (err) {
        // The database failed us: the jobs stay as they are and the poll comes back for them.
        logger.error({ err, type: entry.key.type, resource_id: entry.key.resourceId }, 'job run interrupted by a database error');
        if (runId !== null) {
          await runs
            .release(runId)
            .catch((releaseErr: unknown) => logger.error({ err: releaseErr, run_id: runId }, 'job run lock not released: it expires after job_run_expire'));
        }
        return;
      }
    }
  }

  /** One run: the handler with retries, under a refreshed lock, then its outcome recorded. */
  private async run(key: JobKey, runId: string): Promise<void> {
    const { runs, metrics, logger } = this.options;
    const started = performance.now();
    metrics?.started.inc({ type: key.type });
    const lockLost = new AbortController();
    const heartbeat = setInterval(
      () =>
        void runs.heartbeat(runId).then(
          (held) => held || lockLost.abort(),
          () => undefined,
        ),
      (this.options.runExpire * 1000) / 3,
    );
    heartbeat.unref();
    let attempts = 0;
    let outcome: RunOutcome | typeof ABANDONED;
    try {
      outcome = await this.attempt(key, runId, AbortSignal.any([this.shutdown.signal, lockLost.signal]), (n) => (attempts = n));
    } finally {
      clearInterval(heartbeat);
    }
    const fields = { run_id: runId, type: key.type, resource_id: key.resourceId, project_id: key.projectId, attempts };
    if (outcome === ABANDONED) {
      await runs.release(runId);
      logger.warn({ ...fields, outcome: 'abandoned' }, 'job run given back unfinished');
      return;
    }
    const result = await runs.finish(runId, key, outcome);
    const seconds = (performance.now() - started) / 1000;
    const label = !result.held ? 'lost' : outcome.ok ? 'success' : 'fail';
    metrics?.duration.observe({ type: key.type, outcome: label }, seconds);
    if (result.held) (outcome.ok ? metrics?.succeeded : metrics?.failed)?.inc({ type: key.type }, result.jobs);
    const line = {
      ...fields,
      outcome: label,
      jobs: result.held ? result.jobs : 0,
      ms: Math.round(seconds * 1000),
      ...(outcome.ok ? {} : { error: outcome.error }),
    };
    if (label === 'success') logger.info(line, 'job run');
    else logger.warn(line, label === 'lost' ? 'job run lost its lock to another worker' : 'job run failed');
  }

  private async attempt(key: JobKey, runId: string, signal: AbortSignal, counted: (n: number) => void): Promise<RunOutcome | typeof ABANDONED> {
    const { handlers, retry, metrics, clients, services } = this.options;
    const spec = handlers.get(key.type);
    if (!spec) return { ok: false, error: `No handler for job type ${key.type} in this version of tricircle` };
    const values = key.resourceId.split('#');
    const resource = Object.fromEntries(spec.resource.map((name, i) => [name, values[i] ?? '']));
    const logger = this.options.logger.child({ run_id: runId, type: key.type, resource_id: key.resourceId });
    for (let attempt = 1; ; attempt++) {
      counted(attempt);
      try {
        await spec.handle({ type: key.type, resource, resourceId: key.resourceId, projectId: key.projectId, attempt, clients, services, logger, signal });
        return { ok: true };
      } catch (err) {
        if (signal.aborted) return ABANDONED;
        if (attempt >= retry.attempts || !isTransient(err)) return { ok: false, error: failureMessage(err) };
        metrics?.retried.inc({ type: key.type });
        logger.warn({ err: failureMessage(err), attempt }, 'job handler failed, retrying');
        try {
          await sleep(backoffDelay(retry, attempt), undefined, { signal });
        } catch {
          return ABANDONED;
        }
      }
    }
  }
}
