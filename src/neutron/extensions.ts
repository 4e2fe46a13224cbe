// The extensions GET /v2.0/extensions lists: only what this server implements, since clients
// probe these aliases to decide which attributes and calls to use.
export interface Extension {
  alias: string;
  name: string;
  description: string;
}

const UPDATED = '2026-01-01T00:00:00-00:00';

export const EXTENSIONS: Extension[] = [
  { alias: 'provider', name: 'Provider Network', description: 'Expose mapping of virtual networks to physical networks' },
  { alias: 'external-net', name: 'Neutron external network', description: 'Adds external network attribute to network resource.' },
  { alias: 'net-mtu', name: 'Network MTU', description: 'Provides MTU attribute for a network resource.' },
  { alias: 'net-mtu-writable', name: 'Network MTU (writable)', description: 'Provides a writable MTU attribute for a network resource.' },
  { alias: 'port-security', name: 'Port Security', description: 'Provides port security' },
  { alias: 'availability_zone', name: 'Availability Zone', description: 'The availability zone extension.' },
  { alias: 'network_availability_zone', name: 'Network Availability Zone', description: 'Availability zone support for network.' },
  { alias: 'standard-attr-description', name: 'standard-attr-description', description: 'Extension to add descriptions to standard attributes' },
  { alias: 'standard-attr-revisions', name: 'Resource revision numbers', description: 'This extension will display the revision number of neutron resources.' },
  {
    alias: 'standard-attr-timestamp',
    name: 'Resource timestamps',
    description: 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.',
  },
  { alias: 'security-group', name: 'security-group', description: 'The security groups extension.' },
  { alias: 'stateful-security-group', name: 'Stateful security group', description: 'Indicates if the security group is stateful or not' },
  {
    alias: 'security-groups-normalized-cidr',
    name: 'Normalized CIDR field for security group rules',
    description: 'Add new field with normalized remote_ip_prefix cidr in SG rule',
  },
  { alias: 'quotas', name: 'Quota management support', description: 'Expose functions for quotas management per project' },
  { alias: 'quota_details', name: 'Quota details management support', description: 'Expose functions for quotas usage statistics per project' },
  {
    alias: 'quota-check-limit',
    name: 'Quota engine limit check',
    description: 'Support for checking the resource usage before applying a new quota limit',
  },
  {
    alias: 'standard-attr-tag',
    name: 'Tag support for resources with standard attribute',
    description: 'Enables to set tag on resources with standard attribute.',
  },
  { alias: 'binding', name: 'Port Binding', description: 'Expose port bindings of a virtual port to external application' },
  { alias: 'allowed-address-pairs', name: 'Allowed Address Pairs', description: 'Provides allowed address pairs' },
  {
    alias: 'extra_dhcp_opt',
    name: 'Neutron Extra DHCP options',
    description:
      'Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)',
  },
  { alias: 'subnet_allocation', name: 'Subnet Allocation', description: 'Enables allocation of subnets from a subnet pool' },
  { alias: 'default-subnetpools', name: 'Default Subnetpools', description: 'Provides ability to mark and use a subnetpool as the default.' },
  { alias: 'ip-substring-filtering', name: 'IP address substring filtering', description: 'Provides IP address substring filtering when listing ports' },
  { alias: 'port-security-groups-filtering', name: 'Port filtering on security groups', description: 'Provides security groups filtering when listing ports' },
  {
    alias: 'router',
    name: 'Neutron L3 Router',
    description: 'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.',
  },
  {
    alias: 'ext-gw-mode',
    name: 'Neutron L3 Configurable external gateway mode',
    description: 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway',
  },
  { alias: 'extraroute', name: 'Neutron Extra Route', description: 'Extra routes configuration for L3 router' },
  { alias: 'dvr', name: 'Distributed Virtual Router', description: 'Enables configuration of Distributed Virtual Routers.' },
  { alias: 'l3-ha', name: 'HA Router extension', description: 'Adds HA capability to routers.' },
  { alias: 'router_availability_zone', name: 'Router Availability Zone', description: 'Availability zone support for router.' },
  { alias: 'fip-port-details', name: 'Floating IP Port Details Extension', description: 'Add port_details attribute to Floating IP resource' },
  { alias: 'filter-validation', name: 'Filter parameters validation', description: 'Provides validation on filtering parameters.' },
  { alias: 'sorting', name: 'Sorting support', description: 'Extension that indicates that sorting is enabled.' },
  { alias: 'pagination', name: 'Pagination support', description: 'Extension that indicates that pagination is enabled.' },
];

export const render = (e: Extension) => ({ alias: e.alias, name: e.name, description: e.description, updated: UPDATED, links: [] });
