import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { regionClientsFor } from '../client/index.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import { JobRepository, JobRuns, PodRepository, RoutingMap, type JobWaker } from '../tricircle/index.js';
import { XJobEngine } from './engine.js';
import { JobFailure, type JobHandlerSpec, type JobServices, type RegionClients } from './handler.js';
import { builtInHandlers } from './jobs/index.js';
import { JobMetrics } from './metrics.js';
import { RabbitListener, RabbitWaker, amqpUrls } from './rabbit.js';

export interface XJobService {
  engine: XJobEngine;
  /** Stops taking work and lets running jobs finish for up to `graceSeconds` (see XJobEngine.stop). */
  stop(graceSeconds: number): Promise<void>;
}

/** Without [client] credentials, a handler that needs a region fails permanently with this. */
const noRegionClients: RegionClients = {
  neutron: async (region) => {
    throw new JobFailure(`no client for region ${region}: the [client] options auth_url, admin_username, admin_password and admin_tenant are not set`, false);
  },
};

/** The extra job types of [xjob] handler_modules: each module exports `jobTypes: { <type>: { resource, handle } }`. */
async function loadHandlerModules(paths: string[]): Promise<Map<string, JobHandlerSpec>> {
  const handlers = new Map<string, JobHandlerSpec>();
  for (const path of paths) {
    const module = (await import(pathToFileURL(resolve(path)).href)) as { jobTypes?: Record<string, JobHandlerSpec> };
    const types = module.jobTypes;
    if (!types || typeof types !== 'object') throw new Error(`[xjob] handler_modules: ${path} exports no jobTypes`);
    for (const [type, spec] of Object.entries(types)) {
      if (!Array.isArray(spec?.resource) || typeof spec.handle !== 'function') {
        throw new Error(`[xjob] handler_modules: job type ${type} of ${path} needs resource (a list of keys) and handle (a function)`);
      }
      handlers.set(type, spec);
    }
  }
  return handlers;
}

export interface XJobServiceOptions {
  config: Config;
  db: Db;
  logger: Logger;
  /** Where the job metrics go: the process's /metrics registry. */
  registry: Registry;
  /** Default: admin clients from the [client] options (src/client), or, without them, clients that fail permanently. */
  clients?: RegionClients;
}

/**
 * The workers of one process: the engine, fed by the database poll, the periodic redo and,
 * with a transport_url, the broker's wake-ups.
 */
export async function startXJob({ config, db, logger, registry, clients }: XJobServiceOptions): Promise<XJobService> {
  const xjob = config.xjob;
  const regionClients = clients ?? regionClientsFor(config, db, logger.child({ service: 'client' }));
  const handlers = new Map([...builtInHandlers(), ...(await loadHandlerModules(xjob.handler_modules))]);
  const runs = new JobRuns(db, xjob.job_run_expire);
  const metrics = JobMetrics.of(registry);
  metrics.watchBacklog(registry, runs);
  const clientsInUse = regionClients ?? noRegionClients;
  // Follow-up jobs a handler registers wake this process's engine, made just below.
  const services = jobServices(config, db, clientsInUse, { wake: (keys) => engine.wake(keys) }, metrics);
  const engine: XJobEngine = new XJobEngine({
    runs,
    handlers,
    clients: clientsInUse,
    services,
    logger: logger.child({ service: 'xjob' }),
    metrics,
    workers: xjob.workers,
    pollInterval: xjob.worker_sleep_time,
    pollMinAge: config.DEFAULT.transport_url ? xjob.worker_sleep_time : 0,
    runExpire: xjob.job_run_expire,
    redo: { interval: config.DEFAULT.periodic_interval, fuzzyDelay: config.DEFAULT.periodic_fuzzy_delay, timeSpan: xjob.redo_time_span },
    retry: { attempts: xjob.retry_attempts, baseDelay: xjob.retry_base_delay, maxDelay: xjob.retry_max_delay },
  });
  const url = config.DEFAULT.transport_url;
  const listener = url ? new RabbitListener(amqpUrls(url), config.DEFAULT.control_exchange, xjob.workers, engine, logger) : null;
  engine.start();
  logger.info(
    { workers: xjob.workers, job_types: [...handlers.keys()], broker: listener !== null, region_clients: regionClients !== null },
    'xjob workers started',
  );
  return {
    engine,
    async stop(graceSeconds) {
      await listener?.close();
      await engine.stop(graceSeconds);
    },
  };
}

/** The Tricircle state handlers work with, on the process's database. */
export function jobServices(config: Config, db: Db, clients: RegionClients, waker: JobWaker, metrics?: JobMetrics): JobServices {
  return {
    db,
    config,
    pods: new PodRepository(db),
    routings: new RoutingMap(db),
    jobs: new JobRepository(db, waker, undefined, metrics ? (type) => metrics.registered.inc({ type }) : undefined),
    central: () => clients.neutron(config.client.top_region_name),
  };
}

/**
 * How a process that registers jobs wakes the workers: directly when they run in the same
 * process, through the broker when there is one, otherwise not at all (they poll).
 */
export function jobWaker(config: Config, logger: Logger, local?: XJobEngine): { waker: JobWaker | undefined; close: () => Promise<void> } {
  if (local) return { waker: local, close: async () => {} };
  const url = config.DEFAULT.transport_url;
  if (!url) return { waker: undefined, close: async () => {} };
  const publisher = new RabbitWaker(amqpUrls(url), config.DEFAULT.control_exchange, logger);
  return { waker: publisher, close: () => publisher.close() };
}
