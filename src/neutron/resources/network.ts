import { ID, OWNER, STANDARD, boolean, integer, listOf, orNull, string, type ResourceDef } from './attributes.js';

export const NETWORK: ResourceDef = {
  name: 'network',
  collection: 'networks',
  notFound: 'NetworkNotFound',
  notFoundMessage: (id) => `Network ${id} could not be found.`,
  attributes: {
    ...ID,
    ...OWNER,
    name: { post: true, put: true, default: '', validate: string(255), sort: true, type: 'string' },
    admin_state_up: { post: true, put: true, default: true, validate: boolean, sort: true, type: 'boolean' },
    shared: { post: true, put: true, default: false, validate: boolean, sort: true, type: 'boolean' },
    status: { sort: true, type: 'string' },
    subnets: { filter: false, type: 'array' },
    mtu: { post: true, put: true, default: null, validate: orNull(integer(68, 65535)), sort: true, type: 'integer' },
    port_security_enabled: { post: true, put: true, default: true, validate: boolean, type: 'boolean' },
    'router:external': { post: true, put: true, default: false, validate: boolean, type: 'boolean' },
    'provider:network_type': { post: true, default: null, validate: orNull(string(32)), adminOnly: true, type: 'string' },
    'provider:physical_network': { post: true, default: null, validate: orNull(string(64)), adminOnly: true, type: 'string' },
    'provider:segmentation_id': { post: true, default: null, validate: orNull(integer(0)), adminOnly: true, type: 'integer' },
    availability_zone_hints: { post: true, default: [], validate: listOf(string(255)), filter: false, type: 'array' },
    availability_zones: { filter: false, type: 'array' },
    ...STANDARD,
  },
};
