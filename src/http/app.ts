import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { FastifyBaseLogger } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ApiError } from './errors.js';

const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const REQUEST_ID_HEADER = 'x-openstack-request-id';

/** Writes an ApiError in the wire format of one API (Admin API, Neutron). */
export type ErrorRenderer = (error: ApiError, reply: FastifyReply) => unknown;

export interface HttpAppOptions {
  logger: FastifyBaseLogger;
  bodyLimit: number;
  renderError: ErrorRenderer;
  /** Checked by GET /healthz; throws when the service cannot serve (e.g. database down). */
  healthCheck: () => Promise<void>;
  /** Recognises errors of this service's dependencies (e.g. a database that is down) as ApiErrors. */
  classifyError?: (err: unknown) => ApiError | null;
  /** Label for the metrics of this service ("admin-api", "neutron-server", ...). */
  service: string;
  /** The metrics registry to serve; by default the app gets its own. */
  registry?: Registry;
}

/** Fastify's own client errors, re-stated in the catalog's words. */
function translateFastifyError(err: FastifyError): ApiError | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('RequestEntityTooLarge', 'Request body is larger than the limit of the server');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('UnsupportedMediaType', 'Request body must be application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('InvalidInput', 'Request body is empty but Content-Type is application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('InvalidInput', 'Content-Length does not match the body');
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ApiError('InvalidInput', `Malformed JSON in request body: ${err.message}`);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError('InvalidInput', err.message);
  }
  return null;
}

/**
 * The plumbing every API we serve shares: request ids, JSON logs, metrics, health, body
 * limit and error rendering from the one catalog. Routes are added by the caller.
 */
export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit,
    exposeHeadRoutes: false,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // One log line per request, written by our onResponse hook with the fields we want.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: (req) => {
      const given = req.headers[REQUEST_ID_HEADER];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : `req-${randomUUID()}`;
    },
    // Path parameters carry ids and also Neutron tags, which may be 255 characters (more once percent-encoded).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
  });

  // OpenStack APIs speak JSON only: any other body type is a 415, not a string to misread.
  app.removeContentTypeParser('text/plain');

  const registry = options.registry ?? new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to response, by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    requests.inc(labels);
    latency.observe(labels, reply.elapsedTime / 1000);
    request.log.info({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const apiError = err instanceof ApiError ? err : (translateFastifyError(err) ?? options.classifyError?.(err) ?? null);
    if (apiError) {
      if (apiError.status >= 500) request.log.error({ err }, apiError.message);
      return options.renderError(apiError, reply);
    }
    request.log.error({ err }, 'unhandled error');
    return options.renderError(new ApiError('InternalError', 'The server has either erred or is incapable of performing the requested operation.'), reply);
  });
  app.setNotFoundHandler((request, reply) => options.renderError(new ApiError('ResourceNotFound', `The resource could not be found: ${request.url}`), reply));

  app.get('/healthz', async (_request, reply) => {
    try {
      await options.healthCheck();
      return { status: 'ok' };
    } catch (err) {
      app.log.warn({ err }, 'health check failed');
      return reply.code(503).send({ status: 'unavailable', reason: (err as Error).message });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.decorate('metricsRegistry', registry);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    metricsRegistry: Registry;
  }
}
