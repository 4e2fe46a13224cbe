import type { RequestContext } from '../../auth/index.js';
import { KeystoneAdmin } from '../../client/keystone.js';
import { regionClientOptions } from '../../client/region-clients.js';
import type { Config } from '../../config/index.js';
import { ApiError } from '../../http/errors.js';
import { wrapOperations, type ListQuery, type NeutronPlugin, type Page, type Resource, type ResourceOperations } from '../core/plugin.js';
import type { Agents } from '../agents.js';
import { LocalAgents, vxlanMode } from './agents.js';
import { CentralNeutron, reachesCentral } from './central.js';
import { Mirror } from './mirror.js';
import { createPorts, deletePort, updatePort } from './ports.js';
import { bridgeRange } from './special-ports.js';
import { localFloatingIps } from './l3.js';

export interface LocalRoleOptions {
  /** This Neutron's region: it names the gateway ports and goes into binding profiles. */
  region: string;
  centralUrl: string;
  timeoutSeconds: number;
  /** auth_strategy = noauth: identity headers go to central with the token. */
  forwardIdentity: boolean;
  /** The [client] admin for internal work (reserved ports, binding reports); null: the caller's token does it. */
  admin: KeystoneAdmin | null;
  /** [client] bridge_cidr: router ports with an address in it share the central port's id. */
  bridgeCidr: string;
  /** The region's agent records; absent: no agents are recorded or reported. */
  agents?: Agents;
  /** [client] cross_pod_vxlan_mode. */
  vxlanMode: string;
}

const isNotFound = (err: unknown) => err instanceof ApiError && err.status === 404;

/**
 * Reads that copy what is missing locally from central: a GET of one id, and a list
 * filtered by ids (the ids central does not know, or that this region may not hold, are
 * left out, as upstream does).
 */
function mirroredReads(
  ops: ResourceOperations,
  ensure: (ctx: RequestContext, id: string) => Promise<unknown>,
  refresh?: (ctx: RequestContext, local: Resource) => Promise<boolean>,
): Pick<ResourceOperations, 'get' | 'list'> {
  return {
    async get(ctx, id) {
      try {
        const local = await ops.get(ctx, id);
        return refresh && (await refresh(ctx, local)) ? ops.get(ctx, id) : local;
      } catch (err) {
        if (!isNotFound(err) || !reachesCentral(ctx)) throw err;
      }
      await ensure(ctx, id);
      return ops.get(ctx, id);
    },
    async list(ctx: RequestContext, query: ListQuery): Promise<Page> {
      const ids = query.filters.id as string[] | undefined;
      if (ids?.length && reachesCentral(ctx)) {
        for (const id of new Set(ids)) {
          try {
            await ensure(ctx, id);
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        }
      }
      return ops.list(ctx, query);
    },
  };
}

/**
 * The local Neutron role: the core's operations, wrapped (never changed) so that what a
 * region's compute asks for comes from the central Neutron with the same ids, and what the
 * region binds is reported back to it (reference §4).
 */
export function createLocalPlugin(core: NeutronPlugin, options: LocalRoleOptions): NeutronPlugin {
  const central = new CentralNeutron({
    url: options.centralUrl,
    timeoutSeconds: options.timeoutSeconds,
    forwardIdentity: options.forwardIdentity,
    admin: options.admin,
  });
  const bridge = bridgeRange(options.bridgeCidr);
  const mirror = new Mirror(core, central, options.region, bridge);
  const agents = new LocalAgents(options.agents, central, vxlanMode(options.vxlanMode));
  const subnets = core.subnets!;
  return {
    ...core,
    networks: wrapOperations(
      core.networks!,
      mirroredReads(
        core.networks!,
        (ctx, id) => mirror.network(ctx, id),
        (ctx, network) => mirror.refreshSubnets(ctx, network),
      ),
    ),
    subnets: wrapOperations(subnets, {
      ...mirroredReads(subnets, (ctx, id) => mirror.subnet(ctx, id)),
      async update(ctx: RequestContext, id: string, changes: Resource) {
        // Turning DHCP on needs the region's copy of the central DHCP port first.
        if (changes.enable_dhcp === true && reachesCentral(ctx)) {
          const current = await subnets.get(ctx, id);
          if (!current.enable_dhcp) await mirror.dhcpPort(ctx, current);
        }
        return subnets.update(ctx, id, changes);
      },
      // Reads made for the delete must not copy the subnet back from central (§4.1).
      delete: (ctx, id) => mirror.deletingSubnet(ctx, () => subnets.delete(ctx, id)),
    }),
    ports: wrapOperations(core.ports!, {
      ...mirroredReads(core.ports!, (ctx, id) => mirror.port(ctx, id)),
      create: (ctx, items) => createPorts(core.ports!, mirror, central, ctx, items, bridge, agents),
      update: (ctx, id, changes) => updatePort(core.ports!, central, options.region, agents, ctx, id, changes),
      delete: (ctx, id) => deletePort(core.ports!, central, ctx, id),
    }),
    ...(core.floatingips ? { floatingips: wrapOperations(core.floatingips, localFloatingIps(core.floatingips)) } : {}),
    security_groups: wrapOperations(
      core.security_groups!,
      mirroredReads(core.security_groups!, (ctx, id) => mirror.securityGroup(ctx, id)),
    ),
  };
}

/** The [client] admin (auth_url, admin_username, admin_password, admin_tenant), or null when none is configured. */
function adminOf(config: Config): KeystoneAdmin | null {
  const options = regionClientOptions(config);
  return options && new KeystoneAdmin(options, options.timeoutSeconds);
}

/**
 * The local role as configured: [tricircle] central_neutron_url, and the region from --region or
 * [tricircle] local_region_name; `agents`: the region's agent records (GET /v2.0/agents).
 */
export function localPluginFor(config: Config, core: NeutronPlugin, region?: string, agents?: Agents): NeutronPlugin {
  const centralUrl = config.tricircle.central_neutron_url;
  const name = region ?? config.tricircle.local_region_name;
  if (!centralUrl) throw new Error('neutron-server --role local needs [tricircle] central_neutron_url');
  if (!name) throw new Error('neutron-server --role local needs --region or [tricircle] local_region_name');
  return createLocalPlugin(core, {
    region: name,
    centralUrl,
    timeoutSeconds: config.client.neutron_timeout,
    forwardIdentity: config.DEFAULT.auth_strategy === 'noauth',
    admin: adminOf(config),
    bridgeCidr: config.client.bridge_cidr,
    agents,
    vxlanMode: config.client.cross_pod_vxlan_mode,
  });
}
