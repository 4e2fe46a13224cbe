import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../../auth/index.js';

/** The caller of a /v2.0 route (requireAuth has set it; a route outside it is a wiring bug). */
export function context(request: FastifyRequest): RequestContext {
  if (!request.ctx) throw new Error('Neutron route without authentication');
  return request.ctx;
}
