import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { makeContext, type Identity, type RequestContext } from './context.js';
import { KeystoneTokenValidator } from './keystone.js';
import { noauthIdentity } from './noauth.js';

export type Authenticate = (request: FastifyRequest) => Promise<Identity>;

/** The configured auth_strategy as one function from request to identity. */
export function authenticator(config: Config): Authenticate {
  if (config.DEFAULT.auth_strategy === 'noauth') {
    const project = config.DEFAULT.noauth_default_project;
    return async (request) => noauthIdentity(request.headers, project);
  }
  const ks = config.keystone_authtoken;
  const validator = new KeystoneTokenValidator({
    authUrl: ks.auth_url,
    wwwAuthenticateUri: ks.www_authenticate_uri ?? ks.auth_url,
    username: ks.username,
    password: ks.password ?? '',
    projectName: ks.project_name,
    userDomainName: ks.user_domain_name,
    projectDomainName: ks.project_domain_name,
    cacheSeconds: ks.token_cache_time,
    cacheSize: ks.token_cache_size,
    timeoutSeconds: ks.http_connect_timeout,
  });
  return async (request) => {
    const token = request.headers['x-auth-token'];
    return validator.validate(Array.isArray(token) ? token[0] : token);
  };
}

/**
 * Authenticates every request whose path starts with one of `prefixes` and attaches its
 * context as `request.ctx`; other paths (version discovery, health, metrics) stay public.
 */
export function requireAuth(app: FastifyInstance, authenticate: Authenticate, prefixes: string[]): void {
  const covered = (path: string) => prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`));
  app.decorateRequest('ctx', null);
  app.addHook('onRequest', async (request) => {
    // The matched route as well as the URL as sent: the router decodes %-escapes, so
    // /%761.0/pods is served by /v1.0/pods and must be authenticated like it.
    if (!covered(request.url) && !covered(request.routeOptions.url ?? '')) return;
    request.ctx = makeContext(await authenticate(request), request.id, request.log);
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext | null;
  }
}
