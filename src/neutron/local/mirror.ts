import { createHash } from 'node:crypto';
import { RESERVED_DHCP_DEVICE, RESERVED_GATEWAY_DEVICE, dhcpPortName, interfacePortName } from '../../tricircle/index.js';
import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import type { NeutronPlugin, Resource } from '../core/plugin.js';
import { NETWORK } from '../resources/network.js';
import { PORT } from '../resources/port.js';
import { SECURITY_GROUP } from '../resources/security-group.js';
import { SUBNET } from '../resources/subnet.js';
import { createItem, type ResourceDef } from '../resources/attributes.js';
import { reachesCentral, type CentralNeutron } from './central.js';
import { regionPools, type Pool } from './pools.js';
import { cidrContains, parseCidr, type Cidr } from '../core/ip.js';

// Local copies of central resources under the central ids (reference §4.2-4.5). Every copy
// is an insert with the central id: a process that loses that race to another one sharing
// the database finds the winner's row and uses it.

export const DHCP_OWNER = 'network:dhcp';

const PROVIDER = ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'];

/**
 * The MAC of a reserved central port, derived from its name. The plain central Neutron has
 * no unique names, but it has unique MACs per network: two local servers creating the same
 * reserved port at once get one port and one MacAddressInUse, so there is never a duplicate to
 * clean up.
 */
export function reservedMac(name: string): string {
  const hash = createHash('sha256').update(name).digest();
  return ['fa', '16', '3e', ...[0, 1, 2].map((i) => hash[i]!.toString(16).padStart(2, '0'))].join(':');
}

const isNotFound = (err: unknown) => err instanceof ApiError && err.status === 404;
const lowestId = (ports: Resource[]) => [...ports].sort((a, b) => String(a.id).localeCompare(String(b.id)))[0];

/** The caller as an admin, for writing copies whose attributes (provider, shared, another project) only admins may set. */
function asAdmin(ctx: RequestContext): RequestContext {
  return ctx.isAdmin ? ctx : { ...ctx, isAdmin: true, roles: [...ctx.roles, 'admin'] };
}

export class Mirror {
  /** Request ids of subnet deletes under way: their reads never copy from central (reference §4.1). */
  private readonly subnetDeletes = new Set<string>();

  constructor(
    private readonly core: NeutronPlugin,
    private readonly central: CentralNeutron,
    readonly region: string,
    /** [client] bridge_cidr: bridge subnets keep central's gateway, the north-south router's address. */
    private readonly bridge: Cidr,
  ) {}

  /** The local row of `id` as an admin sees it, or undefined. */
  async local(collection: string, ctx: RequestContext, id: string): Promise<Resource | undefined> {
    try {
      return await this.core[collection]!.get(asAdmin(ctx), id);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Creates the local copy of `record` under its id; losing the insert race to another server means it is there already. */
  async copy(collection: string, def: ResourceDef, ctx: RequestContext, record: Resource): Promise<Resource> {
    const admin = asAdmin(ctx);
    const item = createItem(def, record);
    try {
      return (await this.core[collection]!.create(admin, [item]))[0]!;
    } catch (err) {
      const winner = await this.local(collection, ctx, String(record.id));
      if (winner) return winner;
      throw err;
    }
  }

  /** Whether this region may hold the network: no hints, or hints naming the region. */
  located(network: Resource): boolean {
    const hints = (network.availability_zone_hints as string[] | undefined) ?? [];
    return hints.length === 0 || hints.includes(this.region);
  }

  /** Whether this request may copy from central: it has a token and is not deleting a subnet. */
  private copiesFromCentral(ctx: RequestContext): boolean {
    return reachesCentral(ctx) && !this.subnetDeletes.has(ctx.requestId);
  }

  private requireToken(ctx: RequestContext, notFound: ApiError): void {
    if (!this.copiesFromCentral(ctx)) throw notFound;
  }

  /** Runs a subnet delete with its request's reads kept local, so they cannot resurrect the subnet from central. */
  async deletingSubnet<T>(ctx: RequestContext, remove: () => Promise<T>): Promise<T> {
    this.subnetDeletes.add(ctx.requestId);
    try {
      return await remove();
    } finally {
      this.subnetDeletes.delete(ctx.requestId);
    }
  }

  /**
   * A local network without subnets gets the ones central has now (created there after the
   * copy). Returns whether it copied any. A network central no longer knows stays as it is.
   */
  async refreshSubnets(ctx: RequestContext, network: Resource): Promise<boolean> {
    if ((network.subnets as string[] | undefined)?.length || !this.copiesFromCentral(ctx)) return false;
    const source = await this.central.find(ctx, 'networks', 'network', String(network.id));
    let copied = false;
    for (const subnetId of (source?.subnets as string[] | undefined) ?? []) {
      try {
        await this.subnet(ctx, subnetId);
        copied = true;
      } catch (err) {
        // Deleted on central meanwhile, or not the caller's to see.
        if (!isNotFound(err)) throw err;
      }
    }
    return copied;
  }

  /** The local network, copied from central first if missing, with its subnets. */
  async network(ctx: RequestContext, id: string, central?: Resource): Promise<Resource> {
    const existing = await this.local('networks', ctx, id);
    if (existing) return existing;
    const notFound = new ApiError('NetworkNotFound', NETWORK.notFoundMessage(id));
    this.requireToken(ctx, notFound);
    const source = central ?? (await this.central.find(ctx, 'networks', 'network', id));
    if (!source || !this.located(source)) throw notFound;
    const adapted: Resource = { ...source, ...(await this.providerOf(ctx, source)), availability_zone_hints: undefined };
    // A local-type network is this region's own segment, not central's.
    if (adapted['provider:network_type'] === 'local') for (const attr of PROVIDER) adapted[attr] = undefined;
    const network = await this.copy('networks', NETWORK, ctx, adapted);
    for (const subnetId of (source.subnets as string[] | undefined) ?? []) await this.subnet(ctx, subnetId);
    return network;
  }

  /**
   * Central's provider attributes of a network that the caller's view lacks (they are
   * admin-only), read by id as the admin (CentralNeutron.actsAsAdmin): without them the region would
   * allocate a segment of its own. Only these attributes are taken, of a network the caller's
   * own GET has shown it may see. Without [client] credentials (and without noauth) there are none to add.
   */
  private async providerOf(ctx: RequestContext, source: Resource): Promise<Resource> {
    if (source['provider:network_type'] !== undefined || !this.central.actsAsAdmin) return {};
    const seenByAdmin = await this.central.admin().find(ctx, 'networks', 'network', String(source.id));
    return Object.fromEntries(PROVIDER.filter((attr) => seenByAdmin?.[attr] !== undefined).map((attr) => [attr, seenByAdmin![attr]]));
  }

  /** The local subnet, copied from central (with this region's gateway and pools, and its DHCP port) if missing. */
  async subnet(ctx: RequestContext, id: string, central?: Resource): Promise<Resource> {
    const existing = await this.local('subnets', ctx, id);
    if (existing) return existing;
    const notFound = new ApiError('SubnetNotFound', SUBNET.notFoundMessage(id));
    this.requireToken(ctx, notFound);
    const source = central ?? (await this.central.find(ctx, 'subnets', 'subnet', id));
    if (!source) throw notFound;
    let network: Resource;
    try {
      network = await this.network(ctx, String(source.network_id));
    } catch (err) {
      if (isNotFound(err)) throw notFound;
      throw err;
    }
    const copy: Resource = { ...source, subnetpool_id: undefined, segment_id: undefined };
    // External and bridge subnets have one gateway for all regions: the real upstream router, and the north-south router.
    const sharedGateway = network['router:external'] === true || this.onBridge(source);
    if (source.gateway_ip && !sharedGateway) {
      const gatewayPort = await this.reservedPort(ctx, source, interfacePortName(this.region, id), 'network:router_interface', RESERVED_GATEWAY_DEVICE);
      const gateway = addressOn(gatewayPort, id);
      copy.gateway_ip = gateway;
      copy.allocation_pools = regionPools(source.allocation_pools as Pool[], source.gateway_ip as string, gateway);
    }
    const subnet = await this.copy('subnets', SUBNET, ctx, copy);
    if (subnet.enable_dhcp) await this.dhcpPort(ctx, subnet);
    return subnet;
  }

  private onBridge(subnet: Resource): boolean {
    const cidr = parseCidr(String(subnet.cidr));
    return cidr !== null && cidrContains(this.bridge, { version: cidr.version, value: cidr.network });
  }

  /**
   * The local DHCP port of a subnet: a copy of central's dhcp_port_<subnet> (same id, MAC and
   * IP), so that every region answers DHCP with the same address. The plain central Neutron
   * does not create that port, so the first region to need it does.
   */
  async dhcpPort(ctx: RequestContext, subnet: Resource): Promise<void> {
    const local = await this.core.ports!.list(asAdmin(ctx), {
      filters: { network_id: [subnet.network_id], device_owner: [DHCP_OWNER] },
      tags: { all: [], any: [], notAll: [], notAny: [] },
      sorts: [],
      limit: null,
      marker: null,
      pageReverse: false,
    });
    if (local.items.some((p) => (p.fixed_ips as Array<{ subnet_id: string }>).some((f) => f.subnet_id === subnet.id))) return;
    if (!this.copiesFromCentral(ctx)) return;
    const central = await this.reservedPort(ctx, subnet, dhcpPortName(String(subnet.id)), DHCP_OWNER, RESERVED_DHCP_DEVICE);
    await this.copy('ports', PORT, ctx, {
      ...portCopy(central),
      device_owner: DHCP_OWNER,
      device_id: RESERVED_DHCP_DEVICE,
      security_groups: undefined,
      'binding:profile': {},
    });
  }

  /**
   * A reserved central port by name, created if missing (with its name-derived MAC, so that
   * concurrent creators make one port). Should several exist anyway (made by hand), the one
   * with the lowest id is used, by every region alike. The [client] admin does this when
   * configured: the port belongs to the subnet's project, which need not be the caller's.
   */
  async reservedPort(ctx: RequestContext, subnet: Resource, name: string, deviceOwner: string, deviceId: string): Promise<Resource> {
    const central = this.central.admin();
    const find = () =>
      central.list(ctx, 'ports', [
        ['network_id', String(subnet.network_id)],
        ['name', name],
      ]);
    const found = await find();
    if (found.length) return lowestId(found)!;
    try {
      return await central.create(ctx, 'ports', 'port', {
        name,
        network_id: subnet.network_id,
        project_id: subnet.project_id,
        admin_state_up: true,
        device_owner: deviceOwner,
        device_id: deviceId,
        mac_address: reservedMac(name),
        fixed_ips: [{ subnet_id: subnet.id }],
      });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
    const winner = lowestId(await find());
    if (!winner) throw new ApiError('ServiceUnavailable', `Central Neutron: port ${name} could be neither created nor found; try again later`);
    return winner;
  }

  /** The local port, copied from central (with its network, subnets and security groups) if missing. */
  async port(ctx: RequestContext, id: string): Promise<Resource> {
    const existing = await this.local('ports', ctx, id);
    if (existing) return existing;
    const notFound = new ApiError('PortNotFound', PORT.notFoundMessage(id));
    this.requireToken(ctx, notFound);
    const source = await this.central.find(ctx, 'ports', 'port', id);
    if (!source) throw notFound;
    return this.portFrom(ctx, source);
  }

  /** The local copy of a central port: its network, subnets and security groups first. */
  async portFrom(ctx: RequestContext, source: Resource, request: Resource = {}): Promise<Resource> {
    await this.network(ctx, String(source.network_id));
    for (const fixed of source.fixed_ips as Array<{ subnet_id: string }>) await this.subnet(ctx, fixed.subnet_id);
    const groups = (source.security_groups as string[] | undefined) ?? [];
    for (const group of groups) await this.securityGroup(ctx, group);
    return this.copy('ports', PORT, ctx, { ...portCopy(source), ...request, security_groups: groups.length ? groups : undefined });
  }

  /** The local security group, copied from central if missing (its rules are xjob's business). */
  async securityGroup(ctx: RequestContext, id: string): Promise<Resource> {
    const existing = await this.local('security_groups', ctx, id);
    if (existing) return existing;
    const notFound = new ApiError('SecurityGroupNotFound', SECURITY_GROUP.notFoundMessage(id));
    this.requireToken(ctx, notFound);
    const source = await this.central.find(ctx, 'security_groups', 'security_group', id);
    if (!source) throw notFound;
    return this.copy('security_groups', SECURITY_GROUP, ctx, source);
  }
}

/** The IP a port holds on a subnet. */
function addressOn(port: Resource, subnetId: string): string {
  const fixed = (port.fixed_ips as Array<{ subnet_id: string; ip_address: string }>).find((f) => f.subnet_id === subnetId);
  if (!fixed) throw new ApiError('ServiceUnavailable', `Central Neutron: port ${String(port.id)} has no address on subnet ${subnetId}`);
  return fixed.ip_address;
}

/** What a local copy of a central port keeps: the same id, MAC and addresses; the binding is this region's own. */
function portCopy(central: Resource): Resource {
  return {
    ...central,
    fixed_ips: (central.fixed_ips as Array<{ subnet_id: string; ip_address: string }>).map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })),
    'binding:host_id': undefined,
    'binding:profile': undefined,
    'binding:vif_type': undefined,
    'binding:vif_details': undefined,
    qos_policy_id: undefined,
  };
}
