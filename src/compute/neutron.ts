import type { RequestContext } from '../auth/index.js';
import { exchange, KeystoneAdmin, neutronErrorOf, neutronUrl, parseJson } from '../client/index.js';

export const COMPUTE_USER_AGENT = 'tricircle-compute';

/** Who a Neutron call acts as: the caller (port create and delete) or the service (binding). */
export type Actor = 'user' | 'admin';

export interface NeutronPort {
  id: string;
  network_id: string;
  device_id: string;
  device_owner: string;
  mac_address: string;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
}

export interface NeutronNetwork {
  id: string;
  name: string;
}

/**
 * The region's Neutron as Nova reaches it. Calls as the user carry the caller's token; in a
 * noauth deployment, the caller's identity headers too (or alone, without a token). Calls as admin (Nova
 * binds ports with its own admin credentials) carry an admin token from `keystone` when one
 * is configured, admin identity headers in a noauth deployment, else the caller's token.
 */
export class ComputeNeutron {
  constructor(
    readonly region: string,
    private readonly endpoint: string,
    private readonly timeoutSeconds: number,
    private readonly keystone: KeystoneAdmin | null,
    /** noauth: Neutron trusts identity headers, so they go along, with the caller's token when it has one (a local Neutron needs both). */
    private readonly forwardIdentity: boolean,
  ) {}

  private async headers(ctx: RequestContext, actor: Actor): Promise<Record<string, string>> {
    if (actor === 'admin' && this.keystone) return { 'x-auth-token': await this.keystone.token() };
    if (ctx.authToken && !this.forwardIdentity) return { 'x-auth-token': ctx.authToken };
    const identity: Record<string, string | null> = {
      'x-auth-token': ctx.authToken,
      'x-user-id': ctx.userId,
      'x-user-name': ctx.userName,
      'x-project-id': ctx.projectId,
      'x-project-name': ctx.projectName,
      'x-roles': actor === 'admin' ? [...new Set([...ctx.roles, 'admin'])].join(',') : ctx.roles.join(','),
    };
    return Object.fromEntries(Object.entries(identity).filter((entry): entry is [string, string] => entry[1] !== null && entry[1] !== ''));
  }

  /** One JSON request; throws NeutronRequestError for a non-2xx answer, ServiceUnreachableError for none. */
  async request<T>(ctx: RequestContext, actor: Actor, method: string, path: string, body?: unknown): Promise<T> {
    const url = neutronUrl(this.endpoint, path);
    const service = `Neutron of region ${this.region}`;
    const headers = {
      ...(await this.headers(ctx, actor)),
      'user-agent': COMPUTE_USER_AGENT,
      'x-openstack-request-id': ctx.requestId,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    };
    const answer = await exchange(service, url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }, this.timeoutSeconds);
    if (answer.status < 200 || answer.status > 299) throw neutronErrorOf(this.region, method, url, answer.status, answer.text);
    return parseJson(service, url, answer.text) as T;
  }

  async network(ctx: RequestContext, id: string): Promise<NeutronNetwork> {
    return (await this.request<{ network: NeutronNetwork }>(ctx, 'user', 'GET', `/v2.0/networks/${encodeURIComponent(id)}`)).network;
  }

  async port(ctx: RequestContext, id: string): Promise<NeutronPort> {
    return (await this.request<{ port: NeutronPort }>(ctx, 'user', 'GET', `/v2.0/ports/${encodeURIComponent(id)}`)).port;
  }

  async createPort(ctx: RequestContext, attrs: Record<string, unknown>): Promise<NeutronPort> {
    return (await this.request<{ port: NeutronPort }>(ctx, 'user', 'POST', '/v2.0/ports', { port: attrs })).port;
  }

  async updatePort(ctx: RequestContext, actor: Actor, id: string, attrs: Record<string, unknown>): Promise<NeutronPort> {
    return (await this.request<{ port: NeutronPort }>(ctx, actor, 'PUT', `/v2.0/ports/${encodeURIComponent(id)}`, { port: attrs })).port;
  }

  async deletePort(ctx: RequestContext, id: string): Promise<void> {
    await this.request(ctx, 'user', 'DELETE', `/v2.0/ports/${encodeURIComponent(id)}`);
  }
}
