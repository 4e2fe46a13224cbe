import { ApiError } from '../http/errors.js';
import type { Identity } from './context.js';

export interface KeystoneOptions {
  authUrl: string;
  /** Named in WWW-Authenticate on a 401 so clients know where to get a token. */
  wwwAuthenticateUri: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  cacheSeconds: number;
  cacheSize: number;
  timeoutSeconds: number;
  now?: () => number;
}

interface CachedToken {
  identity: Identity;
  validUntil: number;
}

interface TokenBody {
  token?: {
    expires_at?: string;
    user?: { id?: string; name?: string };
    project?: { id?: string; name?: string };
    roles?: Array<{ name?: string }>;
  };
}

class Unreachable extends Error {}

/** Keystone's v3 base URL, whether the option was written with or without /v3. */
function v3(authUrl: string): string {
  const base = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(base) ? base : `${base}/v3`;
}

/**
 * Validates user tokens against Keystone v3 (GET /v3/auth/tokens with this service's own
 * token) and caches each answer until the token expires or the cache time runs out,
 * whichever is first, in a bounded least-recently-used map.
 */
export class KeystoneTokenValidator {
  private readonly cache = new Map<string, CachedToken>();
  private serviceToken: { id: string; expiresAt: number } | null = null;
  private readonly base: string;
  private readonly now: () => number;

  constructor(private readonly options: KeystoneOptions) {
    this.base = v3(options.authUrl);
    this.now = options.now ?? Date.now;
  }

  private unauthenticated(message: string): ApiError {
    return new ApiError('NotAuthenticated', message, {
      'www-authenticate': `Keystone uri="${this.options.wwwAuthenticateUri}"`,
    });
  }

  private async call(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(this.options.timeoutSeconds * 1000) });
    } catch (err) {
      throw new Unreachable(`Keystone at ${this.base} cannot be reached: ${(err as Error).message}`);
    }
  }

  /** The JSON body of a Keystone answer; a body that is cut off or not JSON is Keystone's fault (503), not ours. */
  private async body(response: Response): Promise<TokenBody> {
    try {
      const parsed: unknown = await response.json();
      return typeof parsed === 'object' && parsed !== null ? (parsed as TokenBody) : {};
    } catch (err) {
      throw new Unreachable(`Keystone at ${this.base} sent an unreadable answer: ${(err as Error).message}`);
    }
  }

  private async getServiceToken(): Promise<string> {
    if (this.serviceToken && this.serviceToken.expiresAt - 60_000 > this.now()) return this.serviceToken.id;
    const response = await this.call('/auth/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: { name: this.options.username, password: this.options.password, domain: { name: this.options.userDomainName } },
            },
          },
          scope: { project: { name: this.options.projectName, domain: { name: this.options.projectDomainName } } },
        },
      }),
    });
    const id = response.headers.get('x-subject-token');
    if (response.status !== 201 || !id) {
      throw new Unreachable(`the service user '${this.options.username}' cannot authenticate with Keystone (HTTP ${response.status})`);
    }
    const body = await this.body(response);
    this.serviceToken = { id, expiresAt: Date.parse(body.token?.expires_at ?? '') || this.now() + 3600_000 };
    return id;
  }

  private async fetchIdentity(token: string, retried = false): Promise<CachedToken> {
    const serviceToken = await this.getServiceToken();
    // nocatalog: the service catalog is large and validation does not need it.
    const response = await this.call('/auth/tokens?nocatalog', {
      method: 'GET',
      headers: { 'x-auth-token': serviceToken, 'x-subject-token': token },
    });
    if (response.status === 401 && !retried) {
      // Our own token was revoked or expired early: get a new one once.
      this.serviceToken = null;
      return this.fetchIdentity(token, true);
    }
    if (response.status === 404 || response.status === 401) throw this.unauthenticated('The token is invalid or has expired.');
    if (response.status !== 200) throw new Unreachable(`Keystone answered HTTP ${response.status} to a token validation`);
    const body = await this.body(response);
    const t = body.token ?? {};
    const expiresAt = Date.parse(t.expires_at ?? '');
    if (!Number.isFinite(expiresAt) || expiresAt <= this.now()) throw this.unauthenticated('The token has expired.');
    return {
      identity: {
        userId: t.user?.id ?? null,
        userName: t.user?.name ?? null,
        projectId: t.project?.id ?? null,
        projectName: t.project?.name ?? null,
        roles: (t.roles ?? []).map((r) => r.name ?? '').filter((r) => r !== ''),
        authToken: token,
      },
      validUntil: Math.min(expiresAt, this.now() + this.options.cacheSeconds * 1000),
    };
  }

  async validate(token: string | undefined): Promise<Identity> {
    if (!token) throw this.unauthenticated('The request you have made requires authentication.');
    const cached = this.cache.get(token);
    if (cached && cached.validUntil > this.now()) {
      this.cache.delete(token);
      this.cache.set(token, cached);
      return cached.identity;
    }
    this.cache.delete(token);
    let entry: CachedToken;
    try {
      entry = await this.fetchIdentity(token);
    } catch (err) {
      if (err instanceof Unreachable) throw new ApiError('ServiceUnavailable', `Authentication service unavailable: ${err.message}`);
      throw err;
    }
    if (this.options.cacheSize > 0 && this.options.cacheSeconds > 0) {
      this.cache.set(token, entry);
      if (this.cache.size > this.options.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    }
    return entry.identity;
  }

  get cachedTokens(): number {
    return this.cache.size;
  }
}
