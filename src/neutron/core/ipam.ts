import { fromKey, parseIp, subtractRanges, toKey, type Range } from './ip.js';
import type { Executor } from './store.js';
import { insertUnlessTaken } from '../../db/index.js';

// IP address management over two tables. `ip_allocations` (key: network + address) is the
// ground truth of what is used; `ip_availability_ranges` holds each subnet's free ranges,
// so allocation takes the first address of the lowest range instead of searching, and
// stays as fast on a /8 or an IPv6 /64 as on a /28. Every change to a range is a
// compare-and-set on its (first, last): a server that loses the race reads again. A range
// that is stale (an address used behind its back) costs one retry, never a duplicate,
// because the allocation's own key decides.

const RANGES = 'ip_availability_ranges';
/** Compare-and-set attempts before giving up on a subnet that keeps changing under us. */
const MAX_RACES = 1000;

export interface IpamSubnet {
  id: string;
  network_id: string;
  allocation_pools: Array<{ start: string; end: string }>;
}

const value = (text: string) => parseIp(text)!.value;

interface RangeRow {
  first_ip: string;
  last_ip: string;
}

/** Changes a range only if it is still exactly as read; false when another server changed it first. */
async function casUpdate(db: Executor, subnetId: string, row: RangeRow, set: Partial<RangeRow>): Promise<boolean> {
  const result = await db
    .updateTable(RANGES)
    .set(set)
    .where('subnet_id', '=', subnetId)
    .where('first_ip', '=', row.first_ip)
    .where('last_ip', '=', row.last_ip)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

async function casDelete(db: Executor, subnetId: string, row: RangeRow): Promise<boolean> {
  const result = await db
    .deleteFrom(RANGES)
    .where('subnet_id', '=', subnetId)
    .where('first_ip', '=', row.first_ip)
    .where('last_ip', '=', row.last_ip)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The IPAM view of a subnet record. */
export const ipamSubnet = (s: Record<string, unknown>): IpamSubnet => ({
  id: String(s.id),
  network_id: String(s.network_id),
  allocation_pools: s.allocation_pools as IpamSubnet['allocation_pools'],
});

export function poolRanges(subnet: IpamSubnet): Range[] {
  return subnet.allocation_pools.map((p) => ({ first: value(p.start), last: value(p.end) })).sort((a, b) => (a.first < b.first ? -1 : 1));
}

export class Ipam {
  /** Rows for a subnet's free ranges, written when it is created or its pools change. */
  async setRanges(db: Executor, subnetId: string, ranges: Range[]): Promise<void> {
    await db.deleteFrom(RANGES).where('subnet_id', '=', subnetId).execute();
    if (ranges.length === 0) return;
    const rows = ranges.map((r) => ({ subnet_id: subnetId, first_ip: toKey(r.first), last_ip: toKey(r.last) }));
    for (let i = 0; i < rows.length; i += 500)
      await db
        .insertInto(RANGES)
        .values(rows.slice(i, i + 500))
        .execute();
  }

  /** Recomputes the free ranges after a change of pools, from the addresses in use. */
  async rebuild(db: Executor, subnet: IpamSubnet): Promise<void> {
    const used = await db.selectFrom('ip_allocations').select('ip_address').where('subnet_id', '=', subnet.id).execute();
    await this.setRanges(
      db,
      subnet.id,
      subtractRanges(
        poolRanges(subnet),
        used.map((u) => ({ first: value(String(u.ip_address)), last: value(String(u.ip_address)) })),
      ),
    );
  }

  private record(db: Executor, subnet: IpamSubnet, address: string, portId: string): Promise<boolean> {
    return insertUnlessTaken(db, 'ip_allocations', { network_id: subnet.network_id, ip_address: address, subnet_id: subnet.id, port_id: portId });
  }

  /** The lowest free address of the subnet's pools, now held by the port; null when none is left. */
  async allocateAny(db: Executor, subnet: IpamSubnet, portId: string, format: (v: bigint) => string): Promise<string | null> {
    for (let race = 0; race < MAX_RACES; race++) {
      const row = (await db
        .selectFrom(RANGES)
        .select(['first_ip', 'last_ip'])
        .where('subnet_id', '=', subnet.id)
        .orderBy('first_ip')
        .limit(1)
        .executeTakeFirst()) as RangeRow | undefined;
      if (!row) return null;
      const [first, last] = [fromKey(row.first_ip), fromKey(row.last_ip)];
      const taken = first === last ? await casDelete(db, subnet.id, row) : await casUpdate(db, subnet.id, row, { first_ip: toKey(first + 1n) });
      if (!taken) continue;
      const address = format(first);
      if (await this.record(db, subnet, address, portId)) return address;
      // Used without passing through the ranges (a stale range): it is out of them now; go on.
    }
    throw new Error(`IP allocation on subnet ${subnet.id} kept losing races`);
  }

  /**
   * A requested address: taken out of the free range that holds it, if any (an address
   * inside the cidr but outside the pools is allowed too, as in Neutron). False when the
   * address is already in use on the network.
   */
  async allocateSpecific(db: Executor, subnet: IpamSubnet, address: string, portId: string): Promise<boolean> {
    const v = value(address);
    const key = toKey(v);
    for (let race = 0; race < MAX_RACES; race++) {
      const row = await this.rangeAt(db, subnet.id, '<=', key);
      if (!row || fromKey(row.last_ip) < v) break;
      const [first, last] = [fromKey(row.first_ip), fromKey(row.last_ip)];
      let taken: boolean;
      if (first === last) taken = await casDelete(db, subnet.id, row);
      else if (v === first) taken = await casUpdate(db, subnet.id, row, { first_ip: toKey(v + 1n) });
      else taken = await casUpdate(db, subnet.id, row, { last_ip: toKey(v - 1n) });
      if (!taken) continue;
      // The upper part of a split range; nobody else can hold it while we hold the lower part's row.
      if (v !== first && v !== last)
        await db
          .insertInto(RANGES)
          .values({ subnet_id: subnet.id, first_ip: toKey(v + 1n), last_ip: toKey(last) })
          .execute();
      break;
    }
    return this.record(db, subnet, address, portId);
  }

  /** Records an address computed elsewhere (IPv6 EUI-64); false when it is in use. */
  allocateComputed(db: Executor, subnet: IpamSubnet, address: string, portId: string): Promise<boolean> {
    return this.record(db, subnet, address, portId);
  }

  /**
   * Gives addresses back: the allocation row goes, and an address inside the pools joins
   * the free range that ends just below or starts just above it, or becomes a range of
   * its own. (Both neighbours are not joined into one: that would take two compare-and-sets.)
   */
  async release(db: Executor, subnet: IpamSubnet, address: string, reuse = true): Promise<void> {
    await db.deleteFrom('ip_allocations').where('network_id', '=', subnet.network_id).where('ip_address', '=', address).execute();
    const v = value(address);
    if (!reuse || !poolRanges(subnet).some((p) => p.first <= v && v <= p.last)) return;
    for (let race = 0; race < MAX_RACES; race++) {
      const above = await this.rangeAt(db, subnet.id, '=', toKey(v + 1n));
      if (above) {
        if (await casUpdate(db, subnet.id, above, { first_ip: toKey(v) })) return;
        continue;
      }
      const below = await this.rangeAt(db, subnet.id, '<', toKey(v));
      if (below && fromKey(below.last_ip) >= v) return; // already free
      if (below && fromKey(below.last_ip) === v - 1n) {
        if (await casUpdate(db, subnet.id, below, { last_ip: toKey(v) })) return;
        continue;
      }
      // A lost race here means the address is free already.
      await insertUnlessTaken(db, RANGES, { subnet_id: subnet.id, first_ip: toKey(v), last_ip: toKey(v) });
      return;
    }
  }

  /** The range starting at `key` ('='), or the nearest one starting below it ('<', '<='). */
  private rangeAt(db: Executor, subnetId: string, op: '=' | '<' | '<=', key: string): Promise<RangeRow | undefined> {
    return db
      .selectFrom(RANGES)
      .select(['first_ip', 'last_ip'])
      .where('subnet_id', '=', subnetId)
      .where('first_ip', op, key)
      .orderBy('first_ip', 'desc')
      .limit(1)
      .executeTakeFirst() as Promise<RangeRow | undefined>;
  }
}
