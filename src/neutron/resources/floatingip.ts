import { ID, OWNER, STANDARD, orNull, uuid, type ResourceDef } from './attributes.js';
import { ipAddress } from './net-validators.js';

const { description, tags, created_at, updated_at, revision_number } = STANDARD;

export const FLOATINGIP: ResourceDef = {
  name: 'floatingip',
  collection: 'floatingips',
  notFound: 'FloatingIPNotFound',
  notFoundMessage: (id) => `Floating IP ${id} could not be found`,
  attributes: {
    ...ID,
    ...OWNER,
    floating_ip_address: { post: true, default: null, validate: orNull(ipAddress), sort: true, type: 'string' },
    // Input only: the external subnet to take the address from.
    subnet_id: { post: true, default: null, validate: orNull(uuid), visible: false, filter: false, type: 'string' },
    floating_network_id: { post: true, validate: uuid, sort: true, type: 'string' },
    router_id: { sort: true, type: 'string' },
    port_id: { post: true, put: true, default: null, validate: orNull(uuid), type: 'string' },
    fixed_ip_address: { post: true, put: true, default: null, validate: orNull(ipAddress), sort: true, type: 'string' },
    status: { sort: true, type: 'string' },
    // fip-port-details: a few attributes of the associated port.
    port_details: { filter: false, type: 'object' },
    description,
    tags,
    created_at,
    updated_at,
    revision_number,
  },
};
