import { ID, InvalidValue, OWNER, STANDARD, boolean, dict, isUuid, orNull, string, uuid, type ResourceDef, type Validator } from './attributes.js';
import { allowedAddressPairs, extraDhcpOpts, fixedIps, invalidInput, macAddress, pyRepr, sanitizeMac, values } from './net-validators.js';

export const VNIC_TYPES = [
  'normal',
  'direct',
  'macvtap',
  'baremetal',
  'direct-physical',
  'virtio-forwarder',
  'smart-nic',
  'vdpa',
  'accelerator-direct',
  'accelerator-direct-physical',
  'remote-managed',
] as const;

/** validate_uuid_list after convert_none_to_empty_list. */
const uuidList: Validator = (value) => {
  if (value === null) return [];
  const text = (v: unknown) => (typeof v === 'string' ? v : pyRepr(v));
  if (!Array.isArray(value)) throw new InvalidValue(`'${text(value)}' is not a list`);
  for (const item of value) if (!isUuid(item)) throw new InvalidValue(`'${text(item)}' is not a valid UUID`);
  const lower = value.map((v: string) => v.toLowerCase());
  const dup = lower.find((v, i) => lower.indexOf(v) !== i);
  if (dup) throw new InvalidValue(`Duplicate items in the list: '${dup}'`);
  return lower;
};

/** ?fixed_ips=ip_address=10.0.0.5, ?fixed_ips=subnet_id=<uuid>, ?fixed_ips=ip_address_substr=10.0. */
export function parseFixedIpFilter(text: string): { key: string; value: string } {
  const eq = text.indexOf('=');
  if (eq < 0) throw invalidInput(`'${text}' is not of the form <key>=[value]`);
  return { key: text.slice(0, eq), value: text.slice(eq + 1) };
}

export const PORT: ResourceDef = {
  name: 'port',
  collection: 'ports',
  notFound: 'PortNotFound',
  notFoundMessage: (id) => `Port ${id} could not be found.`,
  attributes: {
    ...ID,
    ...OWNER,
    name: { post: true, put: true, default: '', validate: string(255), sort: true },
    network_id: { post: true, validate: uuid, sort: true },
    admin_state_up: { post: true, put: true, default: true, validate: boolean, sort: true },
    mac_address: { post: true, put: true, default: undefined, validate: macAddress, parseFilter: (t) => sanitizeMac(t) ?? t, sort: true },
    fixed_ips: { post: true, put: true, default: undefined, validate: fixedIps, parseFilter: parseFixedIpFilter },
    device_id: { post: true, put: true, default: '', validate: string(255), sort: true },
    device_owner: { post: true, put: true, default: '', validate: string(255), sort: true },
    status: { sort: true },
    security_groups: { post: true, put: true, default: undefined, validate: uuidList, parseFilter: (t) => uuid(t) },
    port_security_enabled: { post: true, put: true, default: undefined, validate: boolean },
    allowed_address_pairs: { post: true, put: true, default: undefined, validate: allowedAddressPairs, filter: false },
    extra_dhcp_opts: { post: true, put: true, default: undefined, validate: extraDhcpOpts, filter: false },
    'binding:host_id': { post: true, put: true, default: undefined, validate: string(255), adminOnly: true },
    'binding:vnic_type': { post: true, put: true, default: 'normal', validate: values(VNIC_TYPES) },
    'binding:profile': { post: true, put: true, default: undefined, validate: orNull(dict), adminOnly: true, filter: false },
    'binding:vif_type': { adminOnly: true },
    'binding:vif_details': { adminOnly: true, filter: false },
    ...STANDARD,
  },
};
