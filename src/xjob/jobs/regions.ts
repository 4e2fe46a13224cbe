import { BlockList, isIPv6 } from 'node:net';
import { localRegionOf, type Pod } from '../../tricircle/index.js';
import { JobFailure, type JobRunContext, type RegionNeutron } from '../handler.js';

// What the L3 handlers share: a Neutron (central or a region's) as JSON collections, and
// which region a router or an external network lives in.

// Neutron's JSON as it comes over the wire; the handlers read the attributes they need.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;
export type FixedIp = { subnet_id: string; ip_address: string };

export const ROUTER_INTERFACE = 'network:router_interface';
export const ROUTER_GATEWAY = 'network:router_gateway';

const SINGULAR: Record<string, string> = {
  networks: 'network',
  subnets: 'subnet',
  ports: 'port',
  routers: 'router',
  floatingips: 'floatingip',
  agents: 'agent',
};

export const isNotFound = (err: unknown) => (err as { status?: unknown } | null)?.status === 404;

/** Resolves to undefined when the answer is a 404 (already gone), rethrows anything else. */
export async function unlessGone<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** One Neutron's collections over REST, every call bound to the run's abort signal. */
export class NeutronApi {
  constructor(
    private readonly neutron: RegionNeutron,
    private readonly signal: AbortSignal,
  ) {}

  /** The resource, or null when Neutron answers 404. A GET by id in a region copies it from central under the same id. */
  async find(collection: string, id: string): Promise<Json | null> {
    const body = await unlessGone(this.neutron.request<Json>('GET', `/v2.0/${collection}/${id}`, undefined, this.signal));
    return (body?.[SINGULAR[collection]!] as Json | undefined) ?? null;
  }

  /** The items matching every filter (a list value matches any of its elements). */
  async list(collection: string, filters: Record<string, string | string[]> = {}): Promise<Json[]> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) for (const v of [value].flat()) query.append(key, v);
    const text = query.toString();
    const body = await this.neutron.request<Json>('GET', `/v2.0/${collection}${text ? `?${text}` : ''}`, undefined, this.signal);
    return body[collection] as Json[];
  }

  async create(collection: string, attrs: Json): Promise<Json> {
    const singular = SINGULAR[collection]!;
    return (await this.neutron.request<Json>('POST', `/v2.0/${collection}`, { [singular]: attrs }, this.signal))[singular] as Json;
  }

  async update(collection: string, id: string, attrs: Json): Promise<Json> {
    const singular = SINGULAR[collection]!;
    return (await this.neutron.request<Json>('PUT', `/v2.0/${collection}/${id}`, { [singular]: attrs }, this.signal))[singular] as Json;
  }

  /** Deletes; already gone is fine. */
  async remove(collection: string, id: string): Promise<void> {
    await unlessGone(this.neutron.request('DELETE', `/v2.0/${collection}/${id}`, undefined, this.signal));
  }

  /** PUT /v2.0/routers/<id>/<action> (add_router_interface, remove_router_interface). */
  routerAction(id: string, action: string, body: Json): Promise<Json> {
    return this.neutron.request<Json>('PUT', `/v2.0/routers/${id}/${action}`, body, this.signal);
  }
}

/** The central Neutron of a run, as the admin. */
export async function centralApi(ctx: JobRunContext): Promise<NeutronApi> {
  return new NeutronApi(await ctx.services.central(), ctx.signal);
}

/** A region's Neutron for a run, as the admin. */
export async function regionApi(ctx: JobRunContext, region: string): Promise<NeutronApi> {
  return new NeutronApi(await ctx.clients.neutron(region), ctx.signal);
}

/**
 * Runs the reconciliation of a router's copies. A region answering 404 under it means the
 * router is being deleted (done, once central has no such router) or a race worth retrying.
 */
export async function whileRouterExists(central: NeutronApi, routerId: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (!isNotFound(err)) throw err;
    if (!(await central.find('routers', routerId))) return;
    throw new JobFailure(`A region resource of router ${routerId} vanished during the run`, true, { cause: err });
  }
}

const hintsOf = (resource: Json) => (resource.availability_zone_hints as string[] | undefined) ?? [];

/** The central pod (the one without an AZ). */
export async function centralPod(ctx: JobRunContext): Promise<Pod> {
  const top = await ctx.services.pods.topPod();
  if (!top) throw new Error('No central pod is registered');
  return top;
}

/** The region of a local router (exactly one hint, a region name), or null for a non-local router. */
export async function localRouterRegion(ctx: JobRunContext, router: Json): Promise<string | null> {
  return localRegionOf(hintsOf(router), await ctx.services.pods.regionPods());
}

/**
 * The pod an external network is pinned to: its first hint (a region, or an AZ of one
 * region), else the pod of its `network` routing row; undefined when neither says.
 */
export async function externalNetworkPod(ctx: JobRunContext, network: Json): Promise<Pod | undefined> {
  const hint = hintsOf(network)[0];
  const pinned = hint === undefined ? undefined : await ctx.services.pods.podOf(hint);
  if (pinned) return pinned;
  const [podId] = await ctx.services.routings.podsOf(String(network.id), ['network']);
  return podId === undefined ? undefined : (await ctx.services.pods.regionPods()).find((pod) => pod.pod_id === podId);
}

/** The first IPv4 address of a port (and its subnet), if any. */
export function firstIpv4(port: Json): FixedIp | undefined {
  return (port.fixed_ips as FixedIp[]).find((f) => !f.ip_address.includes(':'));
}

const family = (ip: string) => (isIPv6(ip) ? 'ipv6' : 'ipv4');

/** A membership test for the addresses of a prefix such as [client] bridge_cidr. */
export function addressRange(cidr: string): (ip: string) => boolean {
  const [network = '', prefix = ''] = cidr.split('/');
  const range = new BlockList();
  range.addSubnet(network, Number(prefix), family(network));
  return (ip) => range.check(ip, family(ip));
}
