import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { route } from '../../http/routes.js';
import type { Quotas } from '../core/deps.js';
import type { NeutronDb } from '../core/store.js';
import { context } from './context.js';

// The quotas extension (and quota_details): per-project limits over the defaults from
// [QUOTAS]. Admins read and change any project's; a member reads its own only. Wording and
// statuses as Neutron's.

/** Neutron stores limits as 32-bit integers. */
const MAX_LIMIT = 2 ** 31 - 1;

const forbidden = (rule: string) => new ApiError('PolicyNotAuthorized', `rule:${rule} is disallowed by policy`);
const badRequest = (message: string) => new ApiError('HTTPBadRequest', message);

/** Only an admin, or a member asking about its own project. */
function allowRead(ctx: RequestContext, projectId: string): void {
  if (!ctx.isAdmin && ctx.projectId !== projectId) throw forbidden('get_quota');
}

function adminOnly(ctx: RequestContext, rule: string): void {
  if (!ctx.isAdmin) throw forbidden(rule);
}

/**
 * {"quota": {"network": 5, ...}}: known resources, integers from -1 (unlimited) up, and the
 * flags python-openstackclient sends: `force` (the default here) and `check_limit`.
 */
export function parseQuotaUpdate(body: unknown, known: string[]): { limits: Record<string, number>; checkLimit: boolean } {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(body) || !('quota' in body)) throw badRequest("Unable to find 'quota' in request body");
  if (!isObject(body.quota)) throw badRequest('Body contains invalid data');
  const { force: _force, check_limit: checkLimit, ...quota } = body.quota;
  const unknown = Object.keys(quota).filter((r) => !known.includes(r));
  if (unknown.length) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
  const limits: Record<string, number> = {};
  for (const [resource, value] of Object.entries(quota)) {
    // Neutron's convert_to_int takes numbers and numeric text; fractions and booleans are refused here.
    const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
    const shown = value === null ? 'None' : typeof value === 'string' ? value : JSON.stringify(value);
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new ApiError('InvalidInput', `Invalid input for operation: '${shown}' is not an integer.`);
    if (n < -1) throw badRequest(`Invalid input for ${resource}. Reason: '${n}' is too small - must be at least '-1'.`);
    if (n > MAX_LIMIT) throw badRequest(`Invalid input for ${resource}. Reason: '${n}' is too large - must be no larger than '${MAX_LIMIT}'.`);
    limits[resource] = n;
  }
  return { limits, checkLimit: Boolean(checkLimit) };
}

export function quotaRoutes(app: FastifyInstance, db: NeutronDb, quotas: Quotas): void {
  const projectOf = (request: FastifyRequest) => (request.params as { project_id: string }).project_id;

  route(app, '/v2.0/quotas', {
    GET: async (request) => {
      adminOnly(context(request), 'get_quota');
      const projects = await quotas.overridden(db);
      return { quotas: projects.map(({ projectId, limits }) => ({ ...limits, project_id: projectId, tenant_id: projectId })) };
    },
  });
  // Who am I, as python-neutronclient asks it.
  route(app, '/v2.0/quotas/tenant', { GET: async (request) => ({ tenant: { tenant_id: context(request).projectId } }) });
  route(app, '/v2.0/quotas/project', { GET: async (request) => ({ project: { project_id: context(request).projectId } }) });

  route(app, '/v2.0/quotas/:project_id', {
    GET: async (request) => {
      allowRead(context(request), projectOf(request));
      return { quota: await quotas.limits(db, projectOf(request)) };
    },
    PUT: async (request) => {
      adminOnly(context(request), 'update_quota');
      const { limits, checkLimit } = parseQuotaUpdate(request.body, Object.keys(quotas.defaults()));
      if (checkLimit) {
        const used = await quotas.usage(db, projectOf(request));
        for (const [resource, limit] of Object.entries(limits)) {
          if (limit >= 0 && (used[resource] ?? 0) > limit) {
            throw badRequest(`Quota limit ${limit} for ${resource} must be greater than or equal to already used ${used[resource]}`);
          }
        }
      }
      await quotas.set(db, projectOf(request), limits);
      return { quota: await quotas.limits(db, projectOf(request)) };
    },
    DELETE: async (request, reply: FastifyReply) => {
      adminOnly(context(request), 'delete_quota');
      if (!(await quotas.reset(db, projectOf(request)))) {
        throw new ApiError('TenantQuotaNotFound', `Quota for tenant ${projectOf(request)} could not be found.`);
      }
      return reply.code(204).send();
    },
  });
  route(app, '/v2.0/quotas/:project_id/default', {
    GET: async (request) => {
      allowRead(context(request), projectOf(request));
      return { quota: quotas.defaults() };
    },
  });
  route(app, '/v2.0/quotas/:project_id/details', {
    GET: async (request) => {
      const ctx = context(request);
      if (!ctx.isAdmin && ctx.projectId !== projectOf(request)) {
        throw new ApiError('AdminRequired', 'User does not have admin privileges: Only admin is authorized to access quotas for another project.');
      }
      const [limits, used] = await Promise.all([quotas.limits(db, projectOf(request)), quotas.usage(db, projectOf(request))]);
      return { quota: Object.fromEntries(Object.entries(limits).map(([r, limit]) => [r, { limit, used: used[r] ?? 0, reserved: 0 }])) };
    },
  });
}
