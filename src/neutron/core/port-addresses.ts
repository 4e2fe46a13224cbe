import { ApiError } from '../../http/errors.js';
import { invalidInput } from '../resources/net-validators.js';
import { eui64, formatIp, isEui64, parseCidr, parseIp, toKey, type IpVersion } from './ip.js';
import { ipamSubnet, type Ipam } from './ipam.js';
import type { Resource } from './plugin.js';
import { ROUTER_INTERFACE_OWNERS, ROUTER_SNAT_OWNERS, isAutoAddress, validIpForSubnet } from './subnet-rules.js';
import { subnetNotFound } from './subnets.js';
import type { Executor } from './store.js';

// A port's fixed IPs, the way Neutron's IPAM backend decides them: what a request names
// (subnet, subnet and address, address only), the defaults when it names nothing (one
// address from the IPv4 subnets, one from the stateful IPv6 subnets, and an EUI-64
// address on every SLAAC subnet), and what changes on update.

export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}
export interface AddressRequest {
  subnet_id?: string;
  ip_address?: string;
}
export interface PortAddressing {
  id: string;
  network_id: string;
  mac_address: string;
  device_owner: string;
}

/** One allocation to make: a specific address, any address of the first subnet with room, or an EUI-64 address. */
type Want = { kind: 'specific'; subnet: Resource; ip: string } | { kind: 'any'; subnets: Resource[] } | { kind: 'eui64'; subnet: Resource };

export class PortAddresses {
  constructor(private readonly ipam: Ipam) {}

  /** The network's subnets, oldest first. */
  subnets(db: Executor, networkId: string): Promise<Resource[]> {
    return db
      .selectFrom('subnets')
      .select(['id', 'network_id', 'ip_version', 'cidr', 'allocation_pools', 'ipv6_ra_mode', 'ipv6_address_mode'])
      .where('network_id', '=', networkId)
      .orderBy('created_at')
      .orderBy('id')
      .execute()
      .then((rows) => rows.map((r) => ({ ...r, ip_version: Number(r.ip_version), allocation_pools: JSON.parse(String(r.allocation_pools)) })));
  }

  /** _get_subnet_for_fixed_ip: which subnet a requested fixed IP is on, or Neutron's error. */
  private async subnetFor(db: Executor, port: PortAddressing, fixed: AddressRequest, subnets: Resource[]): Promise<Resource> {
    if (subnets.length === 0) throw invalidInput('IP allocation requires subnets for network');
    if (fixed.subnet_id) {
      const subnet = subnets.find((s) => s.id === fixed.subnet_id);
      if (!subnet) {
        const exists = await db.selectFrom('subnets').select('id').where('id', '=', fixed.subnet_id).executeTakeFirst();
        if (!exists) throw subnetNotFound(fixed.subnet_id);
        throw invalidInput(`Failed to create port on network ${port.network_id}, because fixed_ips included invalid subnet ${fixed.subnet_id}`);
      }
      if (fixed.ip_address && !validIpForSubnet(subnet.cidr as string, fixed.ip_address, port.device_owner)) {
        throw new ApiError('InvalidIpForSubnet', `IP address ${fixed.ip_address} is not a valid IP for the specified subnet.`);
      }
      return subnet;
    }
    if (!fixed.ip_address) throw invalidInput('IP allocation requires subnet_id or ip_address');
    const subnet = subnets.find((s) => validIpForSubnet(s.cidr as string, fixed.ip_address!, port.device_owner));
    if (!subnet) throw new ApiError('InvalidIpForNetwork', `IP address ${fixed.ip_address} is not a valid IP for any of the subnets on the specified network.`);
    return subnet;
  }

  /** _test_fixed_ips_for_port: requests checked and turned into allocations to make. */
  private async wants(db: Executor, port: PortAddressing, requests: AddressRequest[], subnets: Resource[]): Promise<Want[]> {
    const wants: Want[] = [];
    for (const fixed of requests) {
      const subnet = await this.subnetFor(db, port, fixed, subnets);
      const auto = isAutoAddress(subnet);
      if (fixed.ip_address) {
        if (auto && !ROUTER_INTERFACE_OWNERS.includes(port.device_owner)) {
          throw new ApiError(
            'AllocationOnAutoAddressSubnet',
            `IPv6 address ${fixed.ip_address} cannot be directly assigned to a port on subnet ${subnet.id} as the subnet is configured for automatic addresses`,
          );
        }
        wants.push({ kind: 'specific', subnet, ip: fixed.ip_address });
      } else if (!auto || ROUTER_SNAT_OWNERS.includes(port.device_owner)) wants.push({ kind: 'any', subnets: [subnet] });
    }
    return wants;
  }

  /** EUI-64 addresses on the SLAAC subnets not yet handled (router ports take none). */
  private autoAddresses(port: PortAddressing, subnets: Resource[], handled: Set<string>): Want[] {
    if (ROUTER_SNAT_OWNERS.includes(port.device_owner)) return [];
    return subnets.filter((s) => s.ip_version === 6 && isAutoAddress(s) && !handled.has(s.id as string)).map((subnet) => ({ kind: 'eui64', subnet }));
  }

  /** Makes the allocations, specific addresses first, then any-address requests. */
  private async allocate(db: Executor, port: PortAddressing, wants: Want[]): Promise<void> {
    const order = (w: Want) => (w.kind === 'specific' ? 0 : 1);
    for (const want of [...wants].sort((a, b) => order(a) - order(b))) {
      if (want.kind === 'specific') {
        if (!(await this.ipam.allocateSpecific(db, ipamSubnet(want.subnet), want.ip, port.id))) {
          throw new ApiError('IpAddressAlreadyAllocated', `IP address ${want.ip} already allocated in subnet ${want.subnet.id}`);
        }
      } else if (want.kind === 'eui64') {
        const address = formatIp(6, eui64(parseCidr(want.subnet.cidr as string)!, port.mac_address));
        if (!(await this.ipam.allocateComputed(db, ipamSubnet(want.subnet), address, port.id))) {
          throw new ApiError('IpAddressAlreadyAllocated', `IP address ${address} already allocated in subnet ${want.subnet.id}`);
        }
      } else {
        let done = false;
        for (const subnet of want.subnets) {
          const version = subnet.ip_version as IpVersion;
          if (await this.ipam.allocateAny(db, ipamSubnet(subnet), port.id, (v) => formatIp(version, v))) {
            done = true;
            break;
          }
        }
        if (!done) throw new ApiError('IpAddressGenerationFailure', `No more IP addresses available on network ${port.network_id}.`);
      }
    }
  }

  /** A new port's addresses: as requested, or Neutron's defaults when `requested` is undefined. */
  async assign(db: Executor, port: PortAddressing, requested: AddressRequest[] | undefined, subnets: Resource[]): Promise<void> {
    let wants: Want[];
    if (requested !== undefined) wants = await this.wants(db, port, requested, subnets);
    else {
      const v4 = subnets.filter((s) => s.ip_version === 4);
      const v6Stateful = subnets.filter((s) => s.ip_version === 6 && !isAutoAddress(s));
      wants = [v4, v6Stateful].filter((group) => group.length).map((group) => ({ kind: 'any' as const, subnets: group }));
    }
    await this.allocate(db, port, [...wants, ...this.autoAddresses(port, subnets, new Set())]);
  }

  /** A port's addresses, in the order Neutron lists them: IPv4 first, then by subnet and address. */
  async load(db: Executor, portIds: string[]): Promise<Map<string, FixedIp[]>> {
    const byPort = new Map<string, FixedIp[]>();
    if (portIds.length === 0) return byPort;
    const rows = await db
      .selectFrom('ip_allocations')
      .innerJoin('subnets', 'subnets.id', 'ip_allocations.subnet_id')
      .select(['ip_allocations.port_id', 'ip_allocations.subnet_id', 'ip_allocations.ip_address', 'subnets.ip_version', 'subnets.created_at'])
      .where('ip_allocations.port_id', 'in', portIds)
      .execute();
    // Grouped first, so only the few addresses of each port are ever sorted.
    for (const r of rows) {
      const list = byPort.get(String(r.port_id)) ?? [];
      list.push({ subnet_id: String(r.subnet_id), ip_address: String(r.ip_address) });
      byPort.set(String(r.port_id), list);
    }
    const subnetOrder = new Map(rows.map((r) => [String(r.subnet_id), `${r.ip_version}|${r.created_at}|${r.subnet_id}`]));
    const key = (ip: FixedIp) => `${subnetOrder.get(ip.subnet_id)}|${toKey(parseIp(ip.ip_address)!.value)}`;
    for (const list of byPort.values()) if (list.length > 1) list.sort((a, b) => (key(a) < key(b) ? -1 : 1));
    return byPort;
  }

  /** Gives a port's addresses back (EUI-64 addresses are not pool addresses to reuse). */
  async release(db: Executor, port: PortAddressing, ips: FixedIp[], subnets: Resource[]): Promise<void> {
    for (const ip of ips) {
      const subnet = subnets.find((s) => s.id === ip.subnet_id);
      if (subnet) await this.ipam.release(db, ipamSubnet(subnet), ip.ip_address, !isAutoAddress(subnet));
    }
  }

  /**
   * An update of fixed_ips (and of the MAC, which moves EUI-64 addresses): what the request
   * keeps stays, what it adds is allocated, what it drops is released, except addresses
   * on SLAAC subnets, which stay unless their subnet is named with another address.
   */
  async change(db: Executor, port: PortAddressing, current: FixedIp[], requested: AddressRequest[] | undefined, macChanged: boolean, subnets: Resource[]) {
    const autoSubnet = (id: string) => isAutoAddress(subnets.find((s) => s.id === id) ?? {});
    const required = (ip: FixedIp) => ROUTER_SNAT_OWNERS.includes(port.device_owner) || !autoSubnet(ip.subnet_id);
    const keep: FixedIp[] = [];
    const add: AddressRequest[] = [];
    let remove: FixedIp[] = [];
    if (requested === undefined) keep.push(...current);
    else {
      const byIp = new Map(current.map((ip) => [ip.ip_address, ip]));
      const candidates: FixedIp[] = [];
      for (const ip of requested.filter((r) => r.ip_address)) {
        const original = byIp.get(ip.ip_address!);
        if (original && (!ip.subnet_id || ip.subnet_id === original.subnet_id)) {
          keep.push(original);
          byIp.delete(ip.ip_address!);
        } else add.push(ip);
      }
      for (const ip of requested.filter((r) => !r.ip_address)) {
        const original = [...byIp.values()].find((o) => o.subnet_id === ip.subnet_id);
        if (!original) add.push(ip);
        else {
          byIp.delete(original.ip_address);
          if (isEui64(parseIp(original.ip_address)!)) {
            add.push(ip);
            candidates.push(original);
          } else keep.push(original);
        }
      }
      for (const ip of [...byIp.values(), ...candidates]) (required(ip) ? remove : keep).push(ip);
    }
    if (macChanged) {
      // EUI-64 addresses follow the MAC: released here, recomputed below.
      const moved = keep.filter((ip) => autoSubnet(ip.subnet_id) && isEui64(parseIp(ip.ip_address)!));
      remove = [...remove, ...moved];
      keep.splice(0, keep.length, ...keep.filter((ip) => !moved.includes(ip)));
    }
    const wants = await this.wants(db, port, add, subnets);
    await this.release(db, port, remove, subnets);
    const handled = new Set([
      ...keep.map((ip) => ip.subnet_id),
      ...wants.flatMap((w) => (w.kind === 'any' ? w.subnets : [w.subnet]).map((s) => s.id as string)),
    ]);
    await this.allocate(db, port, [...wants, ...this.autoAddresses(port, subnets, handled)]);
  }
}
