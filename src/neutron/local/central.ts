import type { RequestContext } from '../../auth/index.js';
import { exchange, parseJson, ServiceUnreachableError } from '../../client/http.js';
import type { KeystoneAdmin } from '../../client/keystone.js';
import { neutronUrl } from '../../client/neutron.js';
import { ApiError, ERROR_CATALOG, type ErrorType } from '../../http/errors.js';
import type { Resource } from '../core/plugin.js';

/** The User-Agent the central Neutron recognises local Neutrons by. */
export const LOCAL_USER_AGENT = 'local-neutronclient';

export interface CentralOptions {
  url: string;
  timeoutSeconds: number;
  /** noauth: the central Neutron trusts identity headers, so the caller's are sent along with its token. */
  forwardIdentity: boolean;
  /** The [client] admin, for internal work (reserved ports, binding reports); null: the caller's token does it. */
  admin: KeystoneAdmin | null;
}

/**
 * Whether a request may reach the central Neutron: only API calls carrying a token do.
 * Internal calls (and upstream's agents) have none and see local data only.
 */
export const reachesCentral = (ctx: RequestContext) => ctx.authToken !== null;

/** The central Neutron's error as this API's: its own type when this catalog knows it, else a type of its status. */
function centralError(status: number, text: string): ApiError {
  let fault: { type?: unknown; message?: unknown } | undefined;
  try {
    fault = (JSON.parse(text) as { NeutronError?: typeof fault }).NeutronError;
  } catch {
    fault = undefined;
  }
  const message = `Central Neutron: ${typeof fault?.message === 'string' ? fault.message : text.slice(0, 300) || `HTTP ${status}`}`;
  const type = typeof fault?.type === 'string' && fault.type in ERROR_CATALOG ? (fault.type as ErrorType) : undefined;
  if (type) return new ApiError(type, message);
  if (status === 404) return new ApiError('ResourceNotFound', message);
  if (status === 409) return new ApiError('Conflict', message);
  if (status === 401 || status === 403) return new ApiError('PolicyNotAuthorized', message);
  if (status >= 400 && status < 500) return new ApiError('BadRequest', message);
  return new ApiError('ServiceUnavailable', message);
}

/** The [client] admin token; Keystone refusing or unreachable makes the region's work unavailable, saying why. */
async function adminToken(keystone: KeystoneAdmin): Promise<string> {
  try {
    return await keystone.token();
  } catch (err) {
    throw new ApiError('ServiceUnavailable', `No admin token for the central Neutron: ${(err as Error).message}`);
  }
}

/** The URL path of a collection: security_groups are served at /v2.0/security-groups. */
const pathOf = (collection: string) => `/v2.0/${collection.replace(/_/g, '-')}`;

/**
 * The central Neutron's v2.0 API, called as the caller of the local request, or (`admin()`)
 * with the [client] admin token for the region's internal work.
 */
export class CentralNeutron {
  private adminView: CentralNeutron | undefined;

  constructor(
    private readonly options: CentralOptions,
    private readonly asAdmin = false,
  ) {}

  /**
   * Whether `admin()` acts as the admin: with the [client] admin token when credentials are
   * configured, or, with noauth, with the admin role in the identity headers (a noauth central
   * trusts them, as it trusts the caller's).
   */
  get actsAsAdmin(): boolean {
    return this.options.admin !== null || this.options.forwardIdentity;
  }

  /** The same API as the admin (see actsAsAdmin), else as the caller. */
  admin(): CentralNeutron {
    if (!this.actsAsAdmin) return this;
    return this.asAdmin ? this : (this.adminView ??= new CentralNeutron(this.options, true));
  }

  private headers(ctx: RequestContext, token: string): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': LOCAL_USER_AGENT, 'x-auth-token': token };
    if (this.options.forwardIdentity) {
      if (ctx.userId) headers['x-user-id'] = ctx.userId;
      if (ctx.projectId) headers['x-project-id'] = ctx.projectId;
      headers['x-roles'] = (this.asAdmin ? ['admin'] : ctx.roles).join(',');
    }
    return headers;
  }

  async request<T = Record<string, unknown>>(ctx: RequestContext, method: string, path: string, body?: unknown): Promise<T> {
    const keystone = this.asAdmin ? this.options.admin : null;
    let answer = await this.send(ctx, method, path, body, keystone ? await adminToken(keystone) : (ctx.authToken ?? ''));
    if (answer.status === 401 && keystone) {
      // The admin token was revoked or expired early: one new token, then the same request again.
      keystone.invalidate(answer.token);
      answer = await this.send(ctx, method, path, body, await adminToken(keystone));
    }
    if (answer.status < 200 || answer.status > 299) throw centralError(answer.status, answer.text);
    return parseJson('Central Neutron', answer.url, answer.text) as T;
  }

  private async send(ctx: RequestContext, method: string, path: string, body: unknown, token: string) {
    const url = neutronUrl(this.options.url, path);
    const headers = this.headers(ctx, token);
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const answer = await exchange(
        'Central Neutron',
        url,
        { method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
        this.options.timeoutSeconds,
      );
      return { ...answer, url, token };
    } catch (err) {
      if (err instanceof ServiceUnreachableError) throw new ApiError('ServiceUnavailable', `${err.message}; try again later`);
      throw err;
    }
  }

  /** One resource, or undefined when central says 404. */
  async find(ctx: RequestContext, collection: string, name: string, id: string): Promise<Resource | undefined> {
    try {
      return (await this.request(ctx, 'GET', `${pathOf(collection)}/${encodeURIComponent(id)}`))[name] as Resource;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list(ctx: RequestContext, collection: string, params: Array<[string, string]>): Promise<Resource[]> {
    const query = new URLSearchParams(params).toString();
    return (await this.request(ctx, 'GET', `${pathOf(collection)}${query ? `?${query}` : ''}`))[collection] as Resource[];
  }

  async create(ctx: RequestContext, collection: string, name: string, body: Resource): Promise<Resource> {
    return (await this.request(ctx, 'POST', pathOf(collection), { [name]: body }))[name] as Resource;
  }

  async update(ctx: RequestContext, collection: string, name: string, id: string, body: Resource): Promise<Resource> {
    return (await this.request(ctx, 'PUT', `${pathOf(collection)}/${encodeURIComponent(id)}`, { [name]: body }))[name] as Resource;
  }

  async delete(ctx: RequestContext, collection: string, id: string): Promise<void> {
    await this.request(ctx, 'DELETE', `${pathOf(collection)}/${encodeURIComponent(id)}`);
  }
}
