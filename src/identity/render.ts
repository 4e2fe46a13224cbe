import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError } from '../http/index.js';
import type { Authenticator } from './authenticate.js';
import { renderTokenCatalog, type Catalog, type Endpoint, type Service } from './catalog.js';
import type { Domain, Project, Role, User } from './directory.js';
import type { TokenRecord } from './tokens.js';

// Keystone's wire format: errors, tokens and the entities of the read-only lists.

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Where this service answers, as the caller reached it. */
export const baseUrl = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

/** `{"error": {"code", "title", "message"}}`; a 401 names where to authenticate, as Keystone's does. */
export function renderKeystoneError(error: ApiError, reply: FastifyReply) {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  if (error.status === 401) reply.header('www-authenticate', `Keystone uri="${baseUrl(reply.request)}/v3"`);
  return reply.code(error.status).send({ error: { code: error.status, title: TITLES[error.status] ?? 'Error', message: error.message } });
}

const domainRef = (domain: Domain) => ({ id: domain.id, name: domain.name });

export function renderToken(authenticator: Authenticator, record: TokenRecord, catalog: Catalog | null) {
  const user = authenticator.userById(record.userId)!;
  const project = authenticator.projectById(record.projectId);
  const token: Record<string, unknown> = {
    methods: record.methods,
    user: { domain: domainRef(user.domain), id: user.id, name: user.name, password_expires_at: null },
    audit_ids: record.auditIds,
    expires_at: record.expiresAt,
    issued_at: record.issuedAt,
  };
  if (project) {
    token.project = { domain: domainRef(project.domain), id: project.id, name: project.name };
    token.is_domain = false;
    token.roles = (user.roles.get(project.id) ?? []).map((r) => ({ id: r.id, name: r.name }));
    if (catalog) token.catalog = renderTokenCatalog(catalog);
  }
  return { token };
}

/** A collection the way Keystone lists it, with its (never paged) links. */
export function collection(request: FastifyRequest, name: string, items: unknown[]) {
  return { [name]: items, links: { next: null, self: `${baseUrl(request)}${request.url}`, previous: null } };
}

const self = (request: FastifyRequest, path: string) => ({ self: `${baseUrl(request)}/v3/${path}` });

export const renderDomain = (request: FastifyRequest, d: Domain) => ({
  id: d.id,
  name: d.name,
  description: 'The default domain',
  enabled: true,
  tags: [],
  options: {},
  links: self(request, `domains/${d.id}`),
});

export const renderProject = (request: FastifyRequest, p: Project) => ({
  id: p.id,
  name: p.name,
  domain_id: p.domain.id,
  description: p.description,
  enabled: true,
  parent_id: p.domain.id,
  is_domain: false,
  tags: [],
  options: {},
  links: self(request, `projects/${p.id}`),
});

export const renderUser = (request: FastifyRequest, u: User) => ({
  id: u.id,
  name: u.name,
  domain_id: u.domain.id,
  enabled: true,
  default_project_id: [...u.roles.keys()][0],
  password_expires_at: null,
  options: {},
  links: self(request, `users/${u.id}`),
});

export const renderRole = (request: FastifyRequest, r: Role) => ({
  id: r.id,
  name: r.name,
  domain_id: null,
  description: null,
  options: { immutable: true },
  links: self(request, `roles/${r.id}`),
});

export const renderRegion = (request: FastifyRequest, id: string) => ({ id, description: '', parent_region_id: null, links: self(request, `regions/${id}`) });

export const renderService = (request: FastifyRequest, s: Service) => ({
  name: s.name,
  id: s.id,
  type: s.type,
  enabled: true,
  links: self(request, `services/${s.id}`),
});

export const renderEndpoint = (request: FastifyRequest, e: Endpoint) => ({
  id: e.id,
  interface: e.interface,
  region_id: e.region,
  service_id: e.serviceId,
  url: e.url,
  enabled: true,
  region: e.region,
  links: self(request, `endpoints/${e.id}`),
});

export function renderRoleAssignment(request: FastifyRequest, user: User, project: Project, role: Role, withNames: boolean) {
  const named = <T extends object>(ids: T, names: object) => (withNames ? { ...ids, ...names } : ids);
  return {
    links: { assignment: `${baseUrl(request)}/v3/projects/${project.id}/users/${user.id}/roles/${role.id}` },
    scope: { project: named({ id: project.id }, { name: project.name, domain: domainRef(project.domain) }) },
    user: named({ id: user.id }, { name: user.name, domain: domainRef(user.domain) }),
    role: named({ id: role.id }, { name: role.name }),
  };
}
