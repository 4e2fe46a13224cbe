import { setTimeout as sleep } from 'node:timers/promises';
import type { AdminClient } from './admin-client.js';
import { cell, shorten } from './output.js';

// `tricircle job wait`: polls the Admin API until no job is NEW or RUNNING, then says whether
// any job is FAIL. Each poll is one request for both statuses, so "none left" is one reading
// of the table; a backlog larger than one page (pagination_max_limit) is shown as "≥N".

/** Exit codes, also in the command's help and docs/xjob.md. */
export const WAIT_EXIT = { done: 0, timedOut: 2, failed: 3 } as const;

export interface WaitOptions {
  /** Seconds; 0 waits without a limit. */
  timeout: number;
  /** Seconds between polls. */
  interval: number;
  filters: { project_id?: string; type?: string };
}

interface JobView {
  id: string;
  type: string;
  status: string;
  timestamp: string;
  resource: unknown;
  error: unknown;
}

interface JobPage {
  jobs: JobView[];
  /** More jobs follow than one page holds. */
  more: boolean;
}

// Failed jobs named in the message; the rest are counted.
const FAILED_SHOWN = 10;

async function jobPage(client: AdminClient, filters: WaitOptions['filters'], statuses: string[]): Promise<JobPage> {
  const query = new URLSearchParams();
  for (const status of statuses) query.append('status', status);
  for (const [key, value] of Object.entries(filters)) if (value !== undefined) query.set(key, value);
  const reply = await client.request('GET', `/v1.0/jobs?${query}`);
  if (!Array.isArray(reply.jobs)) throw new Error(`the Admin API's answer has no "jobs" list`);
  return { jobs: reply.jobs as JobView[], more: Array.isArray(reply.jobs_links) && reply.jobs_links.length > 0 };
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/**
 * The NEW jobs seen during the wait, and those since gone (SUCCESS or FAIL). A job missing
 * from a truncated page may only lie beyond it, so it counts as gone only when it is newer
 * than the page's oldest job (the list is newest first).
 */
class Finished {
  private readonly seen = new Map<string, string>();
  private gone = 0;

  update(page: JobPage): void {
    const present = new Set(page.jobs.map((job) => job.id));
    const oldest = page.jobs.reduce((min, job) => (job.timestamp < min ? job.timestamp : min), '\uffff');
    for (const [id, timestamp] of this.seen) {
      if (present.has(id) || (page.more && timestamp <= oldest)) continue;
      this.seen.delete(id);
      this.gone++;
    }
    // RUNNING rows are the runs' locks, not jobs.
    for (const job of page.jobs) if (job.status === 'NEW') this.seen.set(job.id, job.timestamp);
  }

  get count(): number {
    return this.gone;
  }
}

/** On a terminal, one line rewritten in place; otherwise a plain line whenever the counts change. */
class Progress {
  private last = '';

  constructor(private readonly stream: NodeJS.WriteStream) {}

  show(state: string, elapsedMs: number): void {
    if (this.stream.isTTY) {
      this.stream.write(`\r${state}... ${seconds(elapsedMs)}\x1b[K`);
    } else if (state !== this.last) {
      this.stream.write(`${state} (${seconds(elapsedMs)})\n`);
    }
    this.last = state;
  }

  /** Ends the line being rewritten, so that what follows starts on its own. */
  end(): void {
    if (this.stream.isTTY && this.last) this.stream.write('\n');
  }
}

function pendingCounts(page: JobPage): string {
  if (page.more) return `≥${page.jobs.length} NEW or RUNNING`;
  const running = page.jobs.filter((job) => job.status === 'RUNNING').length;
  return `${page.jobs.length - running} NEW, ${running} RUNNING`;
}

function failureReport(page: JobPage, finished: number): string {
  const count = page.more ? `≥${page.jobs.length}` : String(page.jobs.length);
  const lines = page.jobs.slice(0, FAILED_SHOWN).map((job) => `  ${job.id}  ${job.type}  ${cell(job.resource)}  ${shorten(cell(job.error), 200)}`);
  const rest = page.jobs.length - FAILED_SHOWN;
  if (rest > 0 || page.more) lines.push(`  ... and ${page.more ? 'more' : rest}: tricircle job list --status fail`);
  return `no job is NEW or RUNNING (${finished} finished while waiting), but ${count} FAIL:\n${lines.join('\n')}\n`;
}

/**
 * Waits until no job matching the filters is NEW or RUNNING; returns the exit code:
 * done (none FAIL either), failed (some FAIL remain) or timedOut (some still pending).
 */
export async function waitForJobs(client: AdminClient, options: WaitOptions): Promise<number> {
  const err = process.stderr;
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const finished = new Finished();
  const progress = new Progress(err);
  for (;;) {
    const pending = await jobPage(client, options.filters, ['new', 'running']);
    finished.update(pending);
    if (pending.jobs.length === 0) break;
    const counts = pendingCounts(pending);
    progress.show(`waiting: ${counts}, ${finished.count} done`, elapsed());
    const left = options.timeout * 1000 - elapsed();
    if (options.timeout > 0 && left <= 0) {
      progress.end();
      err.write(`tricircle: timed out after ${options.timeout}s with ${counts} jobs left (tricircle job list --status new)\n`);
      return WAIT_EXIT.timedOut;
    }
    await sleep(options.timeout > 0 ? Math.min(options.interval * 1000, left) : options.interval * 1000);
  }
  progress.end();
  // Any FAIL job counts, not only those seen NEW: a job can fail before the first poll, and
  // a FAIL row stays only until a run of its resource succeeds, so each one is a resource
  // the regions do not match yet.
  const failed = await jobPage(client, options.filters, ['fail']);
  if (failed.jobs.length > 0) {
    err.write(`tricircle: ${failureReport(failed, finished.count)}`);
    return WAIT_EXIT.failed;
  }
  process.stdout.write(`done: no job is NEW, RUNNING or FAIL; ${plural(finished.count, 'job')} finished while waiting (${seconds(elapsed())})\n`);
  return WAIT_EXIT.done;
}
