import type { RegionNeutron } from '../xjob/index.js';
import { exchange, parseJson, ServiceUnreachableError } from './http.js';

/** Where a region client's token comes from: Keystone, or nowhere (noauth regions). */
export interface TokenSource {
  token(): Promise<string>;
  /** Forgets a token a region answered 401 to. */
  invalidate(token: string): void;
}

/**
 * A region's Neutron answered outside 2xx. `status` is its HTTP status (isTransient retries
 * 5xx, 408, 409 and 429 and fails the rest at once); `type`, `neutronMessage` and `detail`
 * come from its `{"NeutronError": {...}}` body. A 404 to a GET or DELETE is thrown like any
 * other: whether "not found" means "already done" is the handler's call.
 */
export class NeutronRequestError extends Error {
  override name = 'NeutronRequestError';

  constructor(
    readonly region: string,
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly type: string | undefined,
    readonly neutronMessage: string,
    readonly detail: string | undefined,
  ) {
    super(`Neutron of region ${region} answered ${status}${type ? ` ${type}` : ''} to ${method} ${url}: ${neutronMessage}`);
  }
}

/**
 * The URL of `path` (e.g. '/v2.0/networks?name=x') under a Neutron endpoint from the
 * catalog, whether that was written with or without a trailing slash or /v2.0.
 */
export function neutronUrl(endpoint: string, path: string): string {
  const base = endpoint.replace(/\/+$/, '').replace(/\/v2\.0$/, '');
  return `${base}${path.startsWith('/') ? '' : '/'}${path}`;
}

/** The error for a non-2xx answer of a region's Neutron, from its body. */
export function neutronErrorOf(region: string, method: string, url: string, status: number, text: string): NeutronRequestError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const fault = (body as { NeutronError?: unknown } | undefined)?.NeutronError;
  if (fault !== null && typeof fault === 'object') {
    const { type, message, detail } = fault as { type?: unknown; message?: unknown; detail?: unknown };
    const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
    return new NeutronRequestError(region, method, url, status, text(type), text(message) ?? `HTTP ${status}`, text(detail));
  }
  // Not Neutron's own error body (a proxy's page, Neutron's plain-text 404 of an unknown path).
  const message = typeof fault === 'string' ? fault : text.trim().slice(0, 300) || `HTTP ${status}`;
  return new NeutronRequestError(region, method, url, status, undefined, message, undefined);
}

/** What a region's client needs from the clients that made it. */
export interface NeutronSession {
  readonly tokens: TokenSource;
  /** Identity headers sent with every request: the admin's, when the regions run auth_strategy = noauth. */
  readonly identityHeaders: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  /**
   * A new URL for the pod's Neutron after `failedUrl` refused connections, or undefined
   * (auto_refresh_endpoint off, Keystone lists the same URL, or it cannot be asked).
   */
  relocate(podId: string, region: string, failedUrl: string): Promise<string | undefined>;
}

/** One region's Neutron v2.0, as the admin of the [client] section. */
export class AdminNeutron implements RegionNeutron {
  constructor(
    readonly region: string,
    readonly podId: string,
    /** The endpoint in use; it moves when a refresh from Keystone finds another. */
    public endpoint: string,
    private readonly session: NeutronSession,
  ) {}

  /**
   * Sends a JSON request and returns the parsed JSON answer (undefined for an empty one, as
   * a 204 to a DELETE). A 401 gets a new admin token and one more try; a connection refused
   * (the request never reached Neutron) gets one more try at the URL Keystone lists now.
   */
  async request<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const { tokens, identityHeaders, timeoutSeconds } = this.session;
    let renewedToken = false;
    let relocated = false;
    for (;;) {
      const token = await tokens.token();
      const url = neutronUrl(this.endpoint, path);
      let answer;
      try {
        answer = await exchange(
          `Neutron of region ${this.region}`,
          url,
          {
            method,
            headers: { ...identityHeaders, 'x-auth-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            body: body === undefined ? undefined : JSON.stringify(body),
          },
          timeoutSeconds,
          signal,
        );
      } catch (err) {
        if (err instanceof ServiceUnreachableError && err.notConnected && !relocated) {
          relocated = true;
          const moved = await this.session.relocate(this.podId, this.region, this.endpoint);
          if (moved !== undefined) {
            this.endpoint = moved;
            continue;
          }
        }
        throw err;
      }
      if (answer.status === 401 && !renewedToken) {
        renewedToken = true;
        tokens.invalidate(token);
        continue;
      }
      if (answer.status < 200 || answer.status > 299) throw neutronErrorOf(this.region, method, url, answer.status, answer.text);
      return parseJson(`Neutron of region ${this.region}`, url, answer.text) as T;
    }
  }
}
