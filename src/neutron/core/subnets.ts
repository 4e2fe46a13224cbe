import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../auth/index.js';
import { isForeignKeyViolation } from '../../db/index.js';
import { ApiError } from '../../http/errors.js';
import { invalidInput } from '../resources/net-validators.js';
import { SUBNET } from '../resources/subnet.js';
import type { CoreDeps } from './deps.js';
import { cidrsOverlap, eui64, formatCidr, formatIp, parseCidr, type Cidr } from './ip.js';
import { Ipam, ipamSubnet, poolRanges } from './ipam.js';
import { networkNotFound, visibleNetworks } from './networks.js';
import type { ListQuery, Page, Resource, ResourceOperations } from './plugin.js';
import {
  AUTO_DELETE_PORT_OWNERS,
  ROUTER_INTERFACE_OWNERS,
  ROUTER_SNAT_OWNERS,
  checkGatewayOutOfPools,
  checkPools,
  defaultGateway,
  defaultPools,
  isAutoAddress,
  validateSubnet,
} from './subnet-rules.js';
import type { Pool } from './subnet-rules.js';
import { SubnetPoolOperations, subnetpoolNotFound } from './subnetpools.js';
import {
  STANDARD_COLUMNS,
  bool,
  fromRow,
  int,
  json,
  findVisible,
  listRows,
  loadInOrder,
  nowIso,
  text,
  toRow,
  type Executor,
  type Query,
  type TableSpec,
} from './store.js';
import { loadTags } from './tags.js';
import { writeTransaction } from '../../db/index.js';

export const SUBNETS: TableSpec = {
  table: 'subnets',
  tagType: 'subnets',
  columns: {
    ...STANDARD_COLUMNS,
    network_id: text('network_id'),
    ip_version: int('ip_version'),
    cidr: text('cidr'),
    gateway_ip: text('gateway_ip', ''),
    enable_dhcp: bool('enable_dhcp'),
    ipv6_ra_mode: text('ipv6_ra_mode', ''),
    ipv6_address_mode: text('ipv6_address_mode', ''),
    subnetpool_id: text('subnetpool_id', ''),
    segment_id: text('segment_id', ''),
    allocation_pools: json('allocation_pools'),
    dns_nameservers: json('dns_nameservers'),
    host_routes: json('host_routes'),
  },
};

export const subnetNotFound = (id: string) => new ApiError('SubnetNotFound', SUBNET.notFoundMessage(id));
const forbidden = (rule: string) => new ApiError('PolicyNotAuthorized', `(rule:${rule}) is disallowed by policy`);
const badRequest = (message: string) => new ApiError('BadRequest', `Bad subnets request: ${message}.`);

/** Subnets the caller may see: its own, and those of the networks it may see. */
export const visibleSubnets =
  (db: Executor, ctx: RequestContext) =>
  (q: Query): Query =>
    ctx.isAdmin
      ? q
      : q.where((eb) =>
          eb.or([
            eb('subnets.project_id', '=', ctx.projectId),
            eb('subnets.network_id', 'in', visibleNetworks(ctx)(db.selectFrom('networks').select('networks.id'))),
          ]),
        );

/** The network row as the caller may see it, or NetworkNotFound. */
export async function visibleNetwork(db: Executor, ctx: RequestContext, id: string): Promise<Record<string, unknown>> {
  const row = await visibleNetworks(ctx)(db.selectFrom('networks').selectAll().where('id', '=', id)).executeTakeFirst();
  if (!row) throw networkNotFound(id);
  return row;
}

/** Holds a row's lock to the end of the transaction: a write that changes nothing, on a non-key column. */
export async function lockRow(tx: Executor, table: string, id: string): Promise<boolean> {
  const result = await tx
    .updateTable(table)
    .set((eb) => ({ revision_number: eb.ref('revision_number') }))
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export class SubnetOperations implements ResourceOperations {
  constructor(
    private readonly deps: CoreDeps,
    private readonly pools: SubnetPoolOperations,
    private readonly ipam: Ipam,
  ) {}

  async load(db: Executor, rows: Record<string, unknown>[]): Promise<Resource[]> {
    if (rows.length === 0) return [];
    const tags = await loadTags(
      db,
      'subnets',
      rows.map((r) => String(r.id)),
    );
    return rows.map((row) => ({ ...fromRow(SUBNETS, row), tags: tags.get(String(row.id)) ?? [] }));
  }

  async list(ctx: RequestContext, query: ListQuery): Promise<Page> {
    const { rows, more } = await listRows(this.deps.db, SUBNETS, query, visibleSubnets(this.deps.db, ctx));
    return { items: await this.load(this.deps.db, rows), more };
  }

  async find(db: Executor, ctx: RequestContext, id: string): Promise<Resource> {
    return findVisible(db, 'subnets', visibleSubnets(db, ctx), id, subnetNotFound, (d, rows) => this.load(d, rows));
  }

  get(ctx: RequestContext, id: string): Promise<Resource> {
    return this.find(this.deps.db, ctx, id);
  }

  async create(ctx: RequestContext, items: Resource[]): Promise<Resource[]> {
    return writeTransaction(this.deps.db, async (tx) => {
      const ids: string[] = [];
      for (const item of items) ids.push(await this.insert(tx, ctx, item));
      await this.deps.quotas.check(
        tx,
        items.map((i) => String(i.project_id)),
        'subnet',
      );
      return loadInOrder(tx, 'subnets', ids, (d, rows) => this.load(d, rows));
    });
  }

  /** The pool a create names (subnetpool_id, or use_default_subnetpool), locked, or null. */
  private async pool(tx: Executor, ctx: RequestContext, item: Resource): Promise<Resource | null> {
    let id = (item.subnetpool_id as string | null | undefined) ?? null;
    if (item.use_default_subnetpool) {
      if (id) throw badRequest('subnetpool_id and use_default_subnetpool cannot both be specified');
      const version = item.cidr ? parseCidr(item.cidr as string)!.version : item.ip_version;
      const pool = await this.pools.defaultPool(tx, version as number);
      if (!pool) throw badRequest(`No default subnetpool found for IPv${version}`);
      id = pool.id as string;
    }
    if (id === null) return null;
    // The lock comes before reading the pool's subnets, so concurrent creates take turns.
    if (!(await this.pools.lock(tx, id))) throw subnetpoolNotFound(id);
    return this.pools.find(tx, ctx, id);
  }

  private async insert(tx: Executor, ctx: RequestContext, item: Resource): Promise<string> {
    if (item.cidr !== undefined && item.prefixlen !== undefined) throw badRequest('cidr and prefixlen must not be supplied together');
    const pool = await this.pool(tx, ctx, item);
    if (!pool && item.cidr === undefined) throw badRequest('a subnetpool must be specified in the absence of a cidr');
    if (pool && item.cidr === undefined && item.allocation_pools !== undefined) throw badRequest('allocation_pools allowed only for specific subnet requests.');
    if (pool && item.ip_version !== pool.ip_version) throw badRequest(`Cannot allocate IPv${item.ip_version} subnet from IPv${pool.ip_version} subnet pool`);
    if (!pool) validateSubnet(item);

    const networkId = item.network_id as string;
    const network = await visibleNetwork(tx, ctx, networkId);
    if (!ctx.isAdmin && network.project_id !== ctx.projectId) throw forbidden('create_subnet');
    // Subnets of one network are created one at a time, so overlapping cidrs cannot both pass.
    await lockRow(tx, 'networks', networkId);

    let cidr: Cidr = item.cidr === undefined ? (null as unknown as Cidr) : parseCidr(item.cidr as string)!;
    if (pool) {
      cidr = await this.pools.allocate(tx, pool, item.project_id as string, item.cidr === undefined ? null : cidr, item.prefixlen as number | undefined);
      validateSubnet({ ...item, cidr: formatCidr(cidr) });
    }
    const cidrText = formatCidr(cidr);
    if (cidr.prefixlen === 0) throw invalidInput('0 is not allowed as CIDR prefix length');
    const siblings = await tx.selectFrom('subnets').select(['cidr', 'ip_version', 'subnetpool_id']).where('network_id', '=', networkId).execute();
    if (siblings.some((s) => cidrsOverlap(parseCidr(String(s.cidr))!, cidr))) {
      throw invalidInput(`Requested subnet with cidr: ${cidrText} for network: ${networkId} overlaps with another subnet`);
    }
    if (siblings.some((s) => Number(s.ip_version) === cidr.version && (s.subnetpool_id ?? null) !== (pool?.id ?? null))) {
      throw new ApiError('NetworkSubnetPoolAffinityError', 'Subnets hosted on the same network must be allocated from the same subnet pool.');
    }
    if (item.segment_id) await this.checkSegment(tx, networkId, item.segment_id as string);

    const gateway = item.gateway_ip === undefined ? defaultGateway(cidr) : (item.gateway_ip as string | null);
    let pools: Pool[];
    if (item.allocation_pools === undefined || (item.allocation_pools as Pool[]).length === 0) pools = defaultPools(cidr, gateway);
    else {
      pools = checkPools(item.allocation_pools as Pool[], cidrText);
      if (gateway) checkGatewayOutOfPools(gateway, pools);
    }
    const v6Dhcp = cidr.version === 6 && item.enable_dhcp;
    const now = nowIso();
    const record: Resource = {
      ...item,
      // An id in the item comes only from a plugin (the API refuses `id` in POST bodies).
      id: (item.id as string | undefined) ?? randomUUID(),
      ip_version: cidr.version,
      cidr: cidrText,
      gateway_ip: gateway,
      allocation_pools: pools,
      dns_nameservers: item.dns_nameservers ?? [],
      host_routes: item.host_routes ?? [],
      subnetpool_id: pool?.id ?? null,
      ipv6_ra_mode: v6Dhcp ? (item.ipv6_ra_mode ?? null) : null,
      ipv6_address_mode: v6Dhcp ? (item.ipv6_address_mode ?? null) : null,
      created_at: now,
      updated_at: now,
      revision_number: 0,
    };
    await tx.insertInto('subnets').values(toRow(SUBNETS, record)).execute();
    await this.ipam.setRanges(tx, record.id as string, poolRanges(ipamSubnet(record)));
    if (isAutoAddress(record)) await this.addAutoAddresses(tx, record, cidr);
    return record.id as string;
  }

  /** A new SLAAC subnet gives the network's existing ports (not router interfaces) their EUI-64 addresses. */
  private async addAutoAddresses(tx: Executor, subnet: Resource, cidr: Cidr): Promise<void> {
    const ports = await tx.selectFrom('ports').select(['id', 'mac_address', 'device_owner']).where('network_id', '=', subnet.network_id).execute();
    for (const port of ports) {
      if (ROUTER_SNAT_OWNERS.includes(String(port.device_owner))) continue;
      await this.ipam.allocateComputed(tx, ipamSubnet(subnet), formatIp(6, eui64(cidr, String(port.mac_address))), String(port.id));
    }
  }

  private async checkSegment(tx: Executor, networkId: string, segmentId: string): Promise<void> {
    const segment = await tx.selectFrom('network_segments').select('network_id').where('id', '=', segmentId).executeTakeFirst();
    if (!segment) throw new ApiError('SegmentNotFound', `Segment ${segmentId} could not be found.`);
    if (segment.network_id !== networkId) {
      throw badRequest(`Network ${networkId} does not match the network of segment ${segmentId}`);
    }
  }

  async update(ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
    return writeTransaction(this.deps.db, async (tx) => {
      // Locked before it is read, so concurrent updates apply one after the other.
      await lockRow(tx, 'subnets', id);
      const current = await this.find(tx, ctx, id);
      if (!ctx.isAdmin && current.project_id !== ctx.projectId) throw forbidden('update_subnet');
      if (Object.keys(changes).length === 0) return current;
      const next = { ...current, ...changes };
      validateSubnet({ ...changes, id, ip_version: current.ip_version, cidr: current.cidr }, current);
      if (changes.allocation_pools !== undefined) changes.allocation_pools = checkPools(changes.allocation_pools as Pool[], current.cidr as string);
      const gateway = next.gateway_ip as string | null;
      if ((gateway !== current.gateway_ip || changes.allocation_pools !== undefined) && gateway) {
        checkGatewayOutOfPools(gateway, next.allocation_pools as Pool[]);
      }
      if ('gateway_ip' in changes && gateway !== current.gateway_ip && current.gateway_ip) await this.checkGatewayFree(tx, current);
      await tx
        .updateTable('subnets')
        .set((eb) => ({ ...toRow(SUBNETS, changes), updated_at: nowIso(), revision_number: eb('revision_number', '+', 1) }))
        .where('id', '=', id)
        .execute();
      if (changes.allocation_pools !== undefined) await this.ipam.rebuild(tx, ipamSubnet({ ...current, allocation_pools: changes.allocation_pools }));
      return this.find(tx, ctx, id);
    });
  }

  /** A router interface holding the current gateway address pins it (GatewayIpInUse). */
  private async checkGatewayFree(tx: Executor, subnet: Resource): Promise<void> {
    const holder = await tx
      .selectFrom('ip_allocations')
      .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
      .select('ports.id')
      .where('ip_allocations.subnet_id', '=', subnet.id)
      .where('ip_allocations.ip_address', '=', subnet.gateway_ip)
      .where('ports.device_owner', 'in', ROUTER_INTERFACE_OWNERS)
      .executeTakeFirst();
    if (holder) {
      throw new ApiError('GatewayIpInUse', `Current gateway ip ${subnet.gateway_ip} already in use by port ${holder.id}. Unable to update.`);
    }
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const inUse = () => new ApiError('SubnetInUse', `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`);
    try {
      await writeTransaction(this.deps.db, async (tx) => {
        const subnet = await this.find(tx, ctx, id);
        if (!ctx.isAdmin && subnet.project_id !== ctx.projectId) throw forbidden('delete_subnet');
        await lockRow(tx, 'subnets', id);
        const holders = await tx
          .selectFrom('ip_allocations')
          .innerJoin('ports', 'ports.id', 'ip_allocations.port_id')
          .select('ports.device_owner')
          .where('ip_allocations.subnet_id', '=', id)
          .execute();
        // Service ports lose their address with the subnet; so do user ports on SLAAC subnets, as in Neutron.
        const blocking = holders.filter((h) =>
          ROUTER_INTERFACE_OWNERS.includes(String(h.device_owner)) ? true : !isAutoAddress(subnet) && !AUTO_DELETE_PORT_OWNERS.includes(String(h.device_owner)),
        );
        if (blocking.length) throw inUse();
        await tx.deleteFrom('ip_allocations').where('subnet_id', '=', id).execute();
        await tx.deleteFrom('ip_availability_ranges').where('subnet_id', '=', id).execute();
        await tx.deleteFrom('subnets').where('id', '=', id).execute();
        await tx.deleteFrom('tags').where('resource_type', '=', 'subnets').where('resource_id', '=', id).execute();
      });
    } catch (err) {
      // A port that took an address while we looked keeps the subnet in use.
      if (isForeignKeyViolation(err)) throw inUse();
      throw err;
    }
  }
}
