import { ApiError } from '../../http/errors.js';
import { pyRepr } from '../resources/net-validators.js';
import type { GatewayInfo } from '../resources/router.js';
import { cidrContains, parseCidr, parseIp } from './ip.js';
import { ROUTER_GATEWAY, SERVICE, badRequest, type DevicePorts, type FixedIp } from './l3.js';
import { networkNotFound } from './networks.js';
import type { Resource } from './plugin.js';
import type { Executor } from './store.js';

// A router's external gateway (set, change, clear) and its extra routes, whose nexthops
// must stay on the subnets the router is connected to.

const MAX_ROUTES = 30;
type Route = { destination: string; nexthop: string };

/** Every address of the router's ports (interfaces and gateway) with its subnet's cidr, except `exceptPort`'s. */
export async function routerAddresses(db: Executor, routerId: string, exceptPort?: string): Promise<Array<FixedIp & { cidr: string; port_id: string }>> {
  let q = db
    .selectFrom('router_ports')
    .innerJoin('ip_allocations', 'ip_allocations.port_id', 'router_ports.port_id')
    .innerJoin('subnets', 'subnets.id', 'ip_allocations.subnet_id')
    .select(['router_ports.port_id', 'ip_allocations.subnet_id', 'ip_allocations.ip_address', 'subnets.cidr'])
    .where('router_ports.router_id', '=', routerId);
  if (exceptPort) q = q.where('router_ports.port_id', '<>', exceptPort);
  return (await q.execute()) as Array<FixedIp & { cidr: string; port_id: string }>;
}

/** extraroute's nexthop rules: on a connected subnet, not one of the router's own addresses. */
export function checkRoutes(routes: Route[], addresses: Array<{ cidr: string; ip_address: string }>): void {
  const invalid = (reason: string) => new ApiError('InvalidRoutes', `Invalid format for routes: ${pyRepr(routes)}, ${reason}`);
  if (routes.length > MAX_ROUTES) throw invalid(`the number of routes exceeds the maximum ${MAX_ROUTES}`);
  for (const route of routes) {
    const hop = parseIp(route.nexthop)!;
    if (!addresses.some((a) => cidrContains(parseCidr(a.cidr)!, hop))) throw invalid('the nexthop is not connected with router');
    if (addresses.some((a) => a.ip_address === route.nexthop)) throw invalid('the nexthop is used by router');
  }
}

export class RouterGateways {
  constructor(private readonly ports: DevicePorts) {}

  /** Sets, changes or clears (null) the router's gateway, as an update or a create with external_gateway_info asks. */
  async set(tx: Executor, router: Resource, info: GatewayInfo | null): Promise<void> {
    const routerId = router.id as string;
    const current = router.gw_port_id
      ? await tx.selectFrom('ports').select(['id', 'network_id']).where('id', '=', router.gw_port_id).executeTakeFirst()
      : undefined;
    if (info === null) {
      if (current) await this.clear(tx, router, current.network_id as string);
      await tx.updateTable('routers').set({ enable_snat: 1 }).where('id', '=', routerId).execute();
      return;
    }
    const network = await tx.selectFrom('networks').select(['id', 'router_external']).where('id', '=', info.network_id).executeTakeFirst();
    if (!network) throw networkNotFound(info.network_id);
    if (Number(network.router_external) !== 1) throw badRequest('router', `Network ${info.network_id} is not an external network`);
    const requested = info.external_fixed_ips;
    if (requested?.length) {
      const gateways = await tx.selectFrom('subnets').select('gateway_ip').where('network_id', '=', info.network_id).execute();
      const same = requested.find((ip) => ip.ip_address && gateways.some((s) => s.gateway_ip === ip.ip_address));
      if (same) throw badRequest('router', `External IP ${same.ip_address} is the same as the gateway IP`);
    }
    const snat = info.enable_snat ?? true;
    if (current && current.network_id === info.network_id && !(await this.addressesChange(tx, current.id as string, requested))) {
      await tx
        .updateTable('routers')
        .set({ enable_snat: snat ? 1 : 0 })
        .where('id', '=', routerId)
        .execute();
      return;
    }
    // A new network or new addresses: a new gateway port (Neutron keeps the port on an address change; the id is not an API promise).
    if (current) await this.clear(tx, router, current.network_id as string, current.network_id === info.network_id);
    const port = await this.ports.createOwned(tx, {
      network_id: info.network_id,
      project_id: '',
      device_id: routerId,
      device_owner: ROUTER_GATEWAY,
      fixed_ips: requested,
    });
    await tx.insertInto('router_ports').values({ router_id: routerId, port_id: port.id, port_type: ROUTER_GATEWAY }).execute();
    await tx
      .updateTable('routers')
      .set({ gw_port_id: port.id, enable_snat: snat ? 1 : 0 })
      .where('id', '=', routerId)
      .execute();
  }

  private async addressesChange(tx: Executor, portId: string, requested: GatewayInfo['external_fixed_ips']): Promise<boolean> {
    if (!requested) return false;
    const held = await tx.selectFrom('ip_allocations').select(['ip_address', 'subnet_id']).where('port_id', '=', portId).execute();
    const wanted = requested.map((r) => r.ip_address).filter(Boolean);
    const heldIps = held.map((h) => String(h.ip_address));
    if (wanted.length !== requested.length) return true;
    return wanted.length !== heldIps.length || wanted.some((ip) => !heldIps.includes(ip!));
  }

  /** Removes the gateway port; floating IPs through this router on that network keep it (unless it stays on the same network). */
  private async clear(tx: Executor, router: Resource, networkId: string, sameNetwork = false): Promise<void> {
    const routerId = router.id as string;
    if (!sameNetwork) {
      const fip = await tx
        .selectFrom('floatingips')
        .select('id')
        .where('router_id', '=', routerId)
        .where('floating_network_id', '=', networkId)
        .executeTakeFirst();
      if (fip) {
        throw new ApiError(
          'RouterExternalGatewayInUseByFloatingIp',
          `Gateway cannot be updated for router ${routerId}, since a gateway to external network ${networkId} is required by one or more floating IPs.`,
        );
      }
      // Routes through the gateway's subnets would be left off-subnet.
      const routes = router.routes as Route[];
      if (routes.length) checkRoutes(routes, await routerAddresses(tx, routerId, router.gw_port_id as string));
    }
    const portId = router.gw_port_id as string;
    await tx.updateTable('routers').set({ gw_port_id: null }).where('id', '=', routerId).execute();
    await tx.deleteFrom('router_ports').where('port_id', '=', portId).execute();
    const port = await this.ports.find(tx, SERVICE, portId);
    await this.ports.remove(tx, port);
  }
}
