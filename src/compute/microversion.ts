import type { FastifyInstance, FastifyRequest } from 'fastify';

// Nova microversions 2.1 to MAX_MINOR: what this service renders differently by version is
// locked (2.9), description (2.19), tags (2.26), networks required on create (2.37) and the
// flavor embedded in a server (2.47).
export const MIN_MINOR = 1;
export const MAX_MINOR = 47;
export const versionText = (minor: number) => `2.${minor}`;

function requested(request: FastifyRequest): string | undefined {
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const generic = header('openstack-api-version');
  if (generic !== undefined) {
    // "compute 2.47" (possibly one service of a comma-separated list).
    const mine = generic
      .split(',')
      .map((part) => part.trim().split(/\s+/))
      .find(([service]) => service?.toLowerCase() === 'compute');
    if (mine) return mine[1];
  }
  return header('x-openstack-nova-api-version');
}

/**
 * Reads the microversion of every /v2.1 request into `request.microversion` (the minor number),
 * answers 400 for a malformed one and 406 for one outside MIN..MAX, and states the version
 * served in the headers Nova sends.
 */
export function microversions(app: FastifyInstance): void {
  app.decorateRequest('microversion', MIN_MINOR);
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v2.1/') && request.url !== '/v2.1') return;
    const asked = requested(request)?.trim().toLowerCase();
    let minor = MIN_MINOR;
    if (asked === 'latest') minor = MAX_MINOR;
    else if (asked !== undefined) {
      const match = /^2\.(\d+)$/.exec(asked);
      if (!match) {
        return reply.code(400).send({ badRequest: { message: `Invalid format for API version ${asked}: expected 2.<minor> or latest`, code: 400 } });
      }
      minor = Number(match[1]);
      if (minor < MIN_MINOR || minor > MAX_MINOR) {
        const message = `Version ${asked} is not supported by the API. Minimum is ${versionText(MIN_MINOR)} and maximum is ${versionText(MAX_MINOR)}.`;
        return reply.code(406).send({ computeFault: { message, code: 406 } });
      }
    }
    request.microversion = minor;
    reply.header('openstack-api-version', `compute ${versionText(minor)}`);
    reply.header('x-openstack-nova-api-version', versionText(minor));
    reply.header('vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The Nova microversion 2.<microversion> of the request. */
    microversion: number;
  }
}
