import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../auth/index.js';
import { insertUnlessTaken, isUniqueViolation, writeTransaction } from '../../db/index.js';
import { ApiError } from '../../http/errors.js';
import { PORT } from '../resources/port.js';
import type { CoreDeps } from './deps.js';
import { checkL3PortDeletion, disassociatePort } from './l3.js';
import { canonicalIp } from './ip.js';
import { PortAddresses, type AddressRequest, type FixedIp } from './port-addresses.js';
import {
  binding,
  checkPortSecurity,
  checkSecurityGroups,
  isTrusted,
  macGenerator,
  portSecurityOnCreate,
  setSecurityGroups,
  withMacs,
  type DefaultSecurityGroup,
} from './port-settings.js';
import type { ListQuery, Page, Resource, ResourceOperations } from './plugin.js';
import {
  STANDARD_COLUMNS,
  bool,
  fromRow,
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
import { networkNotFound } from './networks.js';
import { lockRow, visibleNetwork } from './subnets.js';
import { loadTags } from './tags.js';

export const PORTS: TableSpec = {
  table: 'ports',
  tagType: 'ports',
  columns: {
    ...STANDARD_COLUMNS,
    network_id: text('network_id'),
    mac_address: text('mac_address'),
    admin_state_up: bool('admin_state_up'),
    status: text('status'),
    device_id: text('device_id'),
    device_owner: text('device_owner'),
    'binding:host_id': text('binding_host_id'),
    'binding:vif_type': text('binding_vif_type'),
    'binding:vif_details': json('binding_vif_details'),
    'binding:vnic_type': text('binding_vnic_type'),
    'binding:profile': json('binding_profile'),
    port_security_enabled: bool('port_security_enabled'),
    allowed_address_pairs: json('allowed_address_pairs'),
    extra_dhcp_opts: json('extra_dhcp_opts'),
  },
};

const MAC_TRIES = 16;
export const portNotFound = (id: string) => new ApiError('PortNotFound', PORT.notFoundMessage(id));
const forbidden = (rule: string) => new ApiError('PolicyNotAuthorized', `(rule:${rule}) is disallowed by policy`);
const macInUse = (networkId: string, mac: string) =>
  new ApiError('MacAddressInUse', `Unable to complete operation for network ${networkId}. The mac address ${mac} is in use.`);

/** Ports the caller may see: its own, and every port on its networks. */
const visiblePorts =
  (db: Executor, ctx: RequestContext) =>
  (q: Query): Query =>
    ctx.isAdmin
      ? q
      : q.where((eb) =>
          eb.or([
            eb('ports.project_id', '=', ctx.projectId),
            eb('ports.network_id', 'in', db.selectFrom('networks').select('id').where('project_id', '=', ctx.projectId)),
          ]),
        );

export interface PortOptions {
  baseMac: string;
  /** Absent: ports get no default security group (no security group module). */
  defaultSecurityGroup?: DefaultSecurityGroup;
}

export class PortOperations implements ResourceOperations {
  private readonly randomMac: () => string;
  readonly addresses: PortAddresses;

  constructor(
    private readonly deps: CoreDeps,
    addresses: PortAddresses,
    private readonly options: PortOptions,
  ) {
    this.randomMac = macGenerator(options.baseMac);
    this.addresses = addresses;
  }

  async load(db: Executor, rows: Record<string, unknown>[]): Promise<Resource[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => String(r.id));
    const [ips, groups, tags] = await Promise.all([
      this.addresses.load(db, ids),
      db.selectFrom('port_security_groups').select(['port_id', 'security_group_id']).where('port_id', 'in', ids).execute(),
      loadTags(db, 'ports', ids),
    ]);
    const groupsOf = new Map<string, string[]>();
    for (const g of groups) groupsOf.set(String(g.port_id), [...(groupsOf.get(String(g.port_id)) ?? []), String(g.security_group_id)]);
    return rows.map((row) => {
      const id = String(row.id);
      return { ...fromRow(PORTS, row), fixed_ips: ips.get(id) ?? [], security_groups: (groupsOf.get(id) ?? []).sort(), tags: tags.get(id) ?? [] };
    });
  }

  async list(ctx: RequestContext, query: ListQuery): Promise<Page> {
    const db = this.deps.db;
    const fixed = (query.filters.fixed_ips ?? []) as Array<{ key: string; value: string }>;
    const groups = (query.filters.security_groups ?? []) as string[];
    const { rows, more } = await listRows(db, PORTS, query, (q) => {
      let scoped = visiblePorts(db, ctx)(q);
      const allocations = () => db.selectFrom('ip_allocations').select('port_id');
      // Each kind of fixed_ips filter narrows the list; values of one kind mean any of them.
      const addresses = fixed.filter((f) => f.key === 'ip_address').map((f) => canonicalIp(f.value) ?? f.value);
      if (addresses.length) scoped = scoped.where('ports.id', 'in', allocations().where('ip_address', 'in', addresses));
      const subnets = fixed.filter((f) => f.key === 'subnet_id').map((f) => f.value);
      if (subnets.length) scoped = scoped.where('ports.id', 'in', allocations().where('subnet_id', 'in', subnets));
      const substrings = fixed.filter((f) => f.key === 'ip_address_substr').map((f) => f.value);
      if (substrings.length) {
        scoped = scoped.where(
          'ports.id',
          'in',
          allocations().where((eb) => eb.or(substrings.map((s) => eb('ip_address', 'like', `%${s.replace(/[%_\\]/g, '')}%`)))),
        );
      }
      if (groups.length) {
        scoped = scoped.where('ports.id', 'in', db.selectFrom('port_security_groups').select('port_id').where('security_group_id', 'in', groups));
      }
      return scoped;
    });
    return { items: await this.load(db, rows), more };
  }

  async find(db: Executor, ctx: RequestContext, id: string): Promise<Resource> {
    return findVisible(db, 'ports', visiblePorts(db, ctx), id, portNotFound, (d, rows) => this.load(d, rows));
  }

  get(ctx: RequestContext, id: string): Promise<Resource> {
    return this.find(this.deps.db, ctx, id);
  }

  async create(ctx: RequestContext, items: Resource[]): Promise<Resource[]> {
    const ids = await writeTransaction(this.deps.db, async (tx) => {
      const created: Array<{ id: string; assign: () => Promise<void> }> = [];
      for (const item of items) created.push(await this.insert(tx, ctx, item));
      await this.deps.quotas.check(
        tx,
        items.map((i) => String(i.project_id)),
        'port',
      );
      // Addresses last: a subnet's lowest free range is the one row every create wants, so
      // its lock is taken as late, and held as briefly, as the transaction allows.
      for (const port of created) await port.assign();
      return created.map((c) => c.id);
    });
    return loadInOrder(this.deps.db, 'ports', ids, (d, rows) => this.load(d, rows));
  }

  /** Writes the port; its addresses are for the caller to assign (`assign`) at the end of the transaction. */
  private async insert(tx: Executor, ctx: RequestContext, item: Resource): Promise<{ id: string; assign: () => Promise<void> }> {
    const network = await visibleNetwork(tx, ctx, item.network_id as string);
    const networkOwner = ctx.isAdmin || network.project_id === ctx.projectId;
    if (!networkOwner) {
      if (Number(network.shared) !== 1) throw forbidden('create_port');
      if (isTrusted(item.device_owner as string)) throw forbidden('create_port:device_owner');
      if (item.mac_address !== undefined) throw forbidden('create_port:mac_address');
      if ((item.fixed_ips as AddressRequest[] | undefined)?.some((f) => f.ip_address)) throw forbidden('create_port:fixed_ips:ip_address');
    }
    return this.write(tx, item, network);
  }

  private async write(tx: Executor, item: Resource, network: Record<string, unknown>): Promise<{ id: string; assign: () => Promise<void> }> {
    const security = portSecurityOnCreate(item, network);
    const pairs = item.allowed_address_pairs as Array<{ ip_address: string; mac_address?: string }> | undefined;
    checkPortSecurity(security, pairs, item.security_groups as string[] | undefined);
    const projectId = item.project_id as string;
    let groups = (item.security_groups as string[] | undefined) ?? [];
    if (security && item.security_groups === undefined && this.options.defaultSecurityGroup) {
      groups = [await this.options.defaultSecurityGroup(tx, projectId)];
    } else await checkSecurityGroups(tx, projectId, groups);

    // An id in the item comes only from a plugin (the API refuses `id` in POST bodies).
    const id = (item.id as string | undefined) ?? randomUUID();
    const now = nowIso();
    const host = (item['binding:host_id'] as string | undefined) ?? '';
    const bound = binding(host, item['binding:vnic_type'] as string);
    const record: Resource = {
      ...item,
      id,
      status: isTrusted(item.device_owner as string) ? 'ACTIVE' : 'DOWN',
      port_security_enabled: security,
      'binding:host_id': host,
      'binding:vif_type': bound.vif_type,
      'binding:vif_details': bound.vif_details,
      'binding:profile': item['binding:profile'] ?? {},
      extra_dhcp_opts: item.extra_dhcp_opts ?? [],
      created_at: now,
      updated_at: now,
      revision_number: 1,
    };
    const mac = await this.insertWithMac(tx, record, item.mac_address as string | undefined);
    if (pairs?.length) {
      await tx
        .updateTable('ports')
        .set({ allowed_address_pairs: JSON.stringify(withMacs(pairs, mac)) })
        .where('id', '=', id)
        .execute();
    }
    await setSecurityGroups(tx, id, groups, false);
    const port = { id, network_id: record.network_id as string, mac_address: mac, device_owner: record.device_owner as string };
    const subnets = await this.addresses.subnets(tx, port.network_id);
    return { id, assign: () => this.addresses.assign(tx, port, item.fixed_ips as AddressRequest[] | undefined, subnets) };
  }

  /**
   * A port for a network service (a router's interface or gateway, a floating IP) inside the
   * caller's transaction: no policy, no security groups (its owner is network:*), Neutron's
   * default addresses unless `fixed_ips` names them.
   */
  async createOwned(
    tx: Executor,
    port: { network_id: string; project_id: string; device_id: string; device_owner: string; fixed_ips?: AddressRequest[] },
  ): Promise<Resource> {
    const network = await tx.selectFrom('networks').selectAll().where('id', '=', port.network_id).executeTakeFirst();
    if (!network) throw networkNotFound(port.network_id);
    const item: Resource = { name: '', description: '', admin_state_up: true, 'binding:vnic_type': 'normal', ...port };
    const { id, assign } = await this.write(tx, item, network);
    await assign();
    return (await this.load(tx, await tx.selectFrom('ports').selectAll().where('id', '=', id).execute()))[0]!;
  }

  /** Gives an existing port to a device (add_router_interface by port). */
  async attach(tx: Executor, portId: string, deviceId: string, deviceOwner: string): Promise<void> {
    await tx
      .updateTable('ports')
      .set((eb) => ({
        device_id: deviceId,
        device_owner: deviceOwner,
        status: isTrusted(deviceOwner) ? 'ACTIVE' : 'DOWN',
        updated_at: nowIso(),
        revision_number: eb('revision_number', '+', 1),
      }))
      .where('id', '=', portId)
      .execute();
  }

  /** Inserts the port with the MAC asked for (MacAddressInUse if taken) or a random one (another on a clash). */
  private async insertWithMac(tx: Executor, record: Resource, requested: string | undefined): Promise<string> {
    for (let i = 0; i < MAC_TRIES; i++) {
      const mac = requested ?? this.randomMac();
      const row = toRow(PORTS, { ...record, mac_address: mac, allowed_address_pairs: [] });
      if (await insertUnlessTaken(tx, 'ports', row)) return mac;
      if (requested) throw macInUse(record.network_id as string, mac);
    }
    throw new ApiError('MacAddressGenerationFailure', `Unable to generate unique mac on network ${record.network_id}.`);
  }

  /** Changing a port takes its owner, the network's owner or an admin. */
  private async owned(tx: Executor, ctx: RequestContext, id: string, rule: string): Promise<{ port: Resource; networkOwner: boolean }> {
    const port = await this.find(tx, ctx, id);
    const network = await tx.selectFrom('networks').select('project_id').where('id', '=', port.network_id).executeTakeFirst();
    const networkOwner = ctx.isAdmin || network?.project_id === ctx.projectId;
    if (!networkOwner && port.project_id !== ctx.projectId) throw forbidden(rule);
    return { port, networkOwner };
  }

  async update(ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
    return writeTransaction(this.deps.db, async (tx) => {
      // Locked before it is read, so concurrent updates apply one after the other.
      await lockRow(tx, 'ports', id);
      const { port, networkOwner } = await this.owned(tx, ctx, id, 'update_port');
      if (Object.keys(changes).length === 0) return port;
      if (!networkOwner) {
        if ('device_owner' in changes && isTrusted(changes.device_owner as string)) throw forbidden('update_port:device_owner');
        if ('mac_address' in changes) throw forbidden('update_port:mac_address');
        if ((changes.fixed_ips as AddressRequest[] | undefined)?.some((f) => f.ip_address)) throw forbidden('update_port:fixed_ips:ip_address');
      }
      const next: Resource = { ...port, ...changes };
      const macChanged = changes.mac_address !== undefined && changes.mac_address !== port.mac_address;
      if (macChanged && port['binding:host_id'] && !['unbound', 'binding_failed'].includes(port['binding:vif_type'] as string)) {
        throw new ApiError(
          'PortBound',
          `Unable to complete operation on port ${id}, port is already bound, port type: ${port['binding:vif_type']}, old_mac ${port.mac_address}, new_mac ${changes.mac_address}.`,
        );
      }
      const security = next.port_security_enabled as boolean;
      if (!security) {
        checkPortSecurity(false, (changes.allowed_address_pairs ?? port.allowed_address_pairs) as unknown[], changes.security_groups as string[] | undefined);
        if (changes.security_groups === undefined && (port.security_groups as string[]).length) {
          throw new ApiError(
            'PortSecurityPortHasSecurityGroup',
            'Port has security group associated. Cannot disable port security or ip address until security group is removed.',
          );
        }
      }
      if (changes.security_groups !== undefined) {
        await checkSecurityGroups(tx, port.project_id as string, changes.security_groups as string[]);
        await setSecurityGroups(tx, id, changes.security_groups as string[]);
      }
      if (changes.allowed_address_pairs !== undefined) {
        next.allowed_address_pairs = withMacs(changes.allowed_address_pairs as Array<{ ip_address: string }>, next.mac_address as string);
      }
      if ('binding:host_id' in changes || 'binding:vnic_type' in changes) {
        const bound = binding(next['binding:host_id'] as string, next['binding:vnic_type'] as string);
        [next['binding:vif_type'], next['binding:vif_details']] = [bound.vif_type, bound.vif_details];
      }
      if (changes['binding:profile'] === null) next['binding:profile'] = {};
      if (changes.extra_dhcp_opts === null) next.extra_dhcp_opts = [];
      const { fixed_ips: _ips, security_groups: _groups, tags: _tags, ...columns } = next;
      try {
        await tx
          .updateTable('ports')
          .set((eb) => ({ ...toRow(PORTS, columns), updated_at: nowIso(), revision_number: eb('revision_number', '+', 1) }))
          .where('id', '=', id)
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw macInUse(port.network_id as string, String(changes.mac_address));
        throw err;
      }
      if (changes.fixed_ips !== undefined || macChanged) {
        const addressing = { id, network_id: port.network_id as string, mac_address: next.mac_address as string, device_owner: next.device_owner as string };
        const subnets = await this.addresses.subnets(tx, addressing.network_id);
        await this.addresses.change(tx, addressing, port.fixed_ips as FixedIp[], changes.fixed_ips as AddressRequest[] | undefined, macChanged, subnets);
      }
      return this.find(tx, ctx, id);
    });
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    await writeTransaction(this.deps.db, async (tx) => {
      const { port } = await this.owned(tx, ctx, id, 'delete_port');
      await checkL3PortDeletion(tx, port);
      await this.remove(tx, port);
    });
  }

  /** Deletes a port and gives its addresses back (also used by network delete for service ports). */
  async remove(tx: Executor, port: Resource): Promise<void> {
    const addressing = {
      id: port.id as string,
      network_id: port.network_id as string,
      mac_address: port.mac_address as string,
      device_owner: port.device_owner as string,
    };
    await this.addresses.release(tx, addressing, port.fixed_ips as FixedIp[], await this.addresses.subnets(tx, addressing.network_id));
    // Its floating IPs stay allocated, unassociated.
    await disassociatePort(tx, port.id as string);
    await tx.deleteFrom('ports').where('id', '=', port.id).execute();
    await tx.deleteFrom('tags').where('resource_type', '=', 'ports').where('resource_id', '=', port.id).execute();
  }
}
