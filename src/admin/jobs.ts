import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../http/errors.js';
import { route } from '../http/routes.js';
import { JOB_STATUSES, JOB_TYPES, isJobType, resourceIdOf, type JobFilters, type JobStatus } from '../tricircle/index.js';
import type { AdminDeps } from './deps.js';
import { authorize, bodyObject, nextLink, pageLimit, queryParams, rejectUnknown, rejectUnsupportedParams, stringMarker } from './input.js';

const JOB_FILTERS = ['project_id', 'type', 'status'] as const;

function requiredText(obj: Record<string, unknown>, field: string, what: string): string {
  if (!(field in obj) || obj[field] === null) throw badRequest(`${what} isn't provided`);
  const value = obj[field];
  if (typeof value !== 'string') throw badRequest(`${what} must be a string`);
  if (value.trim() === '') throw badRequest(`${what} can't be empty`);
  return value.trim();
}

const jobId = (request: FastifyRequest) => (request.params as { id: string }).id;

export function jobRoutes(app: FastifyInstance, { policy, routings, jobs, paginationMaxLimit }: AdminDeps): void {
  const list = async (request: FastifyRequest) => {
    const ctx = authorize(request, policy, 'admin_api:jobs:list');
    const params = queryParams(request);
    rejectUnsupportedParams(params, [...JOB_FILTERS, 'limit', 'marker']);
    const limit = pageLimit(params, paginationMaxLimit);
    const marker = stringMarker(params);
    const filters: JobFilters = {};
    if (params.has('project_id')) filters.project_id = params.get('project_id');
    if (params.has('type')) filters.type = params.get('type');
    if (params.has('status')) {
      // Case-insensitive, as upstream; a value that names no status matches nothing.
      filters.status = params
        .get('status')!
        .map((s) => s.toUpperCase())
        .filter((s): s is JobStatus => (JOB_STATUSES as readonly string[]).includes(s));
    }
    if (!ctx.isAdmin) filters.project_id = [ctx.projectId ?? ''];
    const page = await jobs.list(filters, limit, marker);
    const last = page.items[page.items.length - 1];
    return { jobs: page.items, ...(page.more && last ? { jobs_links: nextLink('/v1.0/jobs', params, limit, last.id) } : {}) };
  };

  route(app, '/v1.0/jobs', {
    GET: list,
    POST: async (request) => {
      authorize(request, policy, 'admin_api:jobs:create');
      const body = bodyObject(request, 'job');
      rejectUnknown(body, ['type', 'project_id', 'resource'], 'job');
      const type = requiredText(body, 'type', 'Job type');
      const projectId = requiredText(body, 'project_id', 'Project ID');
      if (!isJobType(type)) throw badRequest(`Job type ${type} is not supported (see /v1.0/jobs/schemas)`);
      const resource = body.resource;
      if (resource === undefined || resource === null) throw badRequest('Resource is not provided');
      if (typeof resource !== 'object' || Array.isArray(resource)) throw badRequest('Resource must be a JSON object');
      const spec = JOB_TYPES[type];
      const given = resource as Record<string, unknown>;
      const missing = spec.resource.filter((k) => !(k in given));
      if (missing.length) throw badRequest(`Required resource keys of ${type} are missing: ${missing.join(', ')}`);
      const extra = Object.keys(given).filter((k) => !(spec.resource as readonly string[]).includes(k));
      if (extra.length) throw badRequest(`Resource keys not used by ${type}: ${extra.join(', ')}`);
      const values: Record<string, string> = {};
      for (const key of spec.resource) values[key] = requiredText(given, key, `Resource ${key}`);
      if (projectId.length > 36) throw badRequest('Project ID is longer than 36 characters');
      const resourceId = resourceIdOf(type, values);
      if (resourceId.length > 127) throw badRequest('Resource values are longer than 127 characters together');
      if ('projectKey' in spec.owner) {
        if (values[spec.owner.projectKey] !== projectId) {
          throw badRequest(`Resource ${spec.owner.projectKey} ${values[spec.owner.projectKey]} is not the job's project ${projectId}`);
        }
      } else {
        const topId = values[spec.owner.key]!;
        const owned = await routings.list({ project_id: [projectId], resource_type: [spec.owner.routing], top_id: [topId] }, 1);
        if (owned.items.length === 0) {
          throw badRequest(`${spec.owner.routing} ${topId} doesn't belong to the project ${projectId}`);
        }
      }
      return { job: await jobs.registerNow({ projectId }, type, values) };
    },
  });
  route(app, '/v1.0/jobs/detail', { GET: list });
  route(app, '/v1.0/jobs/schemas', {
    GET: async (request) => {
      authorize(request, policy, 'admin_api:jobs:schema_list');
      return { schemas: Object.entries(JOB_TYPES).map(([type, spec]) => ({ type, resource: [...spec.resource] })) };
    },
  });
  route(app, '/v1.0/jobs/:id', {
    GET: async (request) => {
      authorize(request, policy, 'admin_api:jobs:show');
      return { job: await jobs.get(jobId(request)) };
    },
    PUT: async (request) => {
      authorize(request, policy, 'admin_api:jobs:redo');
      return { job: await jobs.redo(jobId(request)) };
    },
    DELETE: async (request) => {
      authorize(request, policy, 'admin_api:jobs:delete');
      await jobs.remove(jobId(request));
      return {};
    },
  });
}
