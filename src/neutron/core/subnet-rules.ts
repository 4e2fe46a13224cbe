import { ApiError } from '../../http/errors.js';
import { invalidInput, pyRepr } from '../resources/net-validators.js';
import { cidrContains, cidrLast, formatIp, parseCidr, parseIp, type Cidr, type Range } from './ip.js';
import type { Resource } from './plugin.js';

// The checks Neutron makes on a subnet's addressing (db_base_plugin_v2._validate_subnet and
// ipam_backend_mixin), and the defaults it derives: gateway and allocation pools. Pure
// functions of the subnet's attributes; the operations (subnets.ts) add what needs the database.

export const MAX_DNS_NAMESERVERS = 5;
export const MAX_HOST_ROUTES = 20;
const AUTO_ADDRESS_MODES = ['slaac', 'dhcpv6-stateless'];

export type Pool = { start: string; end: string };

/** SLAAC and DHCPv6-stateless subnets: addresses come from the MAC (EUI-64), not from IPAM. */
export const isAutoAddress = (s: Resource) =>
  AUTO_ADDRESS_MODES.includes(s.ipv6_address_mode as string) || AUTO_ADDRESS_MODES.includes(s.ipv6_ra_mode as string);

export function matchVersion(version: number, text: string, name: string): void {
  const parsed = parseCidr(text);
  if (parsed && parsed.version !== version) throw invalidInput(`${name} '${text}' does not match the ip_version '${version}'`);
}

/** Neutron's default gateway: the first address after the network (IPv4), the subnet-router anycast address (IPv6). */
export const defaultGateway = (cidr: Cidr) => formatIp(cidr.version, cidr.version === 4 ? cidr.network + 1n : cidr.network);

/** ipam utils check_gateway_invalid_in_subnet: an IPv4 gateway may not be the network or broadcast address. */
function gatewayInvalid(cidr: Cidr, gateway: string): boolean {
  const ip = parseIp(gateway)!;
  return cidrContains(cidr, ip) && cidr.version === 4 && (ip.value === cidr.network || ip.value === cidrLast(cidr));
}

/** The usable span of a cidr: no network or broadcast address for IPv4 up to /30, no network address for IPv6. */
function usable(cidr: Cidr): Range {
  const last = cidrLast(cidr);
  if (cidr.version === 6) return { first: cidr.network + 1n, last };
  return cidr.prefixlen <= 30 ? { first: cidr.network + 1n, last: last - 1n } : { first: cidr.network, last };
}

/** ipam utils generate_pools: the usable span around the gateway. */
export function defaultPools(cidr: Cidr, gateway: string | null): Pool[] {
  const span = cidr.network === cidrLast(cidr) ? { first: cidr.network, last: cidr.network } : usable(cidr);
  const gw = gateway === null ? null : parseIp(gateway);
  const ranges: Range[] = [];
  if (gw && gw.version === cidr.version && gw.value >= span.first && gw.value <= span.last) {
    if (gw.value > span.first) ranges.push({ first: span.first, last: gw.value - 1n });
    if (gw.value < span.last) ranges.push({ first: gw.value + 1n, last: span.last });
  } else if (span.first <= span.last) ranges.push(span);
  return ranges.map((r) => ({ start: formatIp(cidr.version, r.first), end: formatIp(cidr.version, r.last) }));
}

const poolText = (p: Pool) => `${p.start}-${p.end}`;

/** validate_allocation_pools: ordered, of the family, inside the usable span, not overlapping. Returns them sorted. */
export function checkPools(pools: Pool[], cidrText: string): Pool[] {
  const cidr = parseCidr(cidrText)!;
  const span = usable(cidr);
  const ranges = pools.map((pool) => {
    const [start, end] = [parseIp(pool.start)!, parseIp(pool.end)!];
    // netaddr refuses a reversed range outright (Neutron then prints the request), and one of the other family later.
    if (start.version === end.version && start.value > end.value)
      throw new ApiError('InvalidAllocationPool', `The allocation pool ${pyRepr(pool)} is not valid.`);
    if (start.version !== cidr.version || end.version !== cidr.version)
      throw new ApiError('InvalidAllocationPool', `The allocation pool ${poolText(pool)} is not valid.`);
    if (start.value < span.first || end.value > span.last) {
      throw new ApiError('OutOfBoundsAllocationPool', `The allocation pool ${poolText(pool)} spans beyond the subnet cidr ${cidrText}.`);
    }
    return { pool, first: start.value, last: end.value };
  });
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const [a, b] = [ranges[i]!, ranges[j]!];
      if (a.first <= b.last && b.first <= a.last) {
        throw new ApiError('OverlappingAllocationPools', `Found overlapping allocation pools: ${poolText(a.pool)} ${poolText(b.pool)} for subnet ${cidrText}.`);
      }
    }
  }
  return ranges.sort((a, b) => (a.first < b.first ? -1 : 1)).map((r) => r.pool);
}

export function checkGatewayOutOfPools(gateway: string, pools: Pool[]): void {
  const gw = parseIp(gateway)!;
  for (const pool of pools) {
    if (gw.value >= parseIp(pool.start)!.value && gw.value <= parseIp(pool.end)!.value && gw.version === parseIp(pool.start)!.version) {
      throw new ApiError('GatewayConflictWithAllocationPools', `Gateway ip ${gateway} conflicts with allocation pool ${poolText(pool)}.`);
    }
  }
}

/**
 * _validate_subnet: `s` holds the subnet as it would be (ip_version and cidr always set),
 * `current` the stored subnet on update. Only the attributes present are checked.
 */
export function validateSubnet(s: Resource, current?: Resource): void {
  const version = s.ip_version as 4 | 6;
  const cidrText = s.cidr as string;
  const cidr = parseCidr(cidrText)!;
  matchVersion(version, cidrText, 'cidr');
  const dhcpWasEnabled = current ? Boolean(current.enable_dhcp) : false;
  if (s.enable_dhcp && !dhcpWasEnabled) {
    if ((version === 4 && cidr.prefixlen > 30) || (version === 6 && cidr.prefixlen > 126)) {
      throw invalidInput('Subnet has a prefix length that is incompatible with DHCP service enabled');
    }
    const first = cidr.network;
    if (version === 4 ? first >> 28n === 0xen : first >> 120n === 0xffn) throw invalidInput('Multicast IP subnet is not supported if enable_dhcp is True');
    if (version === 4 ? first >> 24n === 127n : first === 1n && cidr.prefixlen === 128)
      throw invalidInput('Loopback IP subnet is not supported if enable_dhcp is True');
    if (version === 4 && first === 0n) throw invalidInput("First IP '0.0.0.0' of network is not supported if enable_dhcp is True.");
  }
  if (typeof s.gateway_ip === 'string') {
    matchVersion(version, s.gateway_ip, 'gateway_ip');
    if (gatewayInvalid(cidr, s.gateway_ip)) throw invalidInput('Gateway is not valid on subnet');
  }
  const dns = s.dns_nameservers as string[] | undefined;
  if (dns) {
    if (dns.length > MAX_DNS_NAMESERVERS) {
      throw new ApiError(
        'DNSNameServersExhausted',
        `Unable to complete operation for ${s.id ?? 'new subnet'}. The number of DNS nameservers exceeds the limit ${MAX_DNS_NAMESERVERS}.`,
      );
    }
    for (const server of dns) matchVersion(version, server, 'dns_nameserver');
  }
  const routes = s.host_routes as Array<{ destination: string; nexthop: string }> | undefined;
  if (routes) {
    if (routes.length > MAX_HOST_ROUTES) {
      throw new ApiError(
        'HostRoutesExhausted',
        `Unable to complete operation for ${s.id ?? 'new subnet'}. The number of host routes exceeds the limit ${MAX_HOST_ROUTES}.`,
      );
    }
    for (const route of routes) {
      matchVersion(version, route.nexthop, 'nexthop');
      matchVersion(version, route.destination, 'destination');
    }
  }
  if (version === 4) {
    for (const attr of ['ipv6_ra_mode', 'ipv6_address_mode']) {
      if (s[attr] !== undefined && s[attr] !== null) throw invalidInput(`${attr} is not valid when ip_version is 4`);
    }
  } else if (!current) validateIpv6Modes(s, cidr);
  else if (s.enable_dhcp === false && (current.ipv6_ra_mode || current.ipv6_address_mode)) {
    throw invalidInput('Cannot disable enable_dhcp with ipv6 attributes set');
  }
}

function validateIpv6Modes(s: Resource, cidr: Cidr): void {
  const ra = s.ipv6_ra_mode ?? null;
  const address = s.ipv6_address_mode ?? null;
  if ((ra || address) && !s.enable_dhcp) throw invalidInput('ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False');
  if (ra && address && ra !== address) {
    throw invalidInput(
      `ipv6_ra_mode set to '${ra}' with ipv6_address_mode set to '${address}' is not valid. If both attributes are set, they must be the same value`,
    );
  }
  if (isAutoAddress(s) && cidr.prefixlen !== 64) {
    throw invalidInput(`Invalid CIDR ${s.cidr} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64`);
  }
}

/** check_subnet_ip: an address a port may hold on the subnet (not an IPv4 network/broadcast address). */
export function validIpForSubnet(cidrText: string, address: string, deviceOwner: string): boolean {
  const cidr = parseCidr(cidrText)!;
  const ip = parseIp(address)!;
  if (!cidrContains(cidr, ip)) return false;
  if (cidr.version === 6) return ROUTER_PORT_OWNERS.includes(deviceOwner) || deviceOwner === '' || ip.value !== cidr.network;
  return ip.value !== cidr.network && ip.value !== cidrLast(cidr);
}

export const ROUTER_INTERFACE_OWNERS = ['network:router_interface', 'network:ha_router_replicated_interface', 'network:router_interface_distributed'];
export const ROUTER_SNAT_OWNERS = [...ROUTER_INTERFACE_OWNERS, 'network:router_centralized_snat'];
export const ROUTER_PORT_OWNERS = [...ROUTER_SNAT_OWNERS, 'network:router_gateway'];
/** Ports a network or subnet delete removes by itself. */
export const AUTO_DELETE_PORT_OWNERS = ['network:dhcp', 'network:distributed', 'network:floatingip_agent_gateway'];
