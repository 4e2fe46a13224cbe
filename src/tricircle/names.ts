// Names of the resources Tricircle creates itself (reference §3.1). They are the keys of the
// routing-row locks and how regions and xjob find those resources again, so they never change.

/** The pod a fan-out job names before it knows its regions: one job per region follows. */
export const NOT_SPECIFIED_POD = 'not_specified_pod';

/** device_id of the gateway port a local Neutron asks central to create for its region. */
export const RESERVED_GATEWAY_DEVICE = 'reserved_gateway_port';
/** device_id of the central DHCP port of a subnet. */
export const RESERVED_DHCP_DEVICE = 'reserved_dhcp_port';
/** device_owner of xjob's copies of another region's ports. */
export const SHADOW_OWNER = 'compute:shadow';

export const dhcpPortName = (subnetId: string) => `dhcp_port_${subnetId}`;
export const snatPortName = (subnetId: string) => `snat_port_${subnetId}`;
export const interfacePortName = (region: string, subnetId: string) => `interface_${region}_${subnetId}`;
export const shadowPortName = (portId: string) => `shadow_port_${portId}`;
/** The id of a shadow port is the suffix of its name `shadow_port_<id>` after the last '_'. */
export const shadowPortId = (name: string) => name.slice(name.lastIndexOf('_') + 1);

export const BRIDGE_SUBNET_POOL = 'bridge_subnet_pool';
export const bridgeNetName = (projectId: string) => `bridge_net_${projectId}`;
export const bridgeSubnetName = (projectId: string) => `bridge_subnet_${projectId}`;
/** The central port holding a bottom router's address on its project's bridge subnet. */
export const bridgePortName = (projectId: string, bottomRouterId: string) => `bridge_port_${projectId}_${bottomRouterId}`;
/** The bottom router that carries a non-local router's north-south traffic. */
export const nsRouterName = (routerId: string) => `ns_router_${routerId}`;
