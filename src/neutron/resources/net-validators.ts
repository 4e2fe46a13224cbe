import { ApiError } from '../../http/errors.js';
import { canonicalIp, formatCidr, parseCidr, parseIp } from '../core/ip.js';
import { InvalidValue, isUuid, type Validator } from './attributes.js';

// Validators of the addressing attributes (subnets, subnet pools, ports), worded as
// neutron-lib's validators and converters word them. Values come back canonical: addresses
// as netaddr prints them, CIDRs as network/prefixlen, MACs as lowercase xx:xx:xx:xx:xx:xx.

/** A value as Python prints it (Neutron's messages show the request's dicts and lists that way). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true || value === false) return value ? 'True' : 'False';
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `'${k}': ${pyRepr(v)}`)
      .join(', ')}}`;
  return String(value);
}
const quote = (value: unknown) => (typeof value === 'string' ? value : pyRepr(value));
/** Neutron's converters raise InvalidInput ("Invalid input for operation: ..."), not the attribute's 400. */
export const invalidInput = (message: string) => new ApiError('InvalidInput', `Invalid input for operation: ${message}.`);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const V4_SHAPE = /^\d+\.\d+\.\d+\.\d+$/;

/** neutron-lib validate_ip_address: IPv4 only as a canonical dotted quad (no leading zeros). */
export const ipAddress: Validator = (value) => {
  if (typeof value !== 'string' || /\s/.test(value)) throw new InvalidValue(`'${quote(value)}' is not a valid IP address`);
  const canonical = canonicalIp(value);
  if (canonical === null) {
    // netaddr reads each octet in decimal with zero fill, so 1.2.3.04 is "recommended" as 1.2.3.4.
    const octets = V4_SHAPE.test(value) ? value.split('.').map(Number) : null;
    if (octets && octets.every((o) => o <= 255)) throw new InvalidValue(`'${value}' is not an accepted IP address, '${octets.join('.')}' is recommended`);
    throw new InvalidValue(`'${value}' is not a valid IP address`);
  }
  if (!value.includes(':') && canonical !== value) throw new InvalidValue(`'${value}' is not an accepted IP address, '${canonical}' is recommended`);
  return canonical;
};

export const values =
  <T>(allowed: readonly T[]): Validator =>
  (value) => {
    if (!allowed.includes(value as T)) throw new InvalidValue(`${quote(value)} is not in valid_values`);
    return value;
  };

/** convert_to_int then a range check, for integers Neutron accepts as text too. */
export function intFrom(allowed?: readonly number[]): Validator {
  return (value) => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n)) throw invalidInput(`'${quote(value)}' is not an integer`);
    return allowed ? values(allowed)(n) : n;
  };
}

export const nonNegative: Validator = (value) => {
  const n = intFrom()(value) as number;
  if (n < 0) throw new InvalidValue(`'${n}' should be non-negative`);
  return n;
};

/** convert_cidr_to_canonical_format: a bare address is a host route; host bits are dropped. */
export const subnetCidr: Validator = (value) => {
  const cidr = typeof value === 'string' && !/\s/.test(value) ? parseCidr(value) : null;
  if (!cidr) throw invalidInput(`${quote(value)} is not in a CIDR format`);
  return formatCidr(cidr);
};

/** validate_route_cidr: destinations must be written as networks. */
const routeCidr = (value: unknown): string => {
  const cidr = typeof value === 'string' && value.includes('/') ? parseCidr(value) : null;
  if (!cidr) throw new InvalidValue(`'${quote(value)}' is not a valid CIDR`);
  const canonical = formatCidr(cidr);
  const given = parseIp(String(value).split('/')[0]!);
  if (given && given.value !== cidr.network) throw new InvalidValue(`'${quote(value)}' is not a recognized CIDR, '${canonical}' is recommended`);
  return canonical;
};

function verifyKeys(item: unknown, keys: string[]): Record<string, unknown> {
  if (!isObject(item)) throw new InvalidValue(`Invalid input. '${quote(item)}' must be a dictionary with keys: [${keys.map((k) => `'${k}'`).join(', ')}]`);
  const provided = Object.keys(item);
  // Worded with Python's set syntax, as Neutron prints them.
  const set = (names: string[]) => `{${names.map((n) => `'${n}'`).join(', ')}}`;
  if (provided.length !== keys.length || !keys.every((k) => k in item)) {
    throw new InvalidValue(`Validation of dictionary's keys failed. Expected keys: ${set(keys)} Provided keys: ${set(provided)}`);
  }
  return item;
}

/** validate_ip_pools: [{start, end}] with valid addresses (order and bounds are the subnet's check). */
export const ipPools: Validator = (value) => {
  if (!Array.isArray(value)) throw new InvalidValue(`Invalid data format for IP pool: '${quote(value)}'`);
  return value.map((pool) => {
    const { start, end } = verifyKeys(pool, ['start', 'end']);
    return { start: ipAddress(start), end: ipAddress(end) };
  });
};

/** validate_nameservers: unique addresses; null means none. */
export const nameservers: Validator = (value) => {
  if (value === null) return [];
  // Neutron iterates whatever it is given, so a string is checked character by character.
  const list = typeof value === 'string' ? [...value] : value;
  if (!Array.isArray(list)) throw new InvalidValue(`Invalid data format for nameserver: '${quote(value)}'`);
  const seen: string[] = [];
  for (const host of list) {
    try {
      ipAddress(host);
    } catch (err) {
      throw new InvalidValue(`'${quote(host)}' is not a valid nameserver. ${(err as Error).message}`);
    }
    if (seen.includes(host as string)) throw new InvalidValue(`Duplicate nameserver '${host}'`);
    seen.push(host as string);
  }
  return list.map((host) => ipAddress(host));
};

/** validate_hostroutes: unique {destination, nexthop}; null means none. */
export const hostRoutes: Validator = (value) => {
  if (value === null) return [];
  if (!Array.isArray(value)) throw new InvalidValue(`Invalid data format for hostroute: '${quote(value)}'`);
  const routes: Array<{ destination: string; nexthop: string }> = [];
  for (const route of value) {
    const { destination, nexthop } = verifyKeys(route, ['nexthop', 'destination']);
    const parsed = { destination: routeCidr(destination), nexthop: ipAddress(nexthop) as string };
    if (routes.some((r) => r.destination === parsed.destination && r.nexthop === parsed.nexthop)) {
      throw new InvalidValue(`Duplicate hostroute '${pyRepr(route)}'`);
    }
    routes.push(parsed);
  }
  return routes;
};

/** validate_subnet_list: subnet pool prefixes. */
export const prefixList: Validator = (value) => {
  if (!Array.isArray(value)) throw new InvalidValue(`'${quote(value)}' is not a list`);
  return value.map((prefix) => {
    const cidr = typeof prefix === 'string' ? parseCidr(prefix) : null;
    if (!cidr || !String(prefix).includes('/')) throw new InvalidValue(`'${quote(prefix)}' is not a valid IP subnet`);
    return formatCidr(cidr);
  });
};

/** validate_fixed_ips: [{subnet_id?, ip_address?}] with no address twice. */
export const fixedIps: Validator = (value) => {
  if (!Array.isArray(value)) throw new InvalidValue(`Invalid data format for fixed IP: '${quote(value)}'`);
  const seen: string[] = [];
  return value.map((fixed) => {
    if (!isObject(fixed)) throw new InvalidValue(`Invalid data format for fixed IP: '${quote(fixed)}'`);
    // Other keys are ignored, as Neutron does.
    const result: { subnet_id?: string; ip_address?: string } = {};
    if ('ip_address' in fixed) {
      if (seen.includes(fixed.ip_address as string)) throw new InvalidValue(`Duplicate IP address '${fixed.ip_address}'`);
      result.ip_address = ipAddress(fixed.ip_address) as string;
      seen.push(fixed.ip_address as string);
    }
    if ('subnet_id' in fixed) {
      if (!isUuid(fixed.subnet_id)) throw new InvalidValue(`'${quote(fixed.subnet_id)}' is not a valid UUID`);
      result.subnet_id = fixed.subnet_id.toLowerCase();
    }
    return result;
  });
};

const INVALID_MACS = new Set(['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff']);

/** A MAC in any form netaddr reads (colons, dashes, bare, Cisco dots), as xx:xx:xx:xx:xx:xx; or null. */
export function sanitizeMac(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  let hex: string | null = null;
  const parts = value.split(/[:-]/);
  if (parts.length === 6 && parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p)) && !(value.includes(':') && value.includes('-'))) {
    hex = parts.map((p) => p.padStart(2, '0')).join('');
  } else if (/^[0-9a-fA-F]{12}$/.test(value)) hex = value;
  else if (/^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(value)) hex = value.replace(/\./g, '');
  if (hex === null) return null;
  const mac = hex.toLowerCase().match(/../g)!.join(':');
  return INVALID_MACS.has(mac) ? null : mac;
}

export const macAddress: Validator = (value) => {
  const mac = sanitizeMac(value);
  if (mac === null) throw new InvalidValue(`'${quote(value)}' is not a valid MAC address`);
  return mac;
};

const MAX_ADDRESS_PAIRS = 10;

/** _validate_allowed_address_pairs: each {ip_address (address or CIDR), mac_address?}, no repeats. */
export const allowedAddressPairs: Validator = (value) => {
  if (value === null) return [];
  if (!Array.isArray(value)) throw new ApiError('HTTPBadRequest', 'Allowed address pairs must be a list.');
  if (value.length > MAX_ADDRESS_PAIRS) {
    throw new ApiError('AllowedAddressPairExhausted', `The number of allowed address pair exceeds the maximum ${MAX_ADDRESS_PAIRS}.`);
  }
  const seen = new Set<string>();
  return value.map((pair) => {
    if (!isObject(pair)) throw new InvalidValue(`'${quote(pair)}' is not a dictionary`);
    const mac = 'mac_address' in pair ? sanitizeMac(pair.mac_address) : undefined;
    if (mac === null) throw new ApiError('HTTPBadRequest', `'${quote(pair.mac_address)}' is not a valid MAC address`);
    if (!('ip_address' in pair)) throw new ApiError('AllowedAddressPairsMissingIP', 'AllowedAddressPair must contain ip_address');
    const key = `${mac ?? ''}|${quote(pair.ip_address)}`;
    if (seen.has(key)) {
      throw new ApiError(
        'DuplicateAddressPairInRequest',
        `Request contains duplicate address pair: mac_address ${mac ?? 'None'} ip_address ${quote(pair.ip_address)}.`,
      );
    }
    seen.add(key);
    const unknown = Object.keys(pair).filter((k) => k !== 'mac_address' && k !== 'ip_address');
    if (unknown.length) throw new ApiError('HTTPBadRequest', `Unrecognized attribute(s) '${unknown.join(', ')}'`);
    const ip = pair.ip_address;
    let address: string;
    if (typeof ip === 'string' && ip.includes('/')) {
      const cidr = parseCidr(ip);
      if (!cidr) throw new ApiError('HTTPBadRequest', `'${ip}' is not a valid IP subnet`);
      address = `${canonicalIp(ip.split('/')[0]!)}/${cidr.prefixlen}`;
    } else {
      try {
        address = ipAddress(ip) as string;
      } catch (err) {
        throw new ApiError('HTTPBadRequest', (err as Error).message);
      }
    }
    return mac === undefined ? { ip_address: address } : { ip_address: address, mac_address: mac };
  });
};

const BLANK_DHCP_OPTS = ['router', 'classless-static-route'];

/** EXTRA_DHCP_OPT_KEY_SPECS: {opt_name, opt_value, ip_version?}; ip_version defaults to 4. */
export const extraDhcpOpts: Validator = (value) => {
  if (value === null) return [];
  if (!Array.isArray(value)) throw invalidInput(`'${quote(value)}' is not a list`);
  return value.map((opt) => {
    const fail = () => invalidInput(`No valid key specs matched for: ${quote(opt)}`);
    if (!isObject(opt) || !('opt_name' in opt) || !('opt_value' in opt)) throw fail();
    if (Object.keys(opt).some((k) => !['opt_name', 'opt_value', 'ip_version'].includes(k))) throw fail();
    const { opt_name: name, opt_value: val } = opt;
    const oneLine = (s: unknown, max: number) => typeof s === 'string' && s.trim() !== '' && s.length <= max && !/[\r\n]/.test(s);
    const blankOk = typeof name === 'string' && BLANK_DHCP_OPTS.includes(name);
    if (!oneLine(name, 64)) throw fail();
    if (!(val === null || oneLine(val, 255) || (blankOk && typeof val === 'string' && val.length <= 255))) throw fail();
    const version = 'ip_version' in opt ? Number(opt.ip_version) : 4;
    if (version !== 4 && version !== 6) throw fail();
    return { opt_name: name, opt_value: val, ip_version: version };
  });
};
