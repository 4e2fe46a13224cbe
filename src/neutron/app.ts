import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { authenticator, requireAuth } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { isDatabaseUnavailable, type Db } from '../db/index.js';
import { ApiError, createHttpApp, route } from '../http/index.js';
import { agentRoutes, Agents } from './agents.js';
import { neutronJsonBodies } from './api/body.js';
import { resourceRoutes } from './api/controller.js';
import { openApiRoute } from './api/openapi.js';
import { quotaRoutes } from './api/quotas.js';
import { renderNeutronError } from './api/render.js';
import type { CoreDeps, NeutronPlugin } from './core/index.js';
import { EXTENSIONS, render as renderExtension } from './extensions.js';
import { RESOURCES } from './resources/index.js';

export interface NeutronApiOptions {
  config: Config;
  db: Db;
  logger: FastifyBaseLogger;
  plugin: NeutronPlugin;
  deps: CoreDeps;
}

const base = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

/** The Neutron v2.0 API over a plugin (the core, or a role's plugin wrapping it). */
export function createNeutronApi({ config, db, logger, plugin, deps }: NeutronApiOptions): FastifyInstance {
  const app = createHttpApp({
    logger,
    service: 'neutron-server',
    bodyLimit: config.DEFAULT.max_request_body_size,
    renderError: renderNeutronError,
    classifyError: (err) => (isDatabaseUnavailable(err) ? new ApiError('ServiceUnavailable', 'The database is unavailable; try again later') : null),
    healthCheck: async () => {
      await db.kysely.selectFrom('pods').select('pod_id').limit(1).execute();
    },
  });
  requireAuth(app, authenticator(config), ['/v2.0']);
  neutronJsonBodies(app);

  route(app, '/', {
    GET: async (request) => ({
      versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${base(request)}/v2.0/`, rel: 'self' }] }],
    }),
  });
  const served = RESOURCES.filter((def) => plugin[def.collection]);
  route(app, '/v2.0', {
    GET: async (request) => ({
      resources: served.map((def) => ({
        name: def.name,
        collection: def.collection,
        links: [{ href: `${base(request)}/v2.0/${def.path ?? def.collection}`, rel: 'self' }],
      })),
    }),
  });
  route(app, '/v2.0/extensions', { GET: async () => ({ extensions: EXTENSIONS.map(renderExtension) }) });
  route(app, '/v2.0/extensions/:alias', {
    GET: async (request) => {
      const alias = (request.params as { alias: string }).alias;
      const extension = EXTENSIONS.find((e) => e.alias === alias);
      if (!extension) throw new ApiError('ResourceNotFound', `Extension with alias ${alias} does not exist`);
      return { extension: renderExtension(extension) };
    },
  });
  route(app, '/v2.0/availability_zones', { GET: async () => ({ availability_zones: await deps.availabilityZones.list() }) });
  quotaRoutes(app, deps.db, deps.quotas);
  agentRoutes(app, new Agents(deps.db));
  for (const def of served) resourceRoutes(app, def, plugin[def.collection]!);
  openApiRoute(app, served, plugin);
  return app;
}
