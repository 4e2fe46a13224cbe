import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import type { RegionClients } from '../xjob/index.js';
import { EndpointDirectory, EndpointNotFoundError } from './endpoints.js';
import { KeystoneAdmin, type AdminCredentials } from './keystone.js';
import { AdminNeutron, type NeutronSession, type TokenSource } from './neutron.js';

export interface RegionClientOptions extends AdminCredentials {
  /** The central Neutron's region. */
  topRegionName: string;
  /** Ask Keystone's catalog when a region's endpoint is not cached or refuses connections. */
  autoRefreshEndpoint: boolean;
  /** Deadline of each request to a Neutron or to Keystone, in seconds. */
  timeoutSeconds: number;
}

/**
 * The [client] options as region client options; null when none of the credentials is set
 * (jobs that need a region then fail saying so). Some but not all set is a mistake worth
 * stopping for.
 */
export function regionClientOptions(config: Config): RegionClientOptions | null {
  const c = config.client;
  const required = { auth_url: c.auth_url, admin_username: c.admin_username, admin_password: c.admin_password, admin_tenant: c.admin_tenant };
  const missing = Object.entries(required)
    .filter(([, value]) => value === null || value === '')
    .map(([name]) => name);
  if (missing.length === Object.keys(required).length) return null;
  if (missing.length > 0) {
    throw new ConfigError(`[client] ${missing.join(', ')} must be set too: xjob needs all of auth_url, admin_username, admin_password and admin_tenant`);
  }
  return {
    authUrl: c.auth_url!,
    username: c.admin_username!,
    password: c.admin_password!,
    projectName: c.admin_tenant!,
    userDomainName: c.admin_user_domain_name,
    projectDomainName: c.admin_tenant_domain_name,
    topRegionName: c.top_region_name,
    autoRefreshEndpoint: c.auto_refresh_endpoint,
    timeoutSeconds: c.neutron_timeout,
  };
}

/** [client] region_endpoints: `Region=URL` entries, by region. */
export function staticEndpoints(config: Config): Map<string, string> {
  const endpoints = new Map<string, string>();
  for (const entry of config.client.region_endpoints) {
    const at = entry.indexOf('=');
    const [region, url] = [entry.slice(0, at).trim(), entry.slice(at + 1).trim()];
    if (at < 1 || !/^https?:\/\//.test(url)) {
      throw new ConfigError(`Invalid value for option [client] region_endpoints: '${entry}' is not Region=http(s)://host:port`);
    }
    endpoints.set(region, url);
  }
  return endpoints;
}

/** No Keystone: regions running auth_strategy = noauth take the admin identity from headers. */
class NoauthTokens implements TokenSource {
  token = async () => 'noauth';
  invalidate(): void {}
}

/**
 * The regions' Neutrons as the admin of the [client] section: one admin token for the
 * process, endpoints from [client] region_endpoints, else the cached_endpoints table,
 * refreshed from Keystone's catalog. Without credentials (null options) the regions must run
 * auth_strategy = noauth: requests carry admin identity headers instead of a Keystone token.
 */
export class AdminRegionClients implements RegionClients, NeutronSession {
  readonly tokens: TokenSource;
  readonly identityHeaders: Readonly<Record<string, string>>;
  readonly endpoints: EndpointDirectory;
  readonly timeoutSeconds: number;
  private readonly autoRefresh: boolean;

  constructor(
    db: Db,
    private readonly options: RegionClientOptions | null,
    private readonly logger?: Logger,
    private readonly fixed: ReadonlyMap<string, string> = new Map(),
    private readonly topRegionName = options?.topRegionName ?? 'CentralRegion',
  ) {
    const keystone = options && new KeystoneAdmin(options, options.timeoutSeconds);
    this.tokens = keystone ?? new NoauthTokens();
    this.identityHeaders = keystone ? {} : { 'x-roles': 'admin', 'x-user-id': 'tricircle', 'x-project-id': 'admin' };
    this.endpoints = new EndpointDirectory(db, keystone, logger);
    this.timeoutSeconds = options?.timeoutSeconds ?? 60;
    this.autoRefresh = options?.autoRefreshEndpoint ?? false;
  }

  /**
   * The Neutron of `region`. Throws RegionNotFoundError when no pod has that region name and
   * EndpointNotFoundError when its URL is neither configured, cached nor (with
   * auto_refresh_endpoint) in Keystone's catalog; both are permanent failures for a job.
   */
  async neutron(region: string): Promise<AdminNeutron> {
    const pod = await this.endpoints.pod(region);
    let url = this.fixed.get(region) ?? (await this.endpoints.cached(pod.pod_id));
    if (url === undefined && this.autoRefresh) {
      await this.endpoints.refresh();
      url = await this.endpoints.cached(pod.pod_id);
    }
    if (url === undefined) throw new EndpointNotFoundError(region, this.autoRefresh);
    return new AdminNeutron(region, pod.pod_id, url, this);
  }

  /** The central Neutron: the region [client] top_region_name. */
  central(): Promise<AdminNeutron> {
    return this.neutron(this.topRegionName);
  }

  async relocate(podId: string, region: string, failedUrl: string): Promise<string | undefined> {
    if (!this.autoRefresh || this.fixed.has(region)) return undefined;
    try {
      await this.endpoints.refresh();
    } catch (err) {
      // The region's own failure is the one to report; Keystone's goes to the log.
      this.logger?.warn({ region, err }, 'cannot refresh the Neutron endpoints from Keystone');
      return undefined;
    }
    const url = await this.endpoints.cached(podId);
    return url === failedUrl ? undefined : url;
  }
}

/**
 * The region clients of a process: with [client] credentials; without them, noauth clients
 * when this process runs auth_strategy = noauth (its regions do too) or lists
 * [client] region_endpoints; otherwise null.
 */
export function regionClientsFor(config: Config, db: Db, logger?: Logger): AdminRegionClients | null {
  const options = regionClientOptions(config);
  const fixed = staticEndpoints(config);
  if (!options && fixed.size === 0 && config.DEFAULT.auth_strategy !== 'noauth') return null;
  return new AdminRegionClients(db, options, logger, fixed, config.client.top_region_name);
}
