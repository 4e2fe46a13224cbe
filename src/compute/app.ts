import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { authenticator, requireAuth, type RequestContext } from '../auth/index.js';
import { KeystoneAdmin, regionClientOptions } from '../client/index.js';
import type { Config } from '../config/index.js';
import { isDatabaseUnavailable, type Db } from '../db/index.js';
import { ApiError, createHttpApp, route } from '../http/index.js';
import { FLAVORS, IMAGES, findFlavor, findImage, renderFlavor, renderGlanceImage, renderNovaImage } from './catalog.js';
import { parseBootRequest } from './input.js';
import { MAX_MINOR, MIN_MINOR, microversions, versionText } from './microversion.js';
import { ComputeNeutron } from './neutron.js';
import { renderNovaError, renderServer, renderServerSummary } from './render.js';
import { Servers } from './servers.js';
import { ServerStore, type Server } from './store.js';

export interface ComputeApiOptions {
  config: Config;
  db: Db;
  logger: FastifyBaseLogger;
}

const base = (request: FastifyRequest) => `${request.protocol}://${request.host}`;
const ctxOf = (request: FastifyRequest): RequestContext => request.ctx!;
const param = (request: FastifyRequest, name: string) => (request.params as Record<string, string>)[name]!;
const query = (request: FastifyRequest) => request.query as Record<string, string | undefined>;

function versionDocument(request: FastifyRequest) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: versionText(MAX_MINOR),
    min_version: versionText(MIN_MINOR),
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${base(request)}/v2.1/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  };
}

function pageLimit(request: FastifyRequest, max: number): number {
  const limit = query(request).limit;
  if (limit === undefined) return max;
  if (!/^\d+$/.test(limit))
    throw new ApiError('InvalidInput', `Invalid input for query parameters limit. Value: ${limit}. '${limit}' does not match '^[0-9]*$'`);
  return Math.min(Number(limit), max);
}

/** The Nova v2.1 subset and the Glance v2 subset of `tricircle compute` (docs/compute.md). */
export function createComputeApi({ config, db, logger }: ComputeApiOptions): FastifyInstance {
  const options = config.compute;
  if (!options.neutron_url) throw new Error("[compute] neutron_url is not set: the compute service needs its region's Neutron");
  const admin = regionClientOptions(config);
  const neutron = new ComputeNeutron(
    options.region_name,
    options.neutron_url,
    config.client.neutron_timeout,
    admin && new KeystoneAdmin(admin, admin.timeoutSeconds),
    config.DEFAULT.auth_strategy === 'noauth',
  );
  const store = new ServerStore(db.kysely);
  const servers = new Servers(
    store,
    neutron,
    { host: options.host ?? `${options.region_name}-compute1`, tunnelIp: options.tunnel_ip, defaultAvailabilityZone: options.default_availability_zone },
    logger,
  );
  const maxLimit = config.DEFAULT.pagination_max_limit;

  const app = createHttpApp({
    logger,
    service: 'compute',
    bodyLimit: config.DEFAULT.max_request_body_size,
    renderError: renderNovaError,
    classifyError: (err) => (isDatabaseUnavailable(err) ? new ApiError('ServiceUnavailable', 'The database is unavailable; try again later') : null),
    healthCheck: async () => {
      await store.ping();
    },
  });
  requireAuth(app, authenticator(config), ['/v2.1', '/v2', '/image/v2']);
  microversions(app);

  /** The server if the caller may see it (its project's, or any for an admin), else Nova's 404. */
  async function visibleServer(request: FastifyRequest): Promise<Server> {
    const ctx = ctxOf(request);
    const id = param(request, 'id');
    const server = await store.get(id);
    if (!server || (!ctx.isAdmin && server.projectId !== ctx.projectId)) throw new ApiError('ResourceNotFound', `Instance ${id} could not be found.`);
    return server;
  }

  async function listServers(request: FastifyRequest, detail: boolean) {
    const ctx = ctxOf(request);
    const q = query(request);
    const allTenants = ctx.isAdmin && q.all_tenants !== undefined && !['0', 'false', 'False'].includes(q.all_tenants);
    const limit = pageLimit(request, maxLimit);
    let after: Server | undefined;
    if (q.marker !== undefined) {
      after = await store.get(q.marker);
      if (!after || (!allTenants && after.projectId !== ctx.projectId)) throw new ApiError('InvalidInput', `marker [${q.marker}] not found`);
    }
    const page = await store.list({ projectId: allTenants ? undefined : (ctx.projectId ?? ''), name: q.name, status: q.status?.toUpperCase(), after, limit });
    const b = base(request);
    const body: Record<string, unknown> = {
      servers: page.map((s) => (detail ? renderServer(b, s, request.microversion, ctx.isAdmin) : renderServerSummary(b, s))),
    };
    if (limit > 0 && page.length === limit) {
      const next = new URLSearchParams({ ...(q as Record<string, string>), limit: String(limit), marker: page[page.length - 1]!.id });
      body.servers_links = [{ rel: 'next', href: `${b}/v2.1/servers${detail ? '/detail' : ''}?${next}` }];
    }
    return body;
  }

  route(app, '/', { GET: async (request, reply) => reply.code(300).send({ versions: [versionDocument(request)] }) });
  route(app, '/v2.1', { GET: async (request) => ({ version: versionDocument(request) }) });

  route(app, '/v2.1/servers', {
    GET: async (request) => listServers(request, false),
    POST: async (request, reply) => {
      const ctx = ctxOf(request);
      const boot = parseBootRequest(request.body, request.microversion, ctx.projectId, [options.default_availability_zone]);
      const server = await servers.boot(ctx, boot);
      reply.header('location', `${base(request)}/v2.1/servers/${server.id}`);
      return reply
        .code(202)
        .send({ server: { ...renderServerSummary(base(request), server), 'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'default' }] } });
    },
  });
  route(app, '/v2.1/servers/detail', { GET: async (request) => listServers(request, true) });
  route(app, '/v2.1/servers/:id', {
    GET: async (request) => ({ server: renderServer(base(request), await visibleServer(request), request.microversion, ctxOf(request).isAdmin) }),
    DELETE: async (request, reply) => {
      await servers.delete(ctxOf(request), await visibleServer(request));
      return reply.code(204).send();
    },
  });

  const flavor = (request: FastifyRequest) => {
    const found = findFlavor(param(request, 'id'));
    if (!found) throw new ApiError('ResourceNotFound', `Flavor ${param(request, 'id')} could not be found.`);
    return found;
  };
  route(app, '/v2.1/flavors', { GET: async (request) => ({ flavors: FLAVORS.map((f) => renderFlavor(base(request), f, false)) }) });
  route(app, '/v2.1/flavors/detail', { GET: async (request) => ({ flavors: FLAVORS.map((f) => renderFlavor(base(request), f, true)) }) });
  route(app, '/v2.1/flavors/:id', { GET: async (request) => ({ flavor: renderFlavor(base(request), flavor(request), true) }) });
  route(app, '/v2.1/flavors/:id/os-extra_specs', { GET: async (request) => (flavor(request), { extra_specs: {} }) });

  const image = (request: FastifyRequest, notFound: string) => {
    const found = findImage(param(request, 'id'));
    if (!found) throw new ApiError('ResourceNotFound', notFound);
    return found;
  };
  route(app, '/v2.1/images', { GET: async (request) => ({ images: IMAGES.map((i) => renderNovaImage(base(request), i, false)) }) });
  route(app, '/v2.1/images/detail', { GET: async (request) => ({ images: IMAGES.map((i) => renderNovaImage(base(request), i, true)) }) });
  route(app, '/v2.1/images/:id', { GET: async (request) => ({ image: renderNovaImage(base(request), image(request, 'Image not found.'), true) }) });
  route(app, '/v2.1/os-availability-zone', {
    GET: async () => ({ availabilityZoneInfo: [{ zoneName: options.default_availability_zone, zoneState: { available: true }, hosts: null }] }),
  });

  // Glance v2 at the root and under /image, the path an image endpoint of its own can name
  // (the root's version document is Nova's).
  route(app, '/image', {
    GET: async (request, reply) =>
      reply.code(300).send({ versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${base(request)}/image/v2/` }] }] }),
  });
  for (const prefix of ['', '/image']) {
    route(app, `${prefix}/v2/images`, {
      GET: async (request) => {
        const q = query(request);
        const matching = IMAGES.filter((i) => (q.name === undefined || i.name === q.name) && (q.id === undefined || i.id === q.id));
        const start = q.marker === undefined ? 0 : matching.findIndex((i) => i.id === q.marker) + 1;
        if (q.marker !== undefined && start === 0) throw new ApiError('InvalidInput', `marker ${q.marker} could not be found.`);
        const page = matching.slice(start, start + pageLimit(request, maxLimit));
        return { images: page.map((i) => renderGlanceImage(prefix, i)), schema: `${prefix}/v2/schemas/images`, first: `${prefix}/v2/images` };
      },
    });
    route(app, `${prefix}/v2/images/:id`, {
      GET: async (request) => renderGlanceImage(prefix, image(request, `No image found with ID ${param(request, 'id')}`)),
    });
  }
  return app;
}
