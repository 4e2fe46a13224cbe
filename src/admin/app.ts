import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { Policy, readPolicyFile, authenticator, requireAuth } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { isDatabaseUnavailable, systemClock, type Clock, type Db } from '../db/index.js';
import { ApiError, createHttpApp } from '../http/index.js';
import { JobRepository, PodRepository, RoutingRepository, type JobWaker } from '../tricircle/index.js';
import { JobMetrics } from '../xjob/index.js';
import { jobRoutes } from './jobs.js';
import { ADMIN_API_RULES } from './policy.js';
import { podRoutes } from './pods.js';
import { renderAdminError } from './render.js';
import { routingRoutes } from './routings.js';
import { versionRoutes } from './versions.js';

export interface AdminApiOptions {
  config: Config;
  db: Db;
  logger: FastifyBaseLogger;
  clock?: Clock;
  /** Wakes the xjob workers for the jobs this API registers; unset, they find them by polling. */
  waker?: JobWaker;
  /** The metrics registry to serve, when the process shares one (the all-in-one's workers). */
  registry?: Registry;
}

/** The Admin API v1.0 on the shared HTTP plumbing; the caller listens and closes. */
export function createAdminApi({ config, db, logger, clock = systemClock, waker, registry }: AdminApiOptions): FastifyInstance {
  const policyFile = config.oslo_policy.policy_file;
  const policy = new Policy(ADMIN_API_RULES, policyFile ? readPolicyFile(policyFile) : {});
  const app = createHttpApp({
    logger,
    service: 'admin-api',
    registry,
    bodyLimit: config.DEFAULT.max_request_body_size,
    renderError: renderAdminError,
    classifyError: (err) => (isDatabaseUnavailable(err) ? new ApiError('ServiceUnavailable', 'The database is unavailable; try again later') : null),
    healthCheck: async () => {
      await db.kysely.selectFrom('pods').select('pod_id').limit(1).execute();
    },
  });
  requireAuth(app, authenticator(config), ['/v1.0']);
  const { registered } = JobMetrics.of(app.metricsRegistry);
  const deps = {
    policy,
    pods: new PodRepository(db),
    routings: new RoutingRepository(db, clock),
    jobs: new JobRepository(db, waker, clock, (type) => registered.inc({ type })),
    paginationMaxLimit: config.DEFAULT.pagination_max_limit,
  };
  versionRoutes(app);
  podRoutes(app, deps);
  routingRoutes(app, deps);
  jobRoutes(app, deps);
  return app;
}
