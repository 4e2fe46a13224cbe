// IP address arithmetic on BigInt, for both families: parsing as strictly as Neutron's
// validators do, printing in netaddr's canonical form, CIDRs, ranges, EUI-64 and the
// fixed-width hex keys that make addresses sort numerically as text. No dependency: the
// few operations IPAM needs are smaller than any library's surface, and exact control of
// the canonical text matters because addresses are compared and stored as text.

export type IpVersion = 4 | 6;

export interface Ip {
  version: IpVersion;
  value: bigint;
}

export interface Cidr {
  version: IpVersion;
  /** The network address (host bits zero). */
  network: bigint;
  prefixlen: number;
}

export const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(text: string): bigint | null {
  const m = V4.exec(text);
  if (!m) return null;
  let value = 0n;
  for (const part of m.slice(1)) {
    const n = Number(part);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6(text: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  let head = text;
  let tail4: bigint | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tail4 = parseV4(text.slice(lastColon + 1));
    if (tail4 === null) return null;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const words = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  let value = 0n;
  for (const word of words) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(word)) return null;
    value = (value << 16n) | BigInt(parseInt(word, 16));
  }
  if (tail4 !== null) value = (value & ~0xffffffffn) | tail4;
  return value;
}

/** Any address text Neutron would read (IPv4 dotted quad, IPv6 in any RFC 4291 form), or null. */
export function parseIp(text: string): Ip | null {
  if (typeof text !== 'string' || text.length > 45) return null;
  if (text.includes(':')) {
    const value = parseV6(text);
    return value === null ? null : { version: 6, value };
  }
  const value = parseV4(text);
  return value === null ? null : { version: 4, value };
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** RFC 5952 text as netaddr (inet_ntop) prints it: lowercase, the longest zero run (2+ words) as ::. */
function formatV6(value: bigint): string {
  const words = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { start: i, len: j - i };
    i = j;
  }
  if (best.len < 2) best = { start: -1, len: 0 };
  // IPv4-compatible and IPv4-mapped addresses keep their dotted tail, as inet_ntop prints them.
  if (best.start === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
    return `::${best.len === 5 ? 'ffff:' : ''}${formatV4(value & 0xffffffffn)}`;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.len).join(':')}`;
}

export function formatIp(version: IpVersion, value: bigint): string {
  return version === 4 ? formatV4(value) : formatV6(value);
}

/** The canonical text of an address, or null when it is not one. */
export function canonicalIp(text: string): string | null {
  const ip = parseIp(text);
  return ip && formatIp(ip.version, ip.value);
}

const mask = (version: IpVersion, prefixlen: number) => ((1n << BigInt(BITS[version])) - 1n) ^ ((1n << BigInt(BITS[version] - prefixlen)) - 1n);

/** `a.b.c.d/n` or `x::/n` (host bits allowed, dropped); a bare address is a host route. */
export function parseCidr(text: string): Cidr | null {
  if (typeof text !== 'string') return null;
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return null;
  let prefixlen = BITS[ip.version];
  if (slash >= 0) {
    const len = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len) || Number(len) > BITS[ip.version]) return null;
    prefixlen = Number(len);
  }
  return { version: ip.version, network: ip.value & mask(ip.version, prefixlen), prefixlen };
}

export const formatCidr = (c: Cidr) => `${formatIp(c.version, c.network)}/${c.prefixlen}`;
export const cidrSize = (c: Cidr) => 1n << BigInt(BITS[c.version] - c.prefixlen);
export const cidrLast = (c: Cidr) => c.network + cidrSize(c) - 1n;
export const cidrContains = (c: Cidr, ip: Ip) => ip.version === c.version && ip.value >= c.network && ip.value <= cidrLast(c);
export const cidrsOverlap = (a: Cidr, b: Cidr) => a.version === b.version && a.network <= cidrLast(b) && b.network <= cidrLast(a);

/** Fixed-width (32 hex digits) text of an address: sorts as the numbers do, for both families. */
export const toKey = (value: bigint) => value.toString(16).padStart(32, '0');
export const fromKey = (key: string) => BigInt(`0x${key}`);

export interface Range {
  first: bigint;
  last: bigint;
}

const byFirst = (a: Range, b: Range) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0);

/** Ranges minus ranges (each list disjoint within itself), sorted, in one sweep over both. */
export function subtractRanges(from: Range[], minus: Range[]): Range[] {
  const cuts = [...minus].sort(byFirst);
  const result: Range[] = [];
  let j = 0;
  for (const range of [...from].sort(byFirst)) {
    while (j < cuts.length && cuts[j]!.last < range.first) j++;
    let start = range.first;
    // A cut may reach into the next range too, so the next range starts from j again.
    for (let k = j; k < cuts.length && cuts[k]!.first <= range.last; k++) {
      if (cuts[k]!.first > start) result.push({ first: start, last: cuts[k]!.first - 1n });
      if (cuts[k]!.last >= start) start = cuts[k]!.last + 1n;
    }
    if (start <= range.last) result.push({ first: start, last: range.last });
  }
  return result;
}

/** The fewest CIDRs covering exactly a range, lowest first (netaddr's iter_cidrs). */
export function rangeToCidrs(version: IpVersion, range: Range): Cidr[] {
  const cidrs: Cidr[] = [];
  let start = range.first;
  while (start <= range.last) {
    let hostBits = 0;
    while (hostBits < BITS[version]) {
      const size = 1n << BigInt(hostBits + 1);
      if (start % size !== 0n || start + size - 1n > range.last) break;
      hostBits++;
    }
    cidrs.push({ version, network: start, prefixlen: BITS[version] - hostBits });
    start += 1n << BigInt(hostBits);
  }
  return cidrs;
}

/** Modified EUI-64 address of a MAC in a /64 (RFC 4291 appendix A), as SLAAC computes it. */
export function eui64(prefix: Cidr, mac: string): bigint {
  const bytes = mac.split(':').map((b) => parseInt(b, 16));
  const iid = [bytes[0]! ^ 0x02, bytes[1]!, bytes[2]!, 0xff, 0xfe, bytes[3]!, bytes[4]!, bytes[5]!];
  return prefix.network | iid.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** Whether an IPv6 address carries an EUI-64 interface id (ff:fe in its middle). */
export const isEui64 = (ip: Ip) => ip.version === 6 && ((ip.value >> 24n) & 0xffffn) === 0xfffen;
