import { ID, OWNER, STANDARD, boolean, orNull, string, uuid, type ResourceDef } from './attributes.js';
import { hostRoutes, intFrom, ipAddress, ipPools, nameservers, nonNegative, subnetCidr, values } from './net-validators.js';

export const IPV6_MODES = ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac'] as const;

// Attributes as neutron-lib's subnet definition has them; `default: undefined` stands for
// Neutron's ATTR_NOT_SPECIFIED (optional, and the operation decides what it means).
export const SUBNET: ResourceDef = {
  name: 'subnet',
  collection: 'subnets',
  notFound: 'SubnetNotFound',
  notFoundMessage: (id) => `Subnet ${id} could not be found.`,
  attributes: {
    ...ID,
    ...OWNER,
    name: { post: true, put: true, default: '', validate: string(255), sort: true },
    network_id: { post: true, validate: uuid, sort: true },
    ip_version: { post: true, validate: intFrom([4, 6]), sort: true },
    subnetpool_id: { post: true, default: undefined, validate: orNull(uuid), sort: true },
    prefixlen: { post: true, default: undefined, validate: nonNegative, visible: false },
    // default-subnetpools: take the default pool of the ip_version.
    use_default_subnetpool: { post: true, default: false, validate: boolean, visible: false },
    cidr: { post: true, default: undefined, validate: subnetCidr, sort: true },
    gateway_ip: { post: true, put: true, default: undefined, validate: orNull(ipAddress), sort: true },
    allocation_pools: { post: true, put: true, default: undefined, validate: ipPools, filter: false },
    dns_nameservers: { post: true, put: true, default: undefined, validate: nameservers, filter: false },
    host_routes: { post: true, put: true, default: undefined, validate: hostRoutes, filter: false },
    enable_dhcp: { post: true, put: true, default: true, validate: boolean, sort: true },
    ipv6_ra_mode: { post: true, default: undefined, validate: orNull(values(IPV6_MODES)), sort: true },
    ipv6_address_mode: { post: true, default: undefined, validate: orNull(values(IPV6_MODES)), sort: true },
    segment_id: { post: true, default: null, validate: orNull(uuid), sort: true },
    ...STANDARD,
  },
};
