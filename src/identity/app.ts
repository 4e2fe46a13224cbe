import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { isDatabaseUnavailable, type Db } from '../db/index.js';
import { ApiError, createHttpApp, route } from '../http/index.js';
import { Authenticator, unauthorized } from './authenticate.js';
import { expandCatalog, renderTokenCatalog, type CatalogEndpoint } from './catalog.js';
import { buildDirectory, type User } from './directory.js';
import {
  baseUrl,
  collection,
  renderDomain,
  renderEndpoint,
  renderKeystoneError,
  renderProject,
  renderRegion,
  renderRole,
  renderRoleAssignment,
  renderService,
  renderToken,
  renderUser,
} from './render.js';
import { keystoneTime, newAuditId, TokenStore, type TokenRecord } from './tokens.js';

export interface IdentityApiOptions {
  config: Config;
  db: Db;
  logger: Logger;
  /** The services to list in tokens and /v3/endpoints, asked at each request. */
  catalog: () => CatalogEndpoint[];
}

const param = (request: FastifyRequest, name: string) => (request.params as Record<string, string>)[name]!;
const query = (request: FastifyRequest) => request.query as Record<string, string | undefined>;
const header = (request: FastifyRequest, name: string) => {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
};
/** `?nocatalog` (any value, even none) leaves the catalog out of a token. */
const wantsCatalog = (request: FastifyRequest) => query(request).nocatalog === undefined;

function versionDocument(request: FastifyRequest) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrl(request)}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

/** The subset of Keystone v3 that the openstack client, openstacksdk and our own services use (docs/identity.md). */
export function createIdentityApi({ config, db, logger, catalog }: IdentityApiOptions): FastifyInstance {
  const options = config.identity;
  const directory = buildDirectory(config);
  const tokens = new TokenStore(db);
  const authenticator = new Authenticator(directory, tokens);

  const app = createHttpApp({
    logger,
    service: 'identity',
    bodyLimit: config.DEFAULT.max_request_body_size,
    renderError: renderKeystoneError,
    classifyError: (err) => (isDatabaseUnavailable(err) ? new ApiError('ServiceUnavailable', 'The database is unavailable; try again later') : null),
    healthCheck: () => tokens.ping(),
  });

  const catalogOf = (request: FastifyRequest) => expandCatalog(catalog(), options.region, `${baseUrl(request)}/v3`);

  const projectsOf = (user: User) => directory.projects.filter((p) => user.roles.has(p.id));

  /** The caller of a protected request, by its X-Auth-Token. */
  async function caller(request: FastifyRequest) {
    const resolved = await authenticator.resolve(header(request, 'x-auth-token'));
    if (!resolved) throw unauthorized();
    return resolved;
  }
  const isAdmin = (user: User, projectId: string | null) => !!projectId && (user.roles.get(projectId) ?? []).some((r) => r.name === 'admin');
  const forbidden = (action: string) => new ApiError('PolicyNotAuthorized', `You are not authorized to perform the requested action: identity:${action}.`);

  /** Passes callers with the admin role on their token's project, or `subjectUserId` itself when given. */
  async function authorize(request: FastifyRequest, action: string, subjectUserId?: string) {
    const { user, record } = await caller(request);
    if (!isAdmin(user, record.projectId) && user.id !== subjectUserId) throw forbidden(action);
    return user;
  }

  /** The token named by X-Subject-Token, for a caller allowed to see it; 404 when it is not valid. */
  async function subject(request: FastifyRequest, action: string) {
    const { user, record } = await caller(request);
    const token = header(request, 'x-subject-token');
    if (!token) throw new ApiError('ResourceNotFound', 'No token in the request');
    const found = await authenticator.resolve(token);
    if (!isAdmin(user, record.projectId) && found?.user.id !== user.id) throw forbidden(action);
    if (!found) throw new ApiError('ResourceNotFound', 'Could not find token.');
    return { token, found };
  }

  route(app, '/', {
    GET: async (request, reply) =>
      reply
        .code(300)
        .header('location', `${baseUrl(request)}/v3/`)
        .send({ versions: { values: [versionDocument(request)] } }),
  });
  route(app, '/v3', { GET: async (request) => ({ version: versionDocument(request) }) });

  route(app, '/v3/auth/tokens', {
    POST: async (request, reply) => {
      const grant = await authenticator.grant(request.body);
      const now = new Date();
      const record: TokenRecord = {
        userId: grant.user.id,
        projectId: grant.project?.id ?? null,
        methods: grant.methods,
        auditIds: grant.parentAuditId ? [newAuditId(), grant.parentAuditId] : [newAuditId()],
        issuedAt: keystoneTime(now),
        expiresAt: grant.expiresAt ?? keystoneTime(new Date(now.getTime() + options.token_expiration * 1000)),
      };
      const token = await tokens.issue(record);
      return reply
        .code(201)
        .header('x-subject-token', token)
        .send(renderToken(authenticator, record, wantsCatalog(request) ? catalogOf(request) : null));
    },
    // Validation answers with the token in X-Subject-Token too: keystoneclient reads it from there.
    GET: async (request, reply) => {
      const { token, found } = await subject(request, 'validate_token');
      return reply.header('x-subject-token', token).send(renderToken(authenticator, found.record, wantsCatalog(request) ? catalogOf(request) : null));
    },
    HEAD: async (request, reply) => {
      const { token } = await subject(request, 'check_token');
      return reply.code(200).header('x-subject-token', token).send();
    },
    DELETE: async (request, reply) => {
      const { token } = await subject(request, 'revoke_token');
      await tokens.revoke(token);
      return reply.code(204).send();
    },
  });
  route(app, '/v3/auth/catalog', {
    GET: async (request) => {
      const { record } = await caller(request);
      if (!record.projectId) throw new ApiError('PolicyNotAuthorized', 'The service catalog is only given to project-scoped tokens.');
      return collection(request, 'catalog', renderTokenCatalog(catalogOf(request)));
    },
  });
  route(app, '/v3/auth/projects', {
    GET: async (request) => {
      const { user } = await caller(request);
      return collection(
        request,
        'projects',
        projectsOf(user).map((p) => renderProject(request, p)),
      );
    },
  });

  const filtered = <T>(request: FastifyRequest, items: T[], fields: Record<string, (item: T) => string>) =>
    items.filter((item) => Object.entries(fields).every(([name, get]) => query(request)[name] === undefined || query(request)[name] === get(item)));
  /** GET of one entity by id; users may also read their own user. */
  function getOne<T>(
    path: string,
    action: string,
    kind: string,
    find: (request: FastifyRequest, id: string) => T | undefined,
    render: (request: FastifyRequest, item: T) => unknown,
  ) {
    route(app, path, {
      GET: async (request) => {
        const id = param(request, 'id');
        await authorize(request, action, kind === 'user' ? id : undefined);
        const item = find(request, id);
        if (item === undefined) throw new ApiError('ResourceNotFound', `Could not find ${kind}: ${id}.`);
        return { [kind]: render(request, item) };
      },
    });
  }
  function list(path: string, action: string, name: string, items: (request: FastifyRequest) => unknown[]) {
    route(app, path, {
      GET: async (request) => {
        await authorize(request, action);
        return collection(request, name, items(request));
      },
    });
  }

  list('/v3/domains', 'list_domains', 'domains', (r) => filtered(r, [directory.domain], { name: (d) => d.name }).map((d) => renderDomain(r, d)));
  getOne('/v3/domains/:id', 'get_domain', 'domain', (_r, id) => (id === directory.domain.id ? directory.domain : undefined), renderDomain);
  list('/v3/projects', 'list_projects', 'projects', (r) =>
    filtered(r, directory.projects, { name: (p) => p.name, domain_id: (p) => p.domain.id }).map((p) => renderProject(r, p)),
  );
  getOne('/v3/projects/:id', 'get_project', 'project', (_r, id) => directory.projects.find((p) => p.id === id), renderProject);
  list('/v3/users', 'list_users', 'users', (r) =>
    filtered(r, directory.users, { name: (u) => u.name, domain_id: (u) => u.domain.id }).map((u) => renderUser(r, u)),
  );
  getOne('/v3/users/:id', 'get_user', 'user', (_r, id) => authenticator.userById(id), renderUser);
  route(app, '/v3/users/:id/projects', {
    GET: async (request) => {
      await authorize(request, 'list_user_projects', param(request, 'id'));
      const user = authenticator.userById(param(request, 'id'));
      if (!user) throw new ApiError('ResourceNotFound', `Could not find user: ${param(request, 'id')}.`);
      return collection(
        request,
        'projects',
        projectsOf(user).map((p) => renderProject(request, p)),
      );
    },
  });
  list('/v3/roles', 'list_roles', 'roles', (r) => filtered(r, directory.roles, { name: (role) => role.name }).map((role) => renderRole(r, role)));
  getOne('/v3/roles/:id', 'get_role', 'role', (_r, id) => directory.roles.find((r) => r.id === id), renderRole);
  list('/v3/regions', 'list_regions', 'regions', (r) => catalogOf(r).regions.map((id) => renderRegion(r, id)));
  getOne('/v3/regions/:id', 'get_region', 'region', (r, id) => catalogOf(r).regions.find((region) => region === id), renderRegion);
  list('/v3/services', 'list_services', 'services', (r) =>
    filtered(r, catalogOf(r).services, { name: (s) => s.name, type: (s) => s.type }).map((s) => renderService(r, s)),
  );
  getOne('/v3/services/:id', 'get_service', 'service', (r, id) => catalogOf(r).services.find((e) => e.id === id), renderService);
  list('/v3/endpoints', 'list_endpoints', 'endpoints', (r) =>
    filtered(r, catalogOf(r).endpoints, { interface: (e) => e.interface, service_id: (e) => e.serviceId, region_id: (e) => e.region }).map((e) =>
      renderEndpoint(r, e),
    ),
  );
  getOne('/v3/endpoints/:id', 'get_endpoint', 'endpoint', (r, id) => catalogOf(r).endpoints.find((e) => e.id === id), renderEndpoint);
  list('/v3/role_assignments', 'list_role_assignments', 'role_assignments', (r) => {
    const q = query(r);
    const wanted = (value: string, filter: string | undefined) => filter === undefined || filter === value;
    // Keystone reads a flag given without a value, or with any value but 0 and false, as set.
    const withNames = q.include_names !== undefined && !['0', 'false', 'False'].includes(q.include_names);
    return directory.users.flatMap((user) =>
      directory.projects.flatMap((project) =>
        (user.roles.get(project.id) ?? [])
          .filter((role) => wanted(user.id, q['user.id']) && wanted(project.id, q['scope.project.id']) && wanted(role.id, q['role.id']))
          .map((role) => renderRoleAssignment(r, user, project, role, withNames)),
      ),
    );
  });
  return app;
}
