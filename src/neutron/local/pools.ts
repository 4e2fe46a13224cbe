import { formatIp, parseIp, subtractRanges, type IpVersion, type Range } from '../core/ip.js';

export interface Pool {
  start: string;
  end: string;
}

/**
 * The allocation pools of a region's copy of a subnet (reference §3.13): the region's own
 * gateway is taken out of the central pools, and the central gateway, free in this region,
 * goes back in (merged into a pool it touches, else a pool of its own). A subnet without a
 * central gateway keeps its pools.
 */
export function regionPools(centralPools: Pool[], centralGateway: string | null, regionGateway: string): Pool[] {
  if (centralGateway === null) return centralPools;
  const top = parseIp(centralGateway)!;
  const bottom = parseIp(regionGateway)!;
  const version = top.version as IpVersion;
  let ranges: Range[] = centralPools.map((p) => ({ first: parseIp(p.start)!.value, last: parseIp(p.end)!.value }));
  ranges = subtractRanges(ranges, [{ first: bottom.value, last: bottom.value }]);
  if (bottom.value !== top.value && !ranges.some((r) => r.first <= top.value && top.value <= r.last)) {
    const before = ranges.find((r) => r.last + 1n === top.value);
    const after = ranges.find((r) => r.first - 1n === top.value);
    if (before && after) {
      before.last = after.last;
      ranges = ranges.filter((r) => r !== after);
    } else if (before) before.last = top.value;
    else if (after) after.first = top.value;
    else ranges.push({ first: top.value, last: top.value });
  }
  return ranges.sort((a, b) => (a.first < b.first ? -1 : 1)).map((r) => ({ start: formatIp(version, r.first), end: formatIp(version, r.last) }));
}
