import type { FastifyInstance } from 'fastify';
import { route } from '../http/routes.js';
import type { Pod, PodFilters } from '../tricircle/index.js';
import type { AdminDeps } from './deps.js';
import { authorize, bodyObject, queryParams, rejectUnknown, rejectUnsupportedParams, stringField } from './input.js';

const POD_FIELDS = ['region_name', 'az_name', 'pod_az_name', 'dc_name'] as const;
const POD_FILTERS = ['pod_id', ...POD_FIELDS] as const;

export function podRoutes(app: FastifyInstance, { policy, pods }: AdminDeps): void {
  route(app, '/v1.0/pods', {
    GET: async (request) => {
      authorize(request, policy, 'admin_api:pods:list');
      const params = queryParams(request);
      rejectUnsupportedParams(params, POD_FILTERS);
      return { pods: await pods.list(Object.fromEntries(params) as PodFilters) };
    },
    POST: async (request) => {
      authorize(request, policy, 'admin_api:pods:create');
      const body = bodyObject(request, 'pod');
      rejectUnknown(body, POD_FIELDS, 'pod');
      const input = Object.fromEntries(POD_FIELDS.map((f) => [f, stringField(body, f, 255) ?? ''])) as Omit<Pod, 'pod_id'>;
      return { pod: await pods.create(input) };
    },
  });
  route(app, '/v1.0/pods/:pod_id', {
    GET: async (request) => {
      authorize(request, policy, 'admin_api:pods:show');
      return { pod: await pods.get((request.params as { pod_id: string }).pod_id) };
    },
    DELETE: async (request) => {
      authorize(request, policy, 'admin_api:pods:delete');
      await pods.delete((request.params as { pod_id: string }).pod_id);
      return {};
    },
  });
}
