import { ApiError } from '../../http/errors.js';
import { ID, OWNER, STANDARD, boolean, oneOf, orNull, string, type ResourceDef, type Validator } from './attributes.js';
import { parsePrefix } from './ip-prefix.js';

// Security groups and their rules (the security-group and stateful-security-group
// extensions). Their converters raise Neutron's own exception types, as its convert_to
// functions do, rather than the generic "Invalid input for <attr>".

/** Protocol names Neutron accepts (IP_PROTOCOL_MAP, in its order) and their numbers. */
export const PROTOCOLS: ReadonlyMap<string, number> = new Map([
  ['ah', 51],
  ['dccp', 33],
  ['egp', 8],
  ['esp', 50],
  ['gre', 47],
  ['hopopt', 0],
  ['icmp', 1],
  ['igmp', 2],
  ['ip', 0],
  ['ipip', 4],
  ['ipv6-encap', 41],
  ['ipv6-frag', 44],
  ['ipv6-icmp', 58],
  ['icmpv6', 58],
  ['ipv6-nonxt', 59],
  ['ipv6-opts', 60],
  ['ipv6-route', 43],
  ['ospf', 89],
  ['pgm', 113],
  ['rsvp', 46],
  ['sctp', 132],
  ['tcp', 6],
  ['udp', 17],
  ['udplite', 136],
  ['vrrp', 112],
]);

const PROTOCOL_LIST = `[None, ${[...PROTOCOLS.keys()].map((p) => `'${p}'`).join(', ')}]`;
const ETHERTYPES = ['IPv4', 'IPv6'] as const;
const show = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** convert_protocol: a known name (any case) or a number 0-255, kept as text; null for any protocol. */
const protocol: Validator = (value) => {
  if (value === null) return null;
  const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : typeof value === 'string' ? value : null;
  if (text !== null && /^\d+$/.test(text) && Number(text) <= 255) return text;
  if (text !== null && PROTOCOLS.has(text.toLowerCase())) return text.toLowerCase();
  throw new ApiError(
    'SecurityGroupRuleInvalidProtocol',
    `Security group rule protocol ${show(value)} not supported. Only protocol values ${PROTOCOL_LIST} and integer representations [0 to 255] are supported.`,
  );
};

/** convert_ethertype_to_case_insensitive. */
const ethertype: Validator = (value) => {
  const match = typeof value === 'string' ? ETHERTYPES.find((e) => e.toLowerCase() === value.toLowerCase()) : undefined;
  if (!match) {
    throw new ApiError(
      'SecurityGroupRuleInvalidEtherType',
      `Security group rule for ethertype '${show(value)}' not supported. Allowed values are ['IPv4', 'IPv6'].`,
    );
  }
  return match;
};

/** convert_validate_port_value: 0-65535 as a number or integer text. */
const port: Validator = (value) => {
  if (value === null) return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ApiError('SecurityGroupInvalidPortValue', `Invalid value for port ${show(value)}`);
  return n;
};

/** convert_ip_prefix_to_cidr: netaddr's spelling of the prefix; empty means none. */
const ipPrefix: Validator = (value) => {
  if (value === null || value === '') return null;
  const prefix = typeof value === 'string' ? parsePrefix(value) : null;
  if (!prefix) throw new ApiError('InvalidCIDR', `Invalid CIDR ${show(value)} given as IP prefix.`);
  return prefix.text;
};

/** A group's name: any string but "default" in any case, which only the default group may carry. */
const nameNotDefault: Validator = (value) => {
  const name = string(255)(value) as string;
  if (name.toLowerCase() === 'default') throw new ApiError('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
  return name;
};

/** Filters go through Neutron's converters but not its validators: these compare as given. */
const asText = (text: string) => text;

/** An id given as text; an empty one means none (Neutron treats it so). */
const optionalId: Validator = (value) => (value === '' ? null : orNull(string(36))(value));

export const SECURITY_GROUP: ResourceDef = {
  name: 'security_group',
  collection: 'security_groups',
  path: 'security-groups',
  notFound: 'SecurityGroupNotFound',
  notFoundMessage: (id) => `Security group ${id} does not exist`,
  attributes: {
    ...ID,
    name: { post: true, put: true, default: '', validate: nameNotDefault, parseFilter: asText, sort: true, type: 'string' },
    ...OWNER,
    stateful: { post: true, put: true, default: true, validate: boolean, filter: false, type: 'boolean' },
    security_group_rules: { filter: false, type: 'array' },
    ...STANDARD,
  },
};

// Attributes in Neutron's order, which is the order their conversions fail in.
export const SECURITY_GROUP_RULE: ResourceDef = {
  name: 'security_group_rule',
  collection: 'security_group_rules',
  path: 'security-group-rules',
  notFound: 'SecurityGroupRuleNotFound',
  notFoundMessage: (id) => `Security group rule ${id} does not exist`,
  attributes: {
    ...ID,
    security_group_id: { post: true, validate: string(36), sort: true, type: 'string' },
    remote_group_id: { post: true, default: null, validate: optionalId, parseFilter: asText, sort: true, type: 'string' },
    direction: { post: true, validate: oneOf(['ingress', 'egress']), parseFilter: asText, sort: true, type: 'string' },
    protocol: { post: true, default: null, validate: protocol, sort: true, type: 'string' },
    port_range_min: { post: true, default: null, validate: port, sort: true, type: 'integer' },
    port_range_max: { post: true, default: null, validate: port, sort: true, type: 'integer' },
    ethertype: { post: true, default: 'IPv4', validate: ethertype, sort: true, type: 'string' },
    remote_ip_prefix: { post: true, default: null, validate: ipPrefix, sort: true, type: 'string' },
    ...OWNER,
    ...STANDARD,
    normalized_cidr: { sort: true, parseFilter: asText, type: 'string' },
  },
};
