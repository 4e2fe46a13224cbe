import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { writeTransaction, type Db } from '../db/index.js';
import { PodRepository, type Pod } from '../tricircle/index.js';
import type { KeystoneAdmin } from './keystone.js';

/** The cached_endpoints service_type of a region's Neutron, as upstream Tricircle wrote it. */
export const NEUTRON_SERVICE_TYPE = 'neutron';

/** A region no pod is registered for: permanent until an operator registers it. */
export class RegionNotFoundError extends Error {
  override name = 'RegionNotFoundError';
  constructor(readonly region: string) {
    super(`region ${region} is not registered with Tricircle: no pod has region_name ${region} (see GET /v1.0/pods)`);
  }
}

/** A pod whose Neutron URL is neither cached nor (when asked) in Keystone's catalog. */
export class EndpointNotFoundError extends Error {
  override name = 'EndpointNotFoundError';
  constructor(
    readonly region: string,
    askedKeystone: boolean,
  ) {
    super(
      askedKeystone
        ? `no Neutron endpoint for region ${region}: Keystone's catalog has no single enabled public endpoint of a 'network' service ` +
            `in region ${region} (check: openstack endpoint list --service network --interface public --region ${region})`
        : `no Neutron endpoint for region ${region} in the cached_endpoints table, and [client] auto_refresh_endpoint is off: ` +
            `turn it on, or insert a row (pod_id of region ${region}, service_type '${NEUTRON_SERVICE_TYPE}', service_url)`,
    );
  }
}

/**
 * Where each region's Neutron is: region → pod → its cached_endpoints row, the table shared
 * by every process; refreshed from Keystone's catalog on request.
 */
export class EndpointDirectory {
  private readonly pods: PodRepository;
  private refreshing: Promise<Map<string, string>> | null = null;

  constructor(
    private readonly db: Db,
    /** null: no Keystone to refresh from; only the table is read. */
    private readonly keystone: KeystoneAdmin | null,
    private readonly logger?: Logger,
  ) {
    this.pods = new PodRepository(db);
  }

  async pod(region: string): Promise<Pod> {
    const [pod] = await this.pods.list({ region_name: [region] });
    if (!pod) throw new RegionNotFoundError(region);
    return pod;
  }

  /** The cached Neutron URL of a pod, if any. */
  async cached(podId: string): Promise<string | undefined> {
    const row = await this.db.kysely
      .selectFrom('cached_endpoints')
      .select('service_url')
      .where('pod_id', '=', podId)
      .where('service_type', '=', NEUTRON_SERVICE_TYPE)
      .orderBy('service_id')
      .executeTakeFirst();
    return row?.service_url;
  }

  /**
   * Reads the network endpoints from Keystone and writes the URL of every region that is a
   * pod into cached_endpoints (updating its row, or inserting one). Regions with several
   * URLs are left alone: which one is meant cannot be told. Concurrent callers share one
   * refresh. Returns the URLs written, by region.
   */
  refresh(): Promise<Map<string, string>> {
    this.refreshing ??= this.refreshNow().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async refreshNow(): Promise<Map<string, string>> {
    if (!this.keystone) return new Map();
    const catalog = await this.keystone.networkEndpoints();
    const written = new Map<string, string>();
    const pods = catalog.size === 0 ? [] : await this.pods.list({ region_name: [...catalog.keys()] });
    await writeTransaction(this.db.kysely, async (tx) => {
      for (const pod of pods) {
        const urls = catalog.get(pod.region_name)!;
        if (urls.length !== 1) {
          this.logger?.warn({ region: pod.region_name, urls }, 'Keystone lists several public network endpoints for the region; none is cached');
          continue;
        }
        const url = urls[0]!;
        // Read first: MariaDB counts only changed rows as updated, so an unchanged URL would look missing.
        const rows = await tx
          .selectFrom('cached_endpoints')
          .select('service_url')
          .where('pod_id', '=', pod.pod_id)
          .where('service_type', '=', NEUTRON_SERVICE_TYPE)
          .execute();
        if (rows.length === 0) {
          await tx
            .insertInto('cached_endpoints')
            .values({ service_id: randomUUID(), pod_id: pod.pod_id, service_type: NEUTRON_SERVICE_TYPE, service_url: url })
            .execute();
        } else if (rows.some((row) => row.service_url !== url)) {
          await tx
            .updateTable('cached_endpoints')
            .set({ service_url: url })
            .where('pod_id', '=', pod.pod_id)
            .where('service_type', '=', NEUTRON_SERVICE_TYPE)
            .execute();
        }
        written.set(pod.region_name, url);
      }
    });
    this.logger?.info({ regions: Object.fromEntries(written) }, 'Neutron endpoints refreshed from Keystone');
    return written;
  }
}
