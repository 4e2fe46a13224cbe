import { ID, InvalidValue, OWNER, STANDARD, boolean, dict, listOf, string, uuid, type ResourceDef, type Validator } from './attributes.js';
import { fixedIps, hostRoutes } from './net-validators.js';

/** What external_gateway_info becomes after validation; null clears the gateway. */
export interface GatewayInfo {
  network_id: string;
  enable_snat?: boolean;
  external_fixed_ips?: Array<{ subnet_id?: string; ip_address?: string }>;
}

/** neutron-lib's dict_or_nodata for external_gateway_info: network_id required, unknown keys refused; {} clears, as null does. */
const gatewayInfo: Validator = (value) => {
  if (value === null) return null;
  const info = dict(value) as Record<string, unknown>;
  if (Object.keys(info).length === 0) return null;
  const unexpected = Object.keys(info).filter((k) => !['network_id', 'enable_snat', 'external_fixed_ips'].includes(k));
  if (unexpected.length) throw new InvalidValue(`Unexpected keys supplied: ${unexpected.join(', ')}`);
  if (!('network_id' in info)) throw new InvalidValue("Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: {}");
  const result: GatewayInfo = { network_id: uuid(info.network_id) as string };
  // enable_snat is a conversion: a bad value is InvalidInput, as in Neutron.
  if ('enable_snat' in info) result.enable_snat = boolean(info.enable_snat) as boolean;
  if ('external_fixed_ips' in info) result.external_fixed_ips = fixedIps(info.external_fixed_ips) as GatewayInfo['external_fixed_ips'];
  return result;
};

export const ROUTER: ResourceDef = {
  name: 'router',
  collection: 'routers',
  notFound: 'RouterNotFound',
  notFoundMessage: (id) => `Router ${id} could not be found.`,
  attributes: {
    ...ID,
    ...OWNER,
    name: { post: true, put: true, default: '', validate: string(255), sort: true, type: 'string' },
    admin_state_up: { post: true, put: true, default: true, validate: boolean, sort: true, type: 'boolean' },
    status: { sort: true, type: 'string' },
    external_gateway_info: { post: true, put: true, default: null, validate: gatewayInfo, filter: false, type: 'object' },
    // extraroute: set by update only; each update replaces the whole list.
    routes: { put: true, validate: hostRoutes, filter: false, type: 'array' },
    // dvr and l3-ha: admin-only, as Neutron's policy has them; undefined means "the configured default".
    distributed: { post: true, put: true, default: undefined, validate: boolean, adminOnly: true, type: 'boolean' },
    ha: { post: true, put: true, default: undefined, validate: boolean, adminOnly: true, type: 'boolean' },
    availability_zone_hints: { post: true, default: [], validate: listOf(string(255)), filter: false, type: 'array' },
    availability_zones: { filter: false, type: 'array' },
    ...STANDARD,
  },
};
