import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { JobRuns } from '../tricircle/index.js';

const byType = { labelNames: ['type'] as const };

const perRegistry = new WeakMap<Registry, JobMetrics>();

/** The job metrics, in one registry: a process's /metrics shows what it registered and ran. */
export class JobMetrics {
  /** The one set of job metrics of `registry` (an API and the workers may share a process and its registry). */
  static of(registry: Registry): JobMetrics {
    let metrics = perRegistry.get(registry);
    if (!metrics) perRegistry.set(registry, (metrics = new JobMetrics(registry)));
    return metrics;
  }

  readonly registered: Counter<'type'>;
  readonly started: Counter<'type'>;
  readonly succeeded: Counter<'type'>;
  readonly failed: Counter<'type'>;
  readonly retried: Counter<'type'>;
  readonly duration: Histogram<'type' | 'outcome'>;

  private constructor(registry: Registry) {
    const registers = [registry];
    this.registered = new Counter({ name: 'xjob_jobs_registered_total', help: 'Jobs registered, by type.', ...byType, registers });
    this.started = new Counter({ name: 'xjob_runs_started_total', help: 'Runs started, by job type.', ...byType, registers });
    this.succeeded = new Counter({ name: 'xjob_jobs_succeeded_total', help: 'Jobs that ended SUCCESS, by type.', ...byType, registers });
    this.failed = new Counter({ name: 'xjob_jobs_failed_total', help: 'Jobs that ended FAIL, by type.', ...byType, registers });
    this.retried = new Counter({ name: 'xjob_retries_total', help: 'Handler attempts retried after a transient failure, by job type.', ...byType, registers });
    this.duration = new Histogram({
      name: 'xjob_run_duration_seconds',
      help: 'Time from claiming a run to recording its outcome, by job type and outcome.',
      labelNames: ['type', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
  }

  /** Gauges read from the database at scrape time: the NEW backlog and the age of its oldest job. */
  watchBacklog(registry: Registry, runs: JobRuns): void {
    let last: Promise<{ count: number; oldestAgeSeconds: number }> | null = null;
    // Both gauges are collected in one scrape: one query serves them.
    const read = () => (last ??= runs.backlog().finally(() => setImmediate(() => (last = null))));
    new Gauge({
      name: 'xjob_backlog_jobs',
      help: 'NEW jobs waiting in the database.',
      registers: [registry],
      async collect() {
        this.set((await read()).count);
      },
    });
    new Gauge({
      name: 'xjob_oldest_new_job_age_seconds',
      help: 'Seconds since the oldest NEW job was registered (0 when none waits).',
      registers: [registry],
      async collect() {
        this.set((await read()).oldestAgeSeconds);
      },
    });
  }
}
