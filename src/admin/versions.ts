import type { FastifyInstance, FastifyRequest } from 'fastify';
import { route } from '../http/routes.js';

function appUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** Version discovery: `/` is public so clients can find the API before they authenticate. */
export function versionRoutes(app: FastifyInstance): void {
  route(app, '/', {
    GET: async (request) => ({
      versions: [{ status: 'CURRENT', id: 'v1.0', updated: '2015-09-09', links: [{ rel: 'self', href: `${appUrl(request)}/v1.0/` }] }],
    }),
  });
  route(app, '/v1.0', {
    GET: async (request) => {
      const base = `${appUrl(request)}/v1.0`;
      return {
        version: '1.0',
        links: [{ rel: 'self', href: base }, ...['jobs', 'pods', 'routings'].map((rel) => ({ rel, href: `${base}/${rel}` }))],
      };
    },
  });
}
