// The one error catalog: every error a client can see has a stable type name and an HTTP
// status here. Each API renders these in its own wire format (Admin API: errors-admin.ts).

export const ERROR_CATALOG = {
  InvalidInput: { status: 400, description: 'The request body, a query parameter or a path id is malformed or invalid.' },
  NotAuthenticated: { status: 401, description: 'No token, or one that Keystone does not accept.' },
  PolicyNotAuthorized: { status: 403, description: 'The caller is authenticated but policy forbids the operation.' },
  ResourceNotFound: { status: 404, description: 'No such path, or no such object (also for objects the caller may not see).' },
  MethodNotAllowed: { status: 405, description: 'The path exists but not with this HTTP method.' },
  Conflict: { status: 409, description: 'The request conflicts with the current state (duplicate, object in use).' },
  RequestEntityTooLarge: { status: 413, description: 'The body is larger than [DEFAULT] max_request_body_size.' },
  UnsupportedMediaType: { status: 415, description: 'The body is not application/json.' },
  ValidationFailed: { status: 422, description: 'A well-formed request whose values cannot be accepted (e.g. a pod without region_name).' },
  ServiceUnavailable: { status: 503, description: 'A service this one depends on (Keystone, the database) cannot be reached.' },
  InternalError: { status: 500, description: 'A fault of the server itself; the log has the details under the request id.' },

  // Neutron's own exception types, by the names its clients know.
  HTTPBadRequest: { status: 400, description: 'Neutron: a body or query that does not match the resource definition.' },
  BadRequest: { status: 400, description: 'Neutron: a request that is well-formed but not acceptable (e.g. a bad limit).' },
  NetworkNotFound: { status: 404, description: 'Neutron: no such network visible to the caller.' },
  NetworkInUse: { status: 409, description: 'Neutron: the network still has ports other than its own service ports.' },
  NoNetworkAvailable: { status: 503, description: 'Neutron: no segment (VLAN, VNI) is left in the configured ranges.' },
  OverQuota: { status: 409, description: "Neutron: the project's quota for the resource would be exceeded." },
  AvailabilityZoneNotFound: { status: 404, description: 'Neutron: an availability_zone_hints entry names no zone.' },
  SegmentationIdInUse: { status: 409, description: 'Neutron: the requested VLAN or VNI is already used by another network.' },
  PhysicalNetworkInUse: { status: 409, description: 'Neutron: the requested flat physical network already carries a network.' },
  TagResourceNotFound: { status: 404, description: 'Neutron: the resource whose tags are asked for does not exist or is not visible.' },
  TagNotFound: { status: 404, description: 'Neutron: the resource does not carry this tag.' },
  TenantQuotaNotFound: { status: 404, description: 'Neutron: the project has no quota of its own to delete.' },
  AdminRequired: { status: 403, description: "Neutron: only an admin may read another project's quota details." },
  InvalidCIDR: { status: 400, description: 'Neutron: a text that is not an IP prefix where one is expected (a rule remote_ip_prefix).' },
  SecurityGroupNotFound: { status: 404, description: 'Neutron: no such security group visible to the caller.' },
  SecurityGroupRuleNotFound: { status: 404, description: 'Neutron: no security group rule has this id.' },
  SecurityGroupInUse: { status: 409, description: 'Neutron: ports use the security group (delete, or change of stateful).' },
  SecurityGroupCannotRemoveDefault: { status: 409, description: "Neutron: only an admin may delete a project's default security group." },
  SecurityGroupCannotUpdateDefault: { status: 409, description: 'Neutron: the default security group cannot be renamed.' },
  SecurityGroupDefaultAlreadyExists: { status: 409, description: "Neutron: no other security group may be named 'default'." },
  SecurityGroupRuleExists: { status: 409, description: 'Neutron: the group already has this rule (the message names it).' },
  DuplicateSecurityGroupRuleInPost: { status: 409, description: 'Neutron: a bulk create repeats a rule.' },
  SecurityGroupRuleInvalidProtocol: { status: 400, description: 'Neutron: a rule protocol that is neither a known name nor a number 0-255.' },
  SecurityGroupRuleInvalidEtherType: { status: 400, description: 'Neutron: a rule ethertype other than IPv4 or IPv6.' },
  SecurityGroupRuleParameterConflict: { status: 400, description: "Neutron: a rule's remote_ip_prefix is not of its ethertype's family." },
  SecurityGroupEthertypeConflictWithProtocol: { status: 400, description: 'Neutron: an IPv6-only protocol in an IPv4 rule.' },
  SecurityGroupMultipleRemoteEntites: { status: 400, description: 'Neutron: a rule with both remote_ip_prefix and remote_group_id.' },
  SecurityGroupProtocolRequiredWithPorts: { status: 400, description: 'Neutron: a rule with a port range but no protocol.' },
  SecurityGroupInvalidProtocolForPort: { status: 400, description: 'Neutron: a port range on a protocol that has no ports.' },
  SecurityGroupInvalidPortRange: { status: 400, description: 'Neutron: a TCP/UDP-like rule whose port_range_min is missing or above port_range_max.' },
  SecurityGroupInvalidPortValue: { status: 400, description: 'Neutron: a port outside 0-65535 (or 0 for TCP/UDP-like protocols).' },
  SecurityGroupInvalidIcmpValue: { status: 400, description: 'Neutron: an ICMP type or code outside 0-255.' },
  SecurityGroupMissingIcmpType: { status: 400, description: 'Neutron: an ICMP code without an ICMP type.' },
  SecurityGroupNotSingleGroupRules: { status: 400, description: 'Neutron: a bulk rule create spanning several groups.' },
  SecurityGroupRulesNotSingleTenant: { status: 400, description: 'Neutron: a bulk rule create spanning several projects.' },
  // Subnets, subnet pools, IPAM and ports.
  SubnetNotFound: { status: 404, description: 'Neutron: no such subnet visible to the caller.' },
  SubnetPoolNotFound: { status: 404, description: 'Neutron: no such subnet pool visible to the caller.' },
  PortNotFound: { status: 404, description: 'Neutron: no such port visible to the caller.' },
  SegmentNotFound: { status: 404, description: "Neutron: a subnet's segment_id names no segment of its network." },
  SubnetInUse: { status: 409, description: 'Neutron: ports other than DHCP ports hold addresses from the subnet.' },
  SubnetPoolDeleteError: { status: 400, description: 'Neutron: subnets were allocated from the subnet pool.' },
  IpAddressAlreadyAllocated: { status: 409, description: 'Neutron: the requested fixed IP is already used on the network.' },
  IpAddressGenerationFailure: { status: 409, description: "Neutron: no free address is left in the network's subnets." },
  MacAddressInUse: { status: 409, description: 'Neutron: the requested MAC address is already used on the network.' },
  InvalidIpForSubnet: { status: 400, description: 'Neutron: a fixed IP outside its subnet (or its network or broadcast address).' },
  InvalidIpForNetwork: { status: 400, description: "Neutron: a fixed IP in none of the network's subnets." },
  AllocationOnAutoAddressSubnet: { status: 400, description: 'Neutron: a fixed IP requested on an IPv6 SLAAC or DHCPv6-stateless subnet.' },
  InvalidAllocationPool: { status: 400, description: 'Neutron: an allocation pool whose start is above its end, or of the wrong family.' },
  OutOfBoundsAllocationPool: { status: 400, description: "Neutron: an allocation pool reaching outside the subnet's usable addresses." },
  OverlappingAllocationPools: { status: 409, description: 'Neutron: two allocation pools of a subnet overlap.' },
  GatewayConflictWithAllocationPools: { status: 409, description: 'Neutron: the gateway address lies inside an allocation pool.' },
  GatewayIpInUse: { status: 409, description: "Neutron: a router interface uses the subnet's current gateway address." },
  DNSNameServersExhausted: { status: 400, description: 'Neutron: more DNS nameservers than a subnet may have.' },
  HostRoutesExhausted: { status: 400, description: 'Neutron: more host routes than a subnet may have.' },
  NetworkSubnetPoolAffinityError: { status: 400, description: "Neutron: a network's subnets of one IP version come from different pools." },
  SubnetAllocationError: {
    status: 409,
    description: 'Neutron: the subnet pool has no room for the requested prefix (Neutron answers 500; a full pool is not a server fault).',
  },
  MinPrefixSubnetAllocationError: { status: 400, description: "Neutron: a prefix length below the subnet pool's min_prefixlen." },
  MaxPrefixSubnetAllocationError: { status: 400, description: "Neutron: a prefix length above the subnet pool's max_prefixlen." },
  IllegalSubnetPoolPrefixBounds: { status: 400, description: 'Neutron: min, default and max prefix lengths out of order or beyond the family.' },
  IllegalSubnetPoolPrefixUpdate: { status: 400, description: "Neutron: new prefixes that do not contain the pool's existing ones." },
  PrefixVersionMismatch: { status: 400, description: 'Neutron: IPv4 and IPv6 prefixes in one subnet pool.' },
  EmptySubnetPoolPrefixList: { status: 400, description: 'Neutron: a subnet pool without prefixes.' },
  AddressPairAndPortSecurityRequired: { status: 409, description: 'Neutron: allowed address pairs on a port without port security.' },
  PortSecurityAndIPRequiredForSecurityGroups: { status: 400, description: 'Neutron: security groups on a port without port security or address.' },
  PortSecurityPortHasSecurityGroup: { status: 409, description: 'Neutron: port security turned off on a port that still has security groups.' },
  AllowedAddressPairExhausted: { status: 400, description: 'Neutron: more allowed address pairs than a port may have.' },
  AllowedAddressPairsMissingIP: { status: 400, description: 'Neutron: an allowed address pair without ip_address.' },
  DuplicateAddressPairInRequest: { status: 400, description: 'Neutron: the same allowed address pair twice.' },
  MacAddressGenerationFailure: { status: 503, description: 'Neutron: no unused random MAC address was found on the network after several tries.' },
  SubnetPoolQuotaExceeded: { status: 409, description: "Neutron: the project's share of the subnet pool (default_quota) would be exceeded." },
  PortBound: { status: 409, description: 'Neutron: the MAC address of a bound port cannot change.' },
  // Routers and floating IPs.
  RouterNotFound: { status: 404, description: 'Neutron: no such router visible to the caller.' },
  RouterInUse: { status: 409, description: 'Neutron: the router still has interfaces.' },
  RouterInterfaceNotFound: { status: 404, description: 'Neutron: remove_router_interface names a port that is not an interface of the router.' },
  RouterInterfaceNotFoundForSubnet: { status: 404, description: 'Neutron: remove_router_interface names a subnet the router has no interface on.' },
  RouterInterfaceInUseByRoute: { status: 409, description: "Neutron: an extra route's nexthop needs the interface being removed." },
  RouterInterfaceInUseByFloatingIP: { status: 409, description: 'Neutron: a floating IP is reached through the interface being removed.' },
  RouterExternalGatewayInUseByFloatingIp: { status: 409, description: "Neutron: floating IPs need the router's gateway on that external network." },
  InvalidRoutes: { status: 400, description: "Neutron: an extra route's nexthop is not on a subnet of the router, or is the router's own address." },
  PortInUse: { status: 409, description: 'Neutron: the port already belongs to a device.' },
  ServicePortInUse: { status: 409, description: "Neutron: a router's or floating IP's own port, deleted through the ports API." },
  FloatingIPNotFound: { status: 404, description: 'Neutron: no such floating IP visible to the caller.' },
  ExternalGatewayForFloatingIPNotFound: {
    status: 404,
    description: "Neutron: no router has a gateway on the floating IP's network and an interface on the port's subnet.",
  },
  FloatingIPPortAlreadyAssociated: { status: 409, description: 'Neutron: the fixed IP already has a floating IP.' },
  // The central role (reference §3.14).
  RouterNetworkLocationMismatch: {
    status: 400,
    description: "Central Neutron: the network's availability zones do not match the router's (local vs non-local, §3.1).",
  },
  NetAttachedToNonLocalRouter: {
    status: 409,
    description: "Central Neutron: a non-local router already serves the network's gateway; a local router cannot take it.",
  },
  ExternalNetPodNotSpecify: { status: 400, description: 'Central Neutron: the external network names no region in availability_zone_hints.' },
  FlatNetworkInUse: { status: 409, description: "Central Neutron: the region's Neutron already has a flat network on that physical network." },
  ResourceIsInDeleting: { status: 409, description: 'Central Neutron: the resource is being deleted; retry once the delete has finished.' },
  RemoteGroupNotSupported: { status: 400, description: 'Central Neutron: a remote_group_id rule that cannot be expanded to address prefixes.' },
  RoutingCreateFail: { status: 503, description: 'Central Neutron: another server holds the lock on this region copy for too long; retry.' },
  BottomPodOperationFailure: {
    status: 502,
    description: "Central Neutron: a region's Neutron refused or failed a synchronous step; the message names the region.",
  },
} as const;

export type ErrorType = keyof typeof ERROR_CATALOG;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = ERROR_CATALOG[type].status;
  }
}

export const badRequest = (message: string) => new ApiError('InvalidInput', message);
export const notFound = (message: string) => new ApiError('ResourceNotFound', message);
export const conflict = (message: string) => new ApiError('Conflict', message);
export const forbidden = (message: string) => new ApiError('PolicyNotAuthorized', message);
