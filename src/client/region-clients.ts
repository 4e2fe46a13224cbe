import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import type { RegionClients } from '../xjob/index.js';
import { EndpointDirectory, EndpointNotFoundError } from './endpoints.js';
import { KeystoneAdmin, type AdminCredentials } from './keystone.js';
import { AdminNeutron, type NeutronSession } from './neutron.js';

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

/**
 * The regions' Neutrons as the admin of the [client] section: one admin token for the
 * process, endpoints from the cached_endpoints table, refreshed from Keystone's catalog.
 */
export class AdminRegionClients implements RegionClients, NeutronSession {
  readonly keystone: KeystoneAdmin;
  readonly endpoints: EndpointDirectory;
  readonly timeoutSeconds: number;

  constructor(
    db: Db,
    private readonly options: RegionClientOptions,
    private readonly logger?: Logger,
  ) {
    this.keystone = new KeystoneAdmin(options, options.timeoutSeconds);
    this.endpoints = new EndpointDirectory(db, this.keystone, logger);
    this.timeoutSeconds = options.timeoutSeconds;
  }

  /**
   * The Neutron of `region`. Throws RegionNotFoundError when no pod has that region name and
   * EndpointNotFoundError when its URL is neither cached nor (with auto_refresh_endpoint) in
   * Keystone's catalog; both are permanent failures for a job.
   */
  async neutron(region: string): Promise<AdminNeutron> {
    const pod = await this.endpoints.pod(region);
    let url = await this.endpoints.cached(pod.pod_id);
    if (url === undefined && this.options.autoRefreshEndpoint) {
      await this.endpoints.refresh();
      url = await this.endpoints.cached(pod.pod_id);
    }
    if (url === undefined) throw new EndpointNotFoundError(region, this.options.autoRefreshEndpoint);
    return new AdminNeutron(region, pod.pod_id, url, this);
  }

  /** The central Neutron: the region [client] top_region_name. */
  central(): Promise<AdminNeutron> {
    return this.neutron(this.options.topRegionName);
  }

  async relocate(podId: string, region: string, failedUrl: string): Promise<string | undefined> {
    if (!this.options.autoRefreshEndpoint) return undefined;
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

/** The region clients of a process with [client] credentials, or null without them. */
export function regionClientsFor(config: Config, db: Db, logger?: Logger): AdminRegionClients | null {
  const options = regionClientOptions(config);
  return options && new AdminRegionClients(db, options, logger);
}
