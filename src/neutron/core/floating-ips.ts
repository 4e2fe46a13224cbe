import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { FLOATINGIP } from '../resources/floatingip.js';
import type { CoreDeps } from './deps.js';
import { FLOATINGIP_PORT, ROUTER_GATEWAY, ROUTER_INTERFACE, SERVICE, badRequest, type DevicePorts, type FixedIp } from './l3.js';
import { networkNotFound } from './networks.js';
import type { ListQuery, Page, Resource, ResourceOperations } from './plugin.js';
import { fromRow, insertOrConflict, int, findVisible, listRows, loadInOrder, nowIso, text, toRow, type Executor, type Query, type TableSpec } from './store.js';
import { loadTags } from './tags.js';
import { writeTransaction } from '../../db/index.js';

// Floating IPs: an address on an external network (held by a port of its own), optionally
// associated with a fixed IP of a port that a router with a gateway on that network reaches.
// Status: ACTIVE while associated, DOWN otherwise. Neutron leaves it DOWN until an L3 agent
// reports; this server has no agents, and ACTIVE is what an operator sees with a working one.

export const FLOATINGIPS: TableSpec = {
  table: 'floatingips',
  tagType: 'floatingips',
  columns: {
    id: text('id'),
    project_id: text('project_id'),
    description: text('description'),
    floating_network_id: text('floating_network_id'),
    floating_ip_address: text('floating_ip_address'),
    port_id: text('fixed_port_id', ''),
    fixed_ip_address: text('fixed_ip_address', ''),
    router_id: text('router_id', ''),
    status: text('status'),
    created_at: text('created_at'),
    updated_at: text('updated_at'),
    revision_number: int('revision_number'),
    // Not an API attribute: the port holding the floating address.
    floating_port_id: text('floating_port_id'),
  },
};

const notFound = (id: string) => new ApiError('FloatingIPNotFound', FLOATINGIP.notFoundMessage(id));
const bad = (message: string) => badRequest('floatingip', message);
const isV4 = (ip: string) => !ip.includes(':');

const visible =
  (ctx: RequestContext) =>
  (q: Query): Query =>
    ctx.isAdmin ? q : q.where('floatingips.project_id', '=', ctx.projectId);

/** Columns an association sets: the port, its address and the router that serves it. */
type Association = { fixed_port_id: string | null; fixed_ip_address: string | null; router_id: string | null; status: 'ACTIVE' | 'DOWN' };
export const NONE: Association = { fixed_port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' };

/** Picks the router that serves an association of a floating IP on `networkId` with an address on `subnetId`. */
export type RouterSelection = (tx: Executor, networkId: string, subnetId: string) => Promise<string | undefined>;

/** Neutron's choice: a router with its gateway on the external network and an interface on the subnet (the oldest such router). */
export const routerReachingSubnet: RouterSelection = async (tx, networkId, subnetId) => {
  const row = await tx
    .selectFrom('routers')
    .innerJoin('ports as gw', 'gw.id', 'routers.gw_port_id')
    .innerJoin('router_ports', 'router_ports.router_id', 'routers.id')
    .innerJoin('ip_allocations', 'ip_allocations.port_id', 'router_ports.port_id')
    .select('routers.id')
    .where('gw.network_id', '=', networkId)
    .where('gw.device_owner', '=', ROUTER_GATEWAY)
    .where('router_ports.port_type', '=', ROUTER_INTERFACE)
    .where('ip_allocations.subnet_id', '=', subnetId)
    .orderBy('routers.created_at')
    .orderBy('routers.id')
    .executeTakeFirst();
  return row?.id as string | undefined;
};

export class FloatingIpOperations implements ResourceOperations {
  constructor(
    private readonly deps: CoreDeps,
    private readonly ports: DevicePorts,
    private readonly servingRouter: RouterSelection = routerReachingSubnet,
  ) {}

  /** The same operations choosing routers another way (the local role's, reference §4.7). */
  selectingRouters(select: RouterSelection): FloatingIpOperations {
    return new FloatingIpOperations(this.deps, this.ports, select);
  }

  async load(db: Executor, rows: Record<string, unknown>[]): Promise<Resource[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => String(r.id));
    const portIds = rows.map((r) => r.fixed_port_id).filter((id): id is string => typeof id === 'string');
    const [ports, tags] = await Promise.all([
      portIds.length
        ? db
            .selectFrom('ports')
            .select(['id', 'name', 'network_id', 'mac_address', 'admin_state_up', 'status', 'device_id', 'device_owner'])
            .where('id', 'in', portIds)
            .execute()
        : [],
      loadTags(db, 'floatingips', ids),
    ]);
    return rows.map((row) => {
      const record = fromRow(FLOATINGIPS, row);
      const port = ports.find((p) => p.id === row.fixed_port_id);
      // fip-port-details
      record.port_details = port
        ? {
            name: port.name,
            network_id: port.network_id,
            mac_address: port.mac_address,
            admin_state_up: Number(port.admin_state_up) === 1,
            status: port.status,
            device_id: port.device_id,
            device_owner: port.device_owner,
          }
        : null;
      record.tags = tags.get(String(row.id)) ?? [];
      return record;
    });
  }

  async list(ctx: RequestContext, query: ListQuery): Promise<Page> {
    const { rows, more } = await listRows(this.deps.db, FLOATINGIPS, query, visible(ctx));
    return { items: await this.load(this.deps.db, rows), more };
  }

  async find(db: Executor, ctx: RequestContext, id: string): Promise<Resource> {
    return findVisible(db, 'floatingips', visible(ctx), id, notFound, (d, rows) => this.load(d, rows));
  }

  get(ctx: RequestContext, id: string): Promise<Resource> {
    return this.find(this.deps.db, ctx, id);
  }

  async create(ctx: RequestContext, items: Resource[]): Promise<Resource[]> {
    for (const item of items) if (item.fixed_ip_address !== null && item.port_id === null) throw bad('fixed_ip_address cannot be specified without a port_id');
    return writeTransaction(this.deps.db, async (tx) => {
      const ids: string[] = [];
      for (const item of items) ids.push(await this.insert(tx, ctx, item));
      await this.deps.quotas.check(
        tx,
        items.map((i) => String(i.project_id)),
        'floatingip',
      );
      return loadInOrder(tx, 'floatingips', ids, (d, rows) => this.load(d, rows));
    });
  }

  private async insert(tx: Executor, ctx: RequestContext, item: Resource): Promise<string> {
    const networkId = item.floating_network_id as string;
    const network = await tx.selectFrom('networks').select('router_external').where('id', '=', networkId).executeTakeFirst();
    if (!network) throw networkNotFound(networkId);
    if (Number(network.router_external) !== 1) throw bad(`Network ${networkId} is not a valid external network`);
    const subnets = await tx
      .selectFrom('subnets')
      .select(['id', 'ip_version'])
      .where('network_id', '=', networkId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    const v4 = subnets.filter((s) => Number(s.ip_version) === 4);
    if (!v4.length) throw bad(`Network ${networkId} does not contain any IPv4 subnet`);
    const requested: { subnet_id?: string; ip_address?: string } = {};
    if (item.subnet_id) requested.subnet_id = item.subnet_id as string;
    if (item.floating_ip_address) requested.ip_address = item.floating_ip_address as string;
    // With nothing asked for, one IPv4 address (a network with IPv6 subnets too would otherwise give one of each).
    const fixedIps = Object.keys(requested).length ? [requested] : v4.length < subnets.length ? [{ subnet_id: String(v4[0]!.id) }] : undefined;
    const id = randomUUID();
    const port = await this.ports.createOwned(tx, { network_id: networkId, project_id: '', device_id: id, device_owner: FLOATINGIP_PORT, fixed_ips: fixedIps });
    const address = (port.fixed_ips as FixedIp[]).find((ip) => isV4(ip.ip_address));
    if (!address) throw bad(`Network ${networkId} does not contain any IPv4 subnet`);
    const now = nowIso();
    const record: Resource = {
      id,
      project_id: item.project_id,
      description: item.description,
      floating_network_id: networkId,
      floating_ip_address: address.ip_address,
      floating_port_id: port.id,
      status: 'DOWN',
      created_at: now,
      updated_at: now,
      revision_number: 0,
    };
    await tx.insertInto('floatingips').values(toRow(FLOATINGIPS, record)).execute();
    if (item.port_id) await this.associate(tx, ctx, record, item.port_id as string, item.fixed_ip_address as string | null);
    return id;
  }

  /** Associates the floating IP with a fixed IP of the port, through the router that reaches it. */
  private async associate(tx: Executor, ctx: RequestContext, fip: Resource, portId: string, fixedIp: string | null): Promise<void> {
    const port = await this.ports.find(tx, ctx, portId);
    if (port.project_id !== fip.project_id && !ctx.isAdmin) {
      throw bad(`Cannot process floating IP association with Port ${portId}, since that port is owned by a different tenant`);
    }
    if (port.device_owner === 'network:dhcp') throw bad(`Port ${portId} is unable to be assigned a floating IP`);
    const ips = port.fixed_ips as FixedIp[];
    let chosen: FixedIp | undefined;
    if (fixedIp) {
      if (!isV4(fixedIp)) throw bad(`Cannot process floating IP association with ${fixedIp}, since that is not an IPv4 address`);
      chosen = ips.find((ip) => ip.ip_address === fixedIp);
      if (!chosen) throw bad(`Port ${portId} does not have fixed ip ${fixedIp}`);
    } else {
      const v4 = ips.filter((ip) => isV4(ip.ip_address));
      if (!v4.length) throw bad(`Cannot add floating IP to port ${portId} that has no fixed IPv4 addresses`);
      if (v4.length > 1) throw bad(`Port ${portId} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP`);
      chosen = v4[0]!;
    }
    const networkId = fip.floating_network_id as string;
    const routerId = await this.servingRouter(tx, networkId, chosen.subnet_id);
    if (!routerId) {
      throw new ApiError(
        'ExternalGatewayForFloatingIPNotFound',
        `External network ${networkId} is not reachable from subnet ${chosen.subnet_id}.  Therefore, cannot associate Port ${portId} with a Floating IP.`,
      );
    }
    const set: Association = { fixed_port_id: portId, fixed_ip_address: chosen.ip_address, router_id: routerId, status: 'ACTIVE' };
    // The unique (fixed_port_id, fixed_ip_address) decides races between concurrent associations.
    const done = await insertOrConflict(tx, () => tx.updateTable('floatingips').set(set).where('id', '=', fip.id).execute());
    if (!done) {
      throw new ApiError(
        'FloatingIPPortAlreadyAssociated',
        `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${portId} using fixed IP ${chosen.ip_address}, as that fixed IP already has a floating IP on external network ${networkId}.`,
      );
    }
  }

  async update(ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
    return writeTransaction(this.deps.db, async (tx) => {
      await tx
        .updateTable('floatingips')
        .set((eb) => ({ revision_number: eb.ref('revision_number') }))
        .where('id', '=', id)
        .execute();
      const fip = await this.find(tx, ctx, id);
      const portId = 'port_id' in changes ? (changes.port_id as string | null) : (fip.port_id as string | null);
      if ('port_id' in changes || 'fixed_ip_address' in changes) {
        const fixedIp = (changes.fixed_ip_address as string | null | undefined) ?? null;
        if (portId === null) {
          if (fixedIp !== null) throw bad('fixed_ip_address cannot be specified without a port_id');
          await tx.updateTable('floatingips').set(NONE).where('id', '=', id).execute();
        } else {
          // Re-associating: the old association goes first, so the same fixed IP does not collide with itself.
          await tx.updateTable('floatingips').set(NONE).where('id', '=', id).execute();
          await this.associate(tx, ctx, fip, portId, fixedIp);
        }
      }
      await tx
        .updateTable('floatingips')
        .set({
          ...('description' in changes ? { description: changes.description } : {}),
          updated_at: nowIso(),
          revision_number: Number(fip.revision_number) + 1,
        })
        .where('id', '=', id)
        .execute();
      return this.find(tx, ctx, id);
    });
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    await writeTransaction(this.deps.db, async (tx) => {
      const fip = await this.find(tx, ctx, id);
      const row = await tx.selectFrom('floatingips').select('floating_port_id').where('id', '=', id).executeTakeFirstOrThrow();
      await tx.deleteFrom('floatingips').where('id', '=', id).execute();
      await tx.deleteFrom('tags').where('resource_type', '=', 'floatingips').where('resource_id', '=', fip.id).execute();
      await this.ports.remove(tx, await this.ports.find(tx, SERVICE, String(row.floating_port_id)));
    });
  }
}
