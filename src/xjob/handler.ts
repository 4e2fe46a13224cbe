import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { isDatabaseUnavailable, type Db } from '../db/index.js';
import type { JobRepository, PodRepository, RoutingMap } from '../tricircle/index.js';

/** The regions as a handler reaches them: a Neutron REST client per region, with an admin token. */
export interface RegionClients {
  neutron(region: string): Promise<RegionNeutron>;
}

/** Neutron v2.0 over HTTP; a failure throws an error with the `status` of the answer. */
export interface RegionNeutron {
  /** `signal` (e.g. the run's) aborts the request besides its own [client] neutron_timeout. */
  request<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T>;
}

/** The Tricircle state a handler reads and writes besides the regions. */
export interface JobServices {
  db: Db;
  config: Config;
  pods: PodRepository;
  routings: RoutingMap;
  /** Registers follow-up jobs (router_setup casts configure_route); they wake this process's workers. */
  jobs: JobRepository;
  /** The central Neutron: the region [client] top_region_name, as the admin. */
  central(): Promise<RegionNeutron>;
}

/** What a handler is given for one run. */
export interface JobRunContext {
  type: string;
  /** The job's resource, by the keys its type declares. */
  resource: Record<string, string>;
  resourceId: string;
  /** The project the jobs of this run were registered for. */
  projectId: string | null;
  /** 1 for the first attempt of this run, more on retries. */
  attempt: number;
  clients: RegionClients;
  services: JobServices;
  /** Bound to the run id, type and resource. */
  logger: Logger;
  /** Aborted when the process shuts down and the grace period is over, or when another worker took the run's lock over. */
  signal: AbortSignal;
}

/**
 * An idempotent reconciler: it reads the desired state afresh, converges the regions from
 * whatever partial state they are in, and may run any number of times (docs/xjob.md).
 */
export type JobHandler = (ctx: JobRunContext) => Promise<void>;

export interface JobHandlerSpec {
  /** The resource keys, in the order their values join into the job's resource_id. */
  resource: readonly string[];
  handle: JobHandler;
}

/**
 * A failure the handler knows the kind of: `transient` ones are retried with backoff,
 * permanent ones fail the job at once.
 */
export class JobFailure extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'JobFailure';
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Whether retrying might help: a region that is unreachable, slow or answering 5xx, a 409
 * lost to a race, a 408 or 429, a database that is down. Any other 4xx is the request's own
 * fault and so is an error without a status (a bug does not fix itself by retrying; the
 * periodic redo still gives it another chance later).
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof JobFailure) return err.transient;
  const e = err as { status?: unknown; code?: unknown; name?: unknown; cause?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  if (typeof e.status === 'number') return e.status >= 500 || [408, 409, 429].includes(e.status);
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  if (isDatabaseUnavailable(err)) return true;
  // fetch() reports network failures as TypeError('fetch failed') with the socket error as cause.
  return e.cause !== undefined && e.cause !== err && isTransient(e.cause);
}

/** The message stored with a FAIL job: what went wrong, without a stack trace. */
export function failureMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${message}${cause}`.slice(0, 2000);
}
