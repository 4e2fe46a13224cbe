import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { isUuid } from '../resources/attributes.js';
import { cidrsOverlap, parseCidr } from './ip.js';
import { ROUTER_GATEWAY, ROUTER_INTERFACE, SERVICE, badRequest, type DevicePorts, type FixedIp } from './l3.js';
import type { Resource } from './plugin.js';
import { checkRoutes, routerAddresses } from './router-gateway.js';
import { nowIso, type Executor, type NeutronDb } from './store.js';
import { subnetNotFound, visibleSubnets } from './subnets.js';
import { writeTransaction } from '../../db/index.js';

// add_router_interface / remove_router_interface, by subnet (a new port at the subnet's
// gateway address) or by port (an existing port of the project, handed to the router).

type Subnet = { id: string; network_id: string; cidr: string; ip_version: number; gateway_ip: string | null; project_id: string };
type Route = { destination: string; nexthop: string };

/** The request's subnet_id or port_id, checked as Neutron's _validate_interface_info does. */
function interfaceInfo(body: Resource): { subnetId?: string; portId?: string } {
  const { subnet_id: subnetId, port_id: portId } = body;
  if (subnetId === undefined && portId === undefined) throw badRequest('router', 'Either subnet_id or port_id must be specified');
  for (const id of [subnetId, portId]) if (id !== undefined && !isUuid(id)) throw badRequest('router', `'${String(id)}' is not a valid UUID`);
  return { subnetId: (subnetId as string | undefined)?.toLowerCase(), portId: (portId as string | undefined)?.toLowerCase() };
}

const subnetsById = async (db: Executor, ids: string[]): Promise<Subnet[]> =>
  ids.length
    ? ((await db.selectFrom('subnets').select(['id', 'network_id', 'cidr', 'ip_version', 'gateway_ip', 'project_id']).where('id', 'in', ids).execute()).map(
        (s) => ({
          ...s,
          ip_version: Number(s.ip_version),
        }),
      ) as Subnet[])
    : [];

export class RouterInterfaces {
  constructor(
    private readonly db: NeutronDb,
    private readonly ports: DevicePorts,
    /** The router as the caller may see it, locked for the transaction. */
    private readonly router: (db: Executor, ctx: RequestContext, id: string) => Promise<Resource>,
  ) {}

  async add(ctx: RequestContext, routerId: string, body: Resource): Promise<Resource> {
    const { subnetId, portId } = interfaceInfo(body);
    if (subnetId && portId) throw badRequest('router', 'Cannot specify both subnet-id and port-id');
    return writeTransaction(this.db, async (tx) => {
      const router = await this.router(tx, ctx, routerId);
      let port: Resource;
      let subnets: Subnet[];
      if (portId) {
        port = await this.ports.find(tx, ctx, portId);
        if (port.device_id !== '') {
          throw new ApiError(
            'PortInUse',
            `Unable to complete operation on port ${portId} for network ${port.network_id}. Port already has an attached device ${port.device_id}.`,
          );
        }
        const ips = port.fixed_ips as FixedIp[];
        if (!ips.length) throw badRequest('router', 'Router port must have at least one fixed IP');
        subnets = await subnetsById(tx, [...new Set(ips.map((ip) => ip.subnet_id))]);
        await this.checkDuplicates(tx, routerId, subnets);
        if (subnets.filter((s) => s.ip_version === 4).length > 1) throw badRequest('router', 'Cannot have multiple IPv4 subnets on router port');
        await this.ports.attach(tx, portId, routerId, ROUTER_INTERFACE);
      } else {
        const row = await visibleSubnets(tx, ctx)(tx.selectFrom('subnets').select('id').where('id', '=', subnetId!)).executeTakeFirst();
        if (!row) throw subnetNotFound(subnetId!);
        const subnet = (await subnetsById(tx, [subnetId!]))[0]!;
        if (!subnet.gateway_ip) throw badRequest('router', 'Subnet for router interface must have a gateway IP');
        if (!ctx.isAdmin && subnet.project_id !== ctx.projectId) {
          throw badRequest('router', `Cannot add interface to router because subnet ${subnetId} is not owned by project making the request`);
        }
        subnets = [subnet];
        await this.checkDuplicates(tx, routerId, subnets);
        port = await this.ports.createOwned(tx, {
          network_id: subnet.network_id,
          project_id: router.project_id as string,
          device_id: routerId,
          device_owner: ROUTER_INTERFACE,
          fixed_ips: [{ subnet_id: subnet.id, ip_address: subnet.gateway_ip }],
        });
      }
      await tx.insertInto('router_ports').values({ router_id: routerId, port_id: port.id, port_type: ROUTER_INTERFACE }).execute();
      await this.bump(tx, router);
      return this.info(router, port, subnets);
    });
  }

  async remove(ctx: RequestContext, routerId: string, body: Resource): Promise<Resource> {
    const { subnetId, portId } = interfaceInfo(body);
    return writeTransaction(this.db, async (tx) => {
      const router = await this.router(tx, ctx, routerId);
      const interfaces = await tx
        .selectFrom('router_ports')
        .innerJoin('ip_allocations', 'ip_allocations.port_id', 'router_ports.port_id')
        .select(['router_ports.port_id', 'ip_allocations.subnet_id'])
        .where('router_ports.router_id', '=', routerId)
        .where('router_ports.port_type', '=', ROUTER_INTERFACE)
        .execute();
      let found: string | undefined;
      if (portId) {
        const attached = await tx
          .selectFrom('router_ports')
          .select('port_id')
          .where('router_id', '=', routerId)
          .where('port_id', '=', portId)
          .where('port_type', '=', ROUTER_INTERFACE)
          .executeTakeFirst();
        if (!attached) throw new ApiError('RouterInterfaceNotFound', `Router ${routerId} does not have an interface with id ${portId}`);
        found = portId;
      }
      if (subnetId) {
        const match = interfaces.find((i) => i.subnet_id === subnetId && (!found || i.port_id === found));
        if (!match) throw new ApiError('RouterInterfaceNotFoundForSubnet', `Router ${routerId} has no interface on subnet ${subnetId}`);
        found = String(match.port_id);
      }
      const port = await this.ports.find(tx, SERVICE, found!);
      const subnets = await subnetsById(tx, [...new Set((port.fixed_ips as FixedIp[]).map((ip) => ip.subnet_id))]);
      for (const subnet of subnets) await this.checkNotInUse(tx, router, subnet, found!);
      await tx.deleteFrom('router_ports').where('port_id', '=', found!).execute();
      await this.ports.remove(tx, port);
      await this.bump(tx, router);
      return this.info(router, port, subnets);
    });
  }

  /** A route through the subnet or a floating IP reached through it keeps the interface. */
  private async checkNotInUse(tx: Executor, router: Resource, subnet: Subnet, portId: string): Promise<void> {
    const routes = router.routes as Route[];
    if (routes.length) {
      try {
        checkRoutes(routes, await routerAddresses(tx, router.id as string, portId));
      } catch {
        throw new ApiError(
          'RouterInterfaceInUseByRoute',
          `Router interface for subnet ${subnet.id} on router ${router.id} cannot be deleted, as it is required by one or more routes.`,
        );
      }
    }
    const fip = await tx
      .selectFrom('floatingips')
      .innerJoin('ip_allocations', (join) =>
        join.onRef('ip_allocations.port_id', '=', 'floatingips.fixed_port_id').onRef('ip_allocations.ip_address', '=', 'floatingips.fixed_ip_address'),
      )
      .select('floatingips.id')
      .where('floatingips.router_id', '=', router.id)
      .where('ip_allocations.subnet_id', '=', subnet.id)
      .executeTakeFirst();
    if (fip) {
      throw new ApiError(
        'RouterInterfaceInUseByFloatingIP',
        `Router interface for subnet ${subnet.id} on router ${router.id} cannot be deleted, as it is required by one or more floating IPs.`,
      );
    }
  }

  /** _check_for_dup_router_subnets: no subnet twice on a router, no overlapping cidrs (the gateway's network counts whole). */
  private async checkDuplicates(tx: Executor, routerId: string, wanted: Subnet[]): Promise<void> {
    const held = await tx
      .selectFrom('router_ports')
      .innerJoin('ports', 'ports.id', 'router_ports.port_id')
      .innerJoin('ip_allocations', 'ip_allocations.port_id', 'router_ports.port_id')
      .select(['ports.network_id', 'ports.device_owner', 'ip_allocations.subnet_id'])
      .where('router_ports.router_id', '=', routerId)
      .execute();
    const dup = held.find((h) => wanted.some((w) => w.id === h.subnet_id));
    if (dup) throw badRequest('router', `Router already has a port on subnet ${dup.subnet_id}`);
    const gatewayNetworks = held.filter((h) => h.device_owner === ROUTER_GATEWAY).map((h) => String(h.network_id));
    const onGateway = gatewayNetworks.length ? await tx.selectFrom('subnets').select('id').where('network_id', 'in', gatewayNetworks).execute() : [];
    const attached = await subnetsById(tx, [
      ...new Set([...held.filter((h) => h.device_owner !== ROUTER_GATEWAY).map((h) => String(h.subnet_id)), ...onGateway.map((s) => String(s.id))]),
    ]);
    for (const sub of attached) {
      for (const s of wanted) {
        if (cidrsOverlap(parseCidr(s.cidr)!, parseCidr(sub.cidr)!)) {
          throw badRequest('router', `Cidr ${s.cidr} of subnet ${s.id} overlaps with cidr ${sub.cidr} of subnet ${sub.id}`);
        }
      }
    }
  }

  private async bump(tx: Executor, router: Resource): Promise<void> {
    await tx
      .updateTable('routers')
      .set({ revision_number: Number(router.revision_number) + 1, updated_at: nowIso() })
      .where('id', '=', router.id)
      .execute();
  }

  /** What both actions answer, as Neutron's _make_router_interface_info (no project_id there). */
  private info(router: Resource, port: Resource, subnets: Subnet[]): Resource {
    return {
      id: router.id,
      tenant_id: port.project_id,
      port_id: port.id,
      network_id: port.network_id,
      subnet_id: subnets[0]?.id ?? null,
      subnet_ids: subnets.map((s) => s.id),
    };
  }
}
