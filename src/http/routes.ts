import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD';
export type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

const METHODS: Method[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'];

/**
 * Registers the handlers of one path, and a 405 with an Allow header for every other
 * method, so a wrong method is told apart from a wrong path (404).
 */
export function route(app: FastifyInstance, url: string, handlers: Partial<Record<Method, Handler>>): void {
  const allowed = Object.keys(handlers).join(', ');
  for (const method of METHODS) {
    const handler = handlers[method];
    app.route({
      method,
      url,
      handler:
        handler ??
        (async () => {
          throw new ApiError('MethodNotAllowed', `The method ${method} is not allowed for this resource`, { allow: allowed });
        }),
    });
  }
}
