import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../http/errors.js';
import { route } from '../http/routes.js';
import { API_RESOURCE_TYPES, ROUTING_FILTERS, type RoutingFields, type RoutingFilters } from '../tricircle/index.js';
import type { AdminDeps } from './deps.js';
import {
  authorize,
  bodyObject,
  integerMarker,
  nextLink,
  pageLimit,
  queryParams,
  rejectUnknown,
  rejectUnsupportedParams,
  requiredString,
  stringField,
} from './input.js';

const FIELDS = ['top_id', 'bottom_id', 'pod_id', 'project_id', 'resource_type'] as const;
const MAX_LENGTH: Record<(typeof FIELDS)[number], number> = { top_id: 127, bottom_id: 36, pod_id: 36, project_id: 36, resource_type: 64 };

function checkResourceType(type: string): void {
  if (!(API_RESOURCE_TYPES as readonly string[]).includes(type)) {
    throw badRequest(`There is no such resource type: ${type} (valid: ${API_RESOURCE_TYPES.join(', ')})`);
  }
}

function routingId(request: FastifyRequest): number {
  const text = (request.params as { id: string }).id;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw notFound(`Resource routing ${text} not found: routing ids are integers`);
  return Number(text);
}

export function routingRoutes(app: FastifyInstance, { policy, pods, routings, paginationMaxLimit }: AdminDeps): void {
  route(app, '/v1.0/routings', {
    GET: async (request) => {
      const ctx = authorize(request, policy, 'admin_api:routings:list');
      const params = queryParams(request);
      rejectUnsupportedParams(params, [...ROUTING_FILTERS, 'limit', 'marker']);
      const limit = pageLimit(params, paginationMaxLimit);
      const marker = integerMarker(params);
      const filters: RoutingFilters = {};
      for (const name of ROUTING_FILTERS) {
        const values = params.get(name);
        if (values === undefined) continue;
        if (name === 'id') {
          const bad = values.find((v) => !/^\d+$/.test(v));
          if (bad !== undefined) throw badRequest(`Filter id should be an integer, not '${bad}'`);
          filters.id = values.map(Number);
        } else {
          filters[name] = values;
        }
      }
      // Admins see every project's routings; anyone a policy file lets in sees only their own.
      if (!ctx.isAdmin) filters.project_id = [ctx.projectId ?? ''];
      const page = await routings.list(filters, limit, marker);
      const last = page.items[page.items.length - 1];
      return {
        routings: page.items,
        ...(page.more && last ? { routings_links: nextLink('/v1.0/routings', params, limit, last.id) } : {}),
      };
    },
    POST: async (request) => {
      authorize(request, policy, 'admin_api:routings:create');
      const body = bodyObject(request, 'routing');
      rejectUnknown(body, FIELDS, 'routing');
      const fields = Object.fromEntries(FIELDS.map((f) => [f, requiredString(body, f, MAX_LENGTH[f])])) as unknown as RoutingFields;
      checkResourceType(fields.resource_type);
      if (!(await pods.exists(fields.pod_id))) throw badRequest(`Pod ${fields.pod_id} not found`);
      return { routing: await routings.create(fields) };
    },
  });
  route(app, '/v1.0/routings/:id', {
    GET: async (request) => {
      authorize(request, policy, 'admin_api:routings:show');
      return { routing: await routings.get(routingId(request)) };
    },
    PUT: async (request) => {
      authorize(request, policy, 'admin_api:routings:put');
      const id = routingId(request);
      await routings.get(id);
      const body = bodyObject(request, 'routing');
      rejectUnknown(body, [...FIELDS, 'id'], 'routing');
      if ('id' in body && String(body.id) !== String(id)) throw badRequest('Field id can not be changed');
      const changes: Partial<RoutingFields> = {};
      for (const field of FIELDS) {
        if (!(field in body)) continue;
        const value = stringField(body, field, MAX_LENGTH[field]);
        if (value === null || value === undefined || value === '') throw badRequest(`Field ${field} can not be empty`);
        changes[field] = value;
      }
      if (changes.resource_type !== undefined) checkResourceType(changes.resource_type);
      if (changes.pod_id !== undefined && !(await pods.exists(changes.pod_id))) throw badRequest(`Pod ${changes.pod_id} not found`);
      return { routing: await routings.update(id, changes) };
    },
    DELETE: async (request, reply) => {
      authorize(request, policy, 'admin_api:routings:delete');
      await routings.delete(routingId(request));
      return reply.code(200).send();
    },
  });
}
