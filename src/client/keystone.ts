import { exchange, parseJson } from './http.js';

export interface AdminCredentials {
  /** Keystone's URL, with or without /v3. */
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
}

/**
 * Keystone refused or failed a request. `status` is set only for a 5xx, so that
 * isTransient retries it; a 4xx (wrong credentials, wrong auth_url) is the configuration's
 * fault and fails at once. It is never a region's status: a handler that reads 404 as
 * "already gone" must not mistake Keystone's 404 for Neutron's.
 */
export class KeystoneError extends Error {
  override name = 'KeystoneError';
  readonly status?: number;

  constructor(
    message: string,
    readonly keystoneStatus: number,
  ) {
    super(message);
    if (keystoneStatus >= 500) this.status = keystoneStatus;
  }
}

interface Listing {
  links?: { next?: string | null };
  [collection: string]: unknown;
}

interface CatalogService {
  id?: string;
  type?: string;
  enabled?: boolean;
}

interface CatalogEndpoint {
  service_id?: string;
  region_id?: string | null;
  region?: string | null;
  interface?: string;
  url?: string;
  enabled?: boolean;
}

/** Keystone's v3 base URL, whether the option was written with or without /v3. */
function v3(authUrl: string): string {
  const base = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(base) ? base : `${base}/v3`;
}

/** A token is renewed this long before Keystone says it expires (at most half its life). */
const RENEW_BEFORE_MS = 60_000;

/**
 * The admin side of Keystone v3 for the region clients: one project-scoped admin token by
 * password auth, shared by every request of the process and renewed shortly before it
 * expires, and the public network endpoints of the catalog.
 */
export class KeystoneAdmin {
  readonly base: string;
  private current: { id: string; renewAt: number } | null = null;
  private issuing: Promise<string> | null = null;

  constructor(
    private readonly credentials: AdminCredentials,
    private readonly timeoutSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.base = v3(credentials.authUrl);
  }

  /** The admin token, issued once and shared by concurrent callers until it is near its expiry. */
  async token(): Promise<string> {
    if (this.current && this.current.renewAt > this.now()) return this.current.id;
    this.issuing ??= this.issue().finally(() => (this.issuing = null));
    return this.issuing;
  }

  /** Forgets `token` (a region answered 401 to it), unless a newer one has replaced it already. */
  invalidate(token: string): void {
    if (this.current?.id === token) this.current = null;
  }

  private async issue(): Promise<string> {
    const { username, password, projectName, userDomainName, projectDomainName } = this.credentials;
    const url = `${this.base}/auth/tokens?nocatalog`;
    const answer = await exchange(
      'Keystone',
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: { methods: ['password'], password: { user: { name: username, password, domain: { name: userDomainName } } } },
            scope: { project: { name: projectName, domain: { name: projectDomainName } } },
          },
        }),
      },
      this.timeoutSeconds,
    );
    const id = answer.headers.get('x-subject-token');
    if (answer.status !== 201 || !id) {
      throw new KeystoneError(
        `Keystone at ${this.base} refused an admin token to user '${username}' (domain ${userDomainName}) in project '${projectName}' ` +
          `(domain ${projectDomainName}): HTTP ${answer.status} ${answer.text.slice(0, 200)}; check [client] auth_url, admin_username, ` +
          'admin_password, admin_tenant and their domains',
        answer.status,
      );
    }
    const body = parseJson('Keystone', url, answer.text) as { token?: { expires_at?: string } } | undefined;
    const issuedAt = this.now();
    const expiresAt = Date.parse(body?.token?.expires_at ?? '') || issuedAt + 3600_000;
    this.current = { id, renewAt: expiresAt - Math.min(RENEW_BEFORE_MS, (expiresAt - issuedAt) / 2) };
    return id;
  }

  /** Every item of a collection, following Keystone's `links.next` when it pages. */
  private async list<T>(path: string, collection: string): Promise<T[]> {
    const items: T[] = [];
    let url: string | null = `${this.base}${path}`;
    let renewed = false;
    while (url) {
      const token = await this.token();
      const answer = await exchange('Keystone', url, { method: 'GET', headers: { 'x-auth-token': token } }, this.timeoutSeconds);
      if (answer.status === 401 && !renewed) {
        // The token was revoked or expired early: one new token, then the same page again.
        this.invalidate(token);
        renewed = true;
        continue;
      }
      if (answer.status !== 200) {
        throw new KeystoneError(`Keystone answered HTTP ${answer.status} to GET ${url}: ${answer.text.slice(0, 200)}`, answer.status);
      }
      const page = (parseJson('Keystone', url, answer.text) ?? {}) as Listing;
      const found = page[collection];
      if (Array.isArray(found)) items.push(...(found as T[]));
      url = page.links?.next ?? null;
    }
    return items;
  }

  /**
   * The URLs of the enabled public endpoints of enabled `network` services, by region
   * (normally one per region; several mean the catalog is ambiguous there).
   */
  async networkEndpoints(): Promise<Map<string, string[]>> {
    const services = await this.list<CatalogService>('/services?type=network', 'services');
    const network = new Set(services.filter((s) => s.type === 'network' && s.enabled !== false && s.id).map((s) => s.id));
    const endpoints = await this.list<CatalogEndpoint>('/endpoints?interface=public', 'endpoints');
    const byRegion = new Map<string, string[]>();
    for (const endpoint of endpoints) {
      const region = endpoint.region_id ?? endpoint.region;
      if (!region || !endpoint.url || endpoint.interface !== 'public' || endpoint.enabled === false || !network.has(endpoint.service_id)) continue;
      const urls = byRegion.get(region) ?? [];
      if (!urls.includes(endpoint.url)) urls.push(endpoint.url);
      byRegion.set(region, urls);
    }
    return byRegion;
  }
}
