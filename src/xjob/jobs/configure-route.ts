import { SHADOW_OWNER } from '../../tricircle/index.js';
import type { JobRunContext } from '../handler.js';
import { ROUTER_GATEWAY, ROUTER_INTERFACE, addressRange, centralApi, firstIpv4, regionApi, whileRouterExists, type Json, type NeutronApi } from './regions.js';

// configure_route {router_id} (reference §5.4): the extra routes that join a non-local
// router's copies. Each east-west copy reaches the VMs behind the other copies by /32 routes
// via their bridge addresses, and the outside via the north-south router's bridge address;
// the north-south router routes back to every VM. A copy that is not its subnet's gateway (a
// subnet with a local router of its own) gets there through subnet host routes instead. Upstream
// crashed here (Python 3) whenever a north-south router existed.

type Route = { destination: string; nexthop: string };
/** A subnet whose gateway is another router: this router's address on it is the way to the other regions. */
type SecondarySubnet = { subnetId: string; cidr: string; nexthop: string };

/** One bottom router as this run found it. */
interface BottomRouter {
  id: string;
  regionName: string;
  region: NeutronApi;
  ns: boolean;
  /** Its address on the bridge subnet, if it has one. */
  bridgeIp?: string;
  /** The VM addresses behind its interfaces, by subnet CIDR. */
  vms: Map<string, string[]>;
  secondary: SecondarySubnet[];
}

const isVmPort = (port: Json) => String(port.device_owner).startsWith('compute:') && port.device_owner !== SHADOW_OWNER;

export async function configureRoute(ctx: JobRunContext): Promise<void> {
  const central = await centralApi(ctx);
  const router = await central.find('routers', ctx.resource.router_id!);
  if (!router) return;
  const inBridge = addressRange(ctx.services.config.client.bridge_cidr);
  await whileRouterExists(central, String(router.id), async () => {
    const routers: BottomRouter[] = [];
    for (const row of await ctx.services.routings.mappings(String(router.id), ['router', 'ns_router'])) {
      const regionName = (await ctx.services.pods.get(row.pod_id)).region_name;
      const found: BottomRouter = {
        id: row.bottom_id!,
        regionName,
        region: await regionApi(ctx, regionName),
        ns: row.resource_type === 'ns_router',
        vms: new Map(),
        secondary: [],
      };
      await inspect(found, inBridge);
      routers.push(found);
    }
    const ns = routers.find((r) => r.ns);
    const eastWest = routers.filter((r) => !r.ns);
    const hasGateway = Boolean(router.external_gateway_info);
    for (const r of eastWest) await setRoutes(r, eastWestRoutes(r, eastWest, hasGateway ? ns?.bridgeIp : undefined));
    if (ns) await setRoutes(ns, hasGateway ? northSouthRoutes(eastWest) : []);
    await setHostRoutes(eastWest);
  });
}

/** Fills in a bottom router's bridge address, the VMs behind its other interfaces, and the subnets it is not the gateway of. */
async function inspect(found: BottomRouter, inBridge: (ip: string) => boolean): Promise<void> {
  const { id, region } = found;
  for (const port of await region.list('ports', { device_id: id, device_owner: [ROUTER_INTERFACE, ROUTER_GATEWAY] })) {
    const ip = firstIpv4(port);
    if (!ip) continue;
    if (inBridge(ip.ip_address)) {
      found.bridgeIp = ip.ip_address;
      continue;
    }
    // The north-south router's gateway is on the external network: no VMs there.
    if (port.device_owner !== ROUTER_INTERFACE) continue;
    const subnet = await region.find('subnets', ip.subnet_id);
    if (!subnet) continue;
    if (subnet.gateway_ip !== ip.ip_address) found.secondary.push({ subnetId: ip.subnet_id, cidr: String(subnet.cidr), nexthop: ip.ip_address });
    const vms = (await region.list('ports', { network_id: String(port.network_id) }))
      .filter(isVmPort)
      .map((p) => (p.fixed_ips as Array<{ subnet_id: string; ip_address: string }>).find((f) => f.subnet_id === ip.subnet_id)?.ip_address)
      .filter((a): a is string => a !== undefined);
    if (vms.length) found.vms.set(String(subnet.cidr), [...(found.vms.get(String(subnet.cidr)) ?? []), ...vms]);
  }
}

/**
 * An east-west copy's routes: /32s to the VMs of the other copies, in CIDRs where it has no
 * VMs itself (a stretched network's VMs are reached over L2), and the default route via the
 * north-south router when the central router has a gateway.
 */
function eastWestRoutes(r: BottomRouter, all: BottomRouter[], nsBridgeIp: string | undefined): Route[] {
  // Without its own bridge address no next hop is connected to it.
  if (r.bridgeIp === undefined) return [];
  const routes = new Map<string, Route>();
  for (const other of all) {
    if (other === r || other.bridgeIp === undefined) continue;
    for (const [cidr, ips] of other.vms) {
      if (r.vms.has(cidr)) continue;
      for (const ip of ips) routes.set(`${ip}/32`, { destination: `${ip}/32`, nexthop: other.bridgeIp });
    }
  }
  const sorted = [...routes.values()].sort((a, b) => a.destination.localeCompare(b.destination));
  return nsBridgeIp === undefined ? sorted : [{ destination: '0.0.0.0/0', nexthop: nsBridgeIp }, ...sorted];
}

/** The north-south router's routes back: every VM behind an east-west copy via that copy's bridge address. */
function northSouthRoutes(eastWest: BottomRouter[]): Route[] {
  const routes = new Map<string, Route>();
  for (const r of eastWest) {
    if (r.bridgeIp === undefined) continue;
    for (const ips of r.vms.values()) for (const ip of ips) routes.set(`${ip}/32`, { destination: `${ip}/32`, nexthop: r.bridgeIp });
  }
  return [...routes.values()].sort((a, b) => a.destination.localeCompare(b.destination));
}

const routeKey = (routes: Route[]) =>
  routes
    .map((r) => `${r.destination}>${r.nexthop}`)
    .sort()
    .join(',');

/** Replaces the router's routes, unless they are those already. */
async function setRoutes(r: BottomRouter, routes: Route[]): Promise<void> {
  const current = await r.region.find('routers', r.id);
  if (!current || routeKey((current.routes as Route[] | undefined) ?? []) === routeKey(routes)) return;
  await r.region.update('routers', r.id, { routes });
}

/**
 * Host routes of the subnets a copy is not the gateway of: the VMs there reach the CIDRs of such
 * subnets in other regions through the copy's address on their subnet (they pick them up at
 * their next DHCP renewal).
 */
async function setHostRoutes(eastWest: BottomRouter[]): Promise<void> {
  for (const r of eastWest) {
    const own = new Set(eastWest.filter((o) => o.regionName === r.regionName).flatMap((o) => o.secondary.map((s) => s.cidr)));
    const elsewhere = [...new Set(eastWest.flatMap((o) => o.secondary.map((s) => s.cidr)).filter((cidr) => !own.has(cidr)))].sort();
    for (const subnet of r.secondary) {
      const routes = elsewhere.map((cidr) => ({ destination: cidr, nexthop: subnet.nexthop }));
      const current = await r.region.find('subnets', subnet.subnetId);
      if (!current || routeKey((current.host_routes as Route[] | undefined) ?? []) === routeKey(routes)) continue;
      await r.region.update('subnets', subnet.subnetId, { host_routes: routes });
    }
  }
}
