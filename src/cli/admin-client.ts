import { type Command, InvalidArgumentError, Option } from 'commander';
import { exchange, neutronErrorOf, neutronUrl, ServiceUnreachableError } from '../client/index.js';

// The Admin API v1.0 seen from the CLI: where it is, how to authenticate to it, and one
// request path that turns every failure into a message an operator can act on.

type Env = Record<string, string | undefined>;
type Json = Record<string, unknown>;

export interface ConnectOptions {
  osEndpoint?: string;
  osToken?: string;
}

export interface Page<T> {
  items: T[];
  /** The marker of the next page when a single page was asked for and more exist. */
  nextMarker?: string;
}

const DEFAULT_ENDPOINT = 'http://127.0.0.1:19999';
// Generous, but a hung server should not hang a script forever.
const TIMEOUT_MS = 60_000;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Why fetch() failed, from the nested cause Node gives (ECONNREFUSED, ENOTFOUND, ...). */
function networkReason(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${TIMEOUT_MS / 1000} s`;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof AggregateError && cause.errors.length) return networkReason({ cause: cause.errors[0] });
  if (cause && typeof cause === 'object') {
    const { code, message } = cause as { code?: string; message?: string };
    return code && message && !message.includes(code) ? `${code}: ${message}` : (message ?? code ?? String(cause));
  }
  return err instanceof Error ? err.message : String(err);
}

/** The server's own message: `{"<kind>": {"message": ...}}`, including Keystone's `{"error": ...}`. */
function serverMessage(text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    if (isObject(body)) {
      for (const value of Object.values(body)) if (isObject(value) && typeof value.message === 'string') return value.message;
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): fall back to the raw text below.
  }
  return undefined;
}

/** fetch() with a timeout, a clear connection error, and non-2xx answers as Errors. */
async function send(url: string, init: RequestInit, what: string, errorPrefix = ''): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new Error(`cannot connect to ${what} at ${url}: ${networkReason(err)}`);
  }
  if (!response.ok) {
    const text = await response.text();
    const message = serverMessage(text) ?? (text.trim().slice(0, 200) || response.statusText);
    throw new Error(`${errorPrefix}${message} (HTTP ${response.status})`);
  }
  return response;
}

/** Endpoint without trailing slashes or /v1.0, so that paths can always start with /v1.0. */
function apiBase(endpoint: string): string {
  try {
    new URL(endpoint);
  } catch {
    throw new Error(`invalid endpoint URL '${endpoint}'`);
  }
  return endpoint.replace(/\/+$/, '').replace(/\/v1\.0$/, '');
}

const keystoneBase = (authUrl: string) => {
  const base = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(base) ? base : `${base}/v3`;
};

// Devstack's openrc sets the *_DOMAIN_ID form, other rc files the *_DOMAIN_NAME form.
const domain = (env: Env, kind: 'USER' | 'PROJECT') =>
  env[`OS_${kind}_DOMAIN_ID`] ? { id: env[`OS_${kind}_DOMAIN_ID`] } : { name: env[`OS_${kind}_DOMAIN_NAME`] || 'Default' };

interface CatalogEntry {
  type?: string;
  endpoints?: Array<{ interface?: string; region?: string; region_id?: string; url?: string }>;
}

interface KeystoneToken {
  token: string;
  catalog: CatalogEntry[];
  /** The project the token is scoped to. */
  project?: ProjectRef;
}

/** A token from OS_AUTH_URL (password), or the catalog of a token already given. */
async function keystone(env: Env, givenToken: string | undefined): Promise<KeystoneToken> {
  const url = `${keystoneBase(env.OS_AUTH_URL!)}/auth/tokens`;
  // Without the prefix a Keystone 401 would read like the Admin API's.
  const prefix = 'Keystone authentication failed: ';
  let response: Response;
  if (givenToken) {
    // A user may validate their own token: that is how a given token yields its catalog.
    response = await send(url, { headers: { 'x-auth-token': givenToken, 'x-subject-token': givenToken } }, 'Keystone', prefix);
  } else {
    const project = env.OS_PROJECT_ID ? { id: env.OS_PROJECT_ID } : { name: env.OS_PROJECT_NAME, domain: domain(env, 'PROJECT') };
    const auth = {
      identity: { methods: ['password'], password: { user: { name: env.OS_USERNAME, password: env.OS_PASSWORD, domain: domain(env, 'USER') } } },
      ...(env.OS_PROJECT_ID || env.OS_PROJECT_NAME ? { scope: { project } } : {}),
    };
    response = await send(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth }) }, 'Keystone', prefix);
  }
  const token = givenToken ?? response.headers.get('x-subject-token');
  if (!token) throw new Error(`Keystone at ${url} answered without an X-Subject-Token header`);
  const body = (await response.json().catch(() => ({}))) as { token?: { catalog?: CatalogEntry[]; project?: { id?: string; name?: string } } };
  const project = body.token?.project;
  return { token, catalog: body.token?.catalog ?? [], project: project?.id ? { id: project.id, name: project.name ?? null } : undefined };
}

function catalogEndpoint(catalog: CatalogEntry[], region: string | undefined): string {
  const found = catalog
    .filter((service) => service.type === 'tricircle')
    .flatMap((service) => service.endpoints ?? [])
    .find((e) => e.interface === 'public' && e.url && (!region || e.region_id === region || e.region === region));
  if (!found?.url) {
    throw new Error(`no public 'tricircle' endpoint${region ? ` in region ${region}` : ''} in the Keystone catalog; give --os-endpoint`);
  }
  return found.url;
}

export class AdminClient {
  private readonly base: string;

  constructor(
    endpoint: string,
    /** Identity (a token, or noauth headers) and accept headers; the same identity serves the regions' Neutrons. */
    readonly headers: Record<string, string>,
  ) {
    this.base = apiBase(endpoint);
  }

  /**
   * A client from the flags and the standard OS_* environment. Endpoint: flag, env, then the
   * Keystone catalog, then localhost. Credentials: a token (given or issued for a password),
   * else the identity headers a noauth server reads.
   */
  static async connect(options: ConnectOptions, env: Env = process.env): Promise<AdminClient> {
    let endpoint = options.osEndpoint || env.OS_TRICIRCLE_ENDPOINT || env.OS_ENDPOINT;
    let token = options.osToken || env.OS_TOKEN;
    const password = env.OS_AUTH_URL && env.OS_USERNAME && env.OS_PASSWORD;
    // Keystone is asked only when it has something to give: a token, or the endpoint.
    if (env.OS_AUTH_URL && ((!token && password) || (token && !endpoint))) {
      const issued = await keystone(env, token);
      token = issued.token;
      endpoint ??= catalogEndpoint(issued.catalog, env.OS_REGION_NAME);
    }
    const identity: Record<string, string> = token
      ? { 'x-auth-token': token }
      : // A noauth server takes identity from headers; these make the caller an admin.
        { 'x-user-id': env.OS_USER_ID || 'admin', 'x-project-id': env.OS_PROJECT_ID || 'admin', 'x-roles': 'admin' };
    return new AdminClient(endpoint ?? DEFAULT_ENDPOINT, { accept: 'application/json', 'user-agent': 'tricircle-cli', ...identity });
  }

  /** One call; `path` is /v1.0/... or an absolute URL (a pagination link). Empty bodies give {}. */
  async request(method: string, path: string, body?: unknown): Promise<Json> {
    const url = /^https?:\/\//.test(path) ? path : `${this.base}${path}`;
    const headers = body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' };
    const init: RequestInit = { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
    const text = await (await send(url, init, 'the Admin API')).text();
    if (text.trim() === '') return {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (isObject(parsed)) return parsed;
    } catch {
      // Reported below with the same message as a non-object.
    }
    throw new Error(`the Admin API at ${url} did not answer with a JSON object`);
  }

  /**
   * A collection with its filters. With a limit, that one page; without, every page by
   * following `<collection>_links`, which keep the filters.
   */
  async list(collection: string, filters: Record<string, string | undefined>, limit?: string): Promise<Page<Json>> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) if (value !== undefined) query.set(key, value);
    if (limit !== undefined) query.set('limit', limit);
    let path: string | undefined = `/v1.0/${collection}${query.toString() ? `?${query}` : ''}`;
    const items: Json[] = [];
    const seen = new Set<string>();
    while (path !== undefined) {
      seen.add(path);
      const page = await this.request('GET', path);
      const found = page[collection];
      if (!Array.isArray(found)) throw new Error(`the Admin API's answer has no "${collection}" list`);
      items.push(...found.filter(isObject));
      const links = page[`${collection}_links`];
      const next = Array.isArray(links) ? links.find((l) => isObject(l) && l.rel === 'next')?.href : undefined;
      if (typeof next !== 'string') break;
      if (limit !== undefined) return { items, nextMarker: new URL(next, this.base).searchParams.get('marker') ?? undefined };
      // A link back to a page already read would loop forever.
      if (seen.has(next)) throw new Error(`the Admin API repeated the page link ${next}`);
      path = next;
    }
    return { items };
  }
}

export interface ProjectRef {
  id: string;
  name: string | null;
}

/** The one project Keystone lists under this name, else `nameOrId` taken as an id (also when the caller may not list projects). */
async function keystoneProject(env: Env, token: string, nameOrId: string): Promise<ProjectRef> {
  const url = `${keystoneBase(env.OS_AUTH_URL!)}/projects?name=${encodeURIComponent(nameOrId)}`;
  let projects: Array<{ id?: string; name?: string }>;
  try {
    const response = await send(url, { headers: { 'x-auth-token': token, accept: 'application/json' } }, 'Keystone');
    projects = (((await response.json()) as { projects?: unknown }).projects as typeof projects) ?? [];
  } catch {
    return { id: nameOrId, name: null };
  }
  const named = projects.filter((p) => p.id && p.name === nameOrId);
  if (named.length > 1) throw new Error(`${named.length} projects are named '${nameOrId}' in Keystone: give the id (${named.map((p) => p.id).join(', ')})`);
  return named[0] ? { id: named[0].id!, name: nameOrId } : { id: nameOrId, name: null };
}

/** What `tricircle status` and `tricircle topology` reach: the Admin API, and every region's Neutron with the same identity. */
export interface CloudAccess {
  admin: AdminClient;
  /** The token's project (known when Keystone was asked); without a token, the project of the noauth identity headers. */
  project?: ProjectRef;
  /** The project of this name or id: Keystone resolves a name when it issued or read the token; else the text is the id. */
  findProject(nameOrId: string): Promise<ProjectRef>;
  /** Neutron URL by region: the catalog's public `network` endpoints, overridden by the ones given. */
  neutronEndpoints: Map<string, string>;
}

/** `REGION=URL` for --neutron-endpoint, gathered into one map over repeats. */
export function neutronEndpointEntry(text: string, previous: Map<string, string> | undefined): Map<string, string> {
  const at = text.indexOf('=');
  const url = text.slice(at + 1);
  if (at <= 0 || !URL.canParse(url)) throw new InvalidArgumentError(`expected REGION=URL, not '${text}'`);
  return new Map([...(previous ?? []), [text.slice(0, at), url]]);
}

/**
 * Connects as AdminClient.connect does, keeping what Keystone also tells: the token's project
 * and the regions' Neutron endpoints. A given token is validated to read its catalog.
 */
export async function connectCloud(options: ConnectOptions, given: Map<string, string>, env: Env = process.env): Promise<CloudAccess> {
  let osEndpoint = options.osEndpoint || env.OS_TRICIRCLE_ENDPOINT || env.OS_ENDPOINT;
  let osToken = options.osToken || env.OS_TOKEN;
  let issued: KeystoneToken | undefined;
  if (env.OS_AUTH_URL && (osToken || (env.OS_USERNAME && env.OS_PASSWORD))) {
    issued = await keystone(env, osToken);
    osToken = issued.token;
    osEndpoint ??= catalogEndpoint(issued.catalog, env.OS_REGION_NAME);
  }
  // With both a token and an endpoint, connect() asks Keystone nothing more.
  const admin = await AdminClient.connect({ osEndpoint, osToken }, env);
  const neutronEndpoints = new Map<string, string>();
  for (const service of issued?.catalog ?? []) {
    if (service.type !== 'network') continue;
    for (const endpoint of service.endpoints ?? []) {
      const region = endpoint.region_id ?? endpoint.region;
      if (endpoint.interface === 'public' && region && endpoint.url && !neutronEndpoints.has(region)) neutronEndpoints.set(region, endpoint.url);
    }
  }
  for (const [region, url] of given) neutronEndpoints.set(region, url);
  const headerProject = admin.headers['x-project-id'];
  return {
    admin,
    project: issued?.project ?? (headerProject ? { id: headerProject, name: null } : undefined),
    neutronEndpoints,
    findProject: async (nameOrId) => (issued ? keystoneProject(env, issued.token, nameOrId) : { id: nameOrId, name: null }),
  };
}

/** Read-only calls to one region's Neutron v2.0 with the CLI's identity, each within `timeoutSeconds`. */
export class NeutronReader {
  constructor(
    readonly region: string,
    readonly endpoint: string,
    private readonly headers: Record<string, string>,
    private readonly timeoutSeconds: number,
  ) {}

  /** Every item of a collection (following `<collection>_links` where the server pages); `query` without the '?'. */
  async list(collection: string, query = ''): Promise<Json[]> {
    let url: string | undefined = neutronUrl(this.endpoint, `/v2.0/${collection}${query ? `?${query}` : ''}`);
    const items: Json[] = [];
    const seen = new Set<string>();
    while (url !== undefined && !seen.has(url)) {
      seen.add(url);
      const page = await this.get(url);
      const found = page[collection];
      if (!Array.isArray(found)) throw new Error(`Neutron of region ${this.region} at ${url} answered without a "${collection}" list`);
      items.push(...found.filter(isObject));
      const links = page[`${collection}_links`];
      const next = Array.isArray(links) ? links.find((l) => isObject(l) && l.rel === 'next')?.href : undefined;
      url = typeof next === 'string' ? next : undefined;
    }
    return items;
  }

  private async get(url: string): Promise<Json> {
    let answer;
    try {
      answer = await exchange(`Neutron of region ${this.region}`, url, { headers: { ...this.headers, 'user-agent': 'tricircle-cli' } }, this.timeoutSeconds);
    } catch (err) {
      // The socket's reason (ECONNREFUSED, ...) is what an operator acts on; a timeout's message says it all.
      if (err instanceof ServiceUnreachableError && typeof (err.cause as { code?: unknown })?.code === 'string') {
        throw new Error(`${err.message}: ${networkReason(err)}`);
      }
      throw err;
    }
    if (answer.status < 200 || answer.status >= 300) throw neutronErrorOf(this.region, 'GET', url, answer.status, answer.text);
    try {
      const body: unknown = JSON.parse(answer.text);
      if (isObject(body)) return body;
    } catch {
      // Reported below.
    }
    throw new Error(`Neutron of region ${this.region} at ${url} did not answer with a JSON object`);
  }
}

/** The options of `tricircle status` and `tricircle topology`, as commander gives them. */
export type CloudOptions = ConnectOptions & { neutronEndpoint?: Map<string, string>; timeout: number };

/** How the cloud commands find the Admin API and the regions' Neutrons, and how long a region may take. */
export function addCloudOptions(command: Command): Command {
  const seconds = (text: string) => {
    const value = Number(text);
    if (text.trim() === '' || !(value > 0)) throw new InvalidArgumentError('expected a number of seconds above 0');
    return value;
  };
  return command
    .option('--os-endpoint <url>', 'Admin API URL (default: $OS_TRICIRCLE_ENDPOINT, $OS_ENDPOINT, the Keystone catalog, http://127.0.0.1:19999)')
    .option('--os-token <token>', 'Keystone token (default: $OS_TOKEN, or one issued for $OS_AUTH_URL/$OS_USERNAME/$OS_PASSWORD)')
    .addOption(
      new Option(
        '--neutron-endpoint <region=url>',
        "a region's Neutron URL (CentralRegion too), over the catalog's 'network' endpoints; repeat for each",
      ).argParser(neutronEndpointEntry),
    )
    .addOption(new Option('--timeout <seconds>', "how long one region's Neutron may take to answer").argParser(seconds).default(10));
}
