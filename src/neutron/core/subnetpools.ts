import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { invalidInput } from '../resources/net-validators.js';
import { SUBNETPOOL } from '../resources/subnetpool.js';
import type { CoreDeps } from './deps.js';
import { BITS, cidrLast, formatCidr, parseCidr, rangeToCidrs, subtractRanges, type Cidr, type IpVersion, type Range } from './ip.js';
import type { ListQuery, Page, Resource, ResourceOperations } from './plugin.js';
import {
  STANDARD_COLUMNS,
  bool,
  fromRow,
  int,
  json,
  findVisible,
  listRows,
  loadInOrder,
  nowIso,
  toRow,
  type Executor,
  type Query,
  type TableSpec,
} from './store.js';
import { loadTags } from './tags.js';
import { writeTransaction } from '../../db/index.js';

// Subnet pools and the allocation of subnets from them. The next free prefix is chosen as
// Neutron does (the smallest free block that fits, lowest first) from the pool's prefixes
// minus the subnets already taken from it. Concurrent allocations from one pool serialize
// on the pool's row: the allocating transaction writes it first, so a second server waits
// for the first to commit and then sees its subnet.

export const SUBNETPOOLS: TableSpec = {
  table: 'subnetpools',
  tagType: 'subnetpools',
  columns: {
    ...STANDARD_COLUMNS,
    ip_version: int('ip_version'),
    prefixes: json('prefixes'),
    default_prefixlen: int('default_prefixlen'),
    min_prefixlen: int('min_prefixlen'),
    max_prefixlen: int('max_prefixlen'),
    shared: bool('shared'),
    is_default: bool('is_default'),
    default_quota: int('default_quota', -1),
  },
};

const DEFAULT_MIN_PREFIXLEN: Record<IpVersion, number> = { 4: 8, 6: 64 };
/** default_quota counts addresses in units of a /32 (IPv4) or a /64 (IPv6). */
const QUOTA_UNIT: Record<IpVersion, number> = { 4: 32, 6: 64 };

export const subnetpoolNotFound = (id: string) => new ApiError('SubnetPoolNotFound', SUBNETPOOL.notFoundMessage(id));
const forbidden = (rule: string) => new ApiError('PolicyNotAuthorized', `(rule:${rule}) is disallowed by policy`);

export const visiblePools =
  (ctx: RequestContext) =>
  (q: Query): Query =>
    ctx.isAdmin ? q : q.where((eb) => eb.or([eb('subnetpools.project_id', '=', ctx.projectId), eb('subnetpools.shared', '=', 1)]));

const toRange = (c: Cidr): Range => ({ first: c.network, last: cidrLast(c) });
const sortRanges = (ranges: Range[]) => ranges.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));

/** Prefixes merged where they overlap or touch, as the fewest CIDRs (netaddr IPSet.compact). */
export function compactPrefixes(cidrs: Cidr[]): Cidr[] {
  const merged: Range[] = [];
  for (const r of sortRanges(cidrs.map(toRange))) {
    const last = merged[merged.length - 1];
    if (last && r.first <= last.last + 1n) last.last = r.last > last.last ? r.last : last.last;
    else merged.push({ ...r });
  }
  return merged.flatMap((r) => rangeToCidrs(cidrs[0]!.version, r));
}

/** SubnetPoolReader: ip_version from the prefixes, bounds defaulted and checked. */
function readPool(pool: Resource): Resource {
  const prefixes = (pool.prefixes as string[]).map((p) => parseCidr(p)!);
  if (prefixes.length === 0) throw new ApiError('EmptySubnetPoolPrefixList', 'Empty subnet pool prefix list.');
  const version = prefixes[0]!.version;
  if (prefixes.some((p) => p.version !== version)) throw new ApiError('PrefixVersionMismatch', 'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.');
  const min = (pool.min_prefixlen ?? DEFAULT_MIN_PREFIXLEN[version]) as number;
  const max = (pool.max_prefixlen ?? BITS[version]) as number;
  const def = (pool.default_prefixlen ?? min) as number;
  const bounds = (type: string, len: number, base: string, baseLen: number) =>
    new ApiError('IllegalSubnetPoolPrefixBounds', `Illegal prefix bounds: ${type}=${len}, ${base}=${baseLen}.`);
  if (min > max) throw bounds('min_prefixlen', min, 'max_prefixlen', max);
  if (max > BITS[version]) throw bounds('max_prefixlen', max, 'ip_version_max', BITS[version]);
  if (def < min) throw bounds('default_prefixlen', def, 'min_prefixlen', min);
  if (def > max) throw bounds('default_prefixlen', def, 'max_prefixlen', max);
  return {
    ...pool,
    ip_version: version,
    prefixes: compactPrefixes(prefixes).map(formatCidr),
    min_prefixlen: min,
    max_prefixlen: max,
    default_prefixlen: def,
  };
}

export class SubnetPoolOperations implements ResourceOperations {
  constructor(private readonly deps: CoreDeps) {}

  async load(db: Executor, rows: Record<string, unknown>[]): Promise<Resource[]> {
    if (rows.length === 0) return [];
    const tags = await loadTags(
      db,
      'subnetpools',
      rows.map((r) => String(r.id)),
    );
    return rows.map((row) => ({ ...fromRow(SUBNETPOOLS, row), tags: tags.get(String(row.id)) ?? [] }));
  }

  async list(ctx: RequestContext, query: ListQuery): Promise<Page> {
    const { rows, more } = await listRows(this.deps.db, SUBNETPOOLS, query, visiblePools(ctx));
    return { items: await this.load(this.deps.db, rows), more };
  }

  async find(db: Executor, ctx: RequestContext, id: string): Promise<Resource> {
    return findVisible(db, 'subnetpools', visiblePools(ctx), id, subnetpoolNotFound, (d, rows) => this.load(d, rows));
  }

  get(ctx: RequestContext, id: string): Promise<Resource> {
    return this.find(this.deps.db, ctx, id);
  }

  /** The default pool of an IP version (default-subnetpools), if one is set. */
  async defaultPool(db: Executor, version: number): Promise<Resource | undefined> {
    const row = await db.selectFrom('subnetpools').selectAll().where('is_default', '=', 1).where('ip_version', '=', version).executeTakeFirst();
    return row && fromRow(SUBNETPOOLS, row);
  }

  private async checkDefault(db: Executor, pool: Resource, exceptId?: string): Promise<void> {
    if (!pool.is_default) return;
    const existing = await this.defaultPool(db, pool.ip_version as number);
    if (existing && existing.id !== exceptId) {
      throw invalidInput('A default subnetpool for this IP family has already been set. Only one default may exist per IP family');
    }
  }

  async create(ctx: RequestContext, items: Resource[]): Promise<Resource[]> {
    return writeTransaction(this.deps.db, async (tx) => {
      const ids: string[] = [];
      for (const item of items) {
        if (item.shared && !ctx.isAdmin) throw forbidden('create_subnetpool:shared');
        if (item.is_default && !ctx.isAdmin) throw forbidden('create_subnetpool:is_default');
        const pool = readPool(item);
        await this.checkDefault(tx, pool);
        const now = nowIso();
        const id = randomUUID();
        await tx
          .insertInto('subnetpools')
          .values(toRow(SUBNETPOOLS, { ...pool, id, created_at: now, updated_at: now, revision_number: 0 }))
          .execute();
        ids.push(id);
      }
      await this.deps.quotas.check(
        tx,
        items.map((i) => String(i.project_id)),
        'subnetpool',
      );
      return loadInOrder(tx, 'subnetpools', ids, (d, rows) => this.load(d, rows));
    });
  }

  async update(ctx: RequestContext, id: string, changes: Resource): Promise<Resource> {
    return writeTransaction(this.deps.db, async (tx) => {
      await this.lock(tx, id);
      const current = await this.find(tx, ctx, id);
      if (!ctx.isAdmin && current.project_id !== ctx.projectId) throw forbidden('update_subnetpool');
      if (Object.keys(changes).length === 0) return current;
      if ('is_default' in changes && changes.is_default !== current.is_default && !ctx.isAdmin) throw forbidden('update_subnetpool:is_default');
      if (changes.prefixes) {
        const next = (changes.prefixes as string[]).map((p) => parseCidr(p)!);
        const old = sortRanges((current.prefixes as string[]).map((p) => toRange(parseCidr(p)!)));
        if (next.some((p) => p.version !== current.ip_version) || subtractRanges(old, sortRanges(next.map(toRange))).length) {
          throw new ApiError('IllegalSubnetPoolPrefixUpdate', 'Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.');
        }
      }
      const pool = readPool({ ...current, ...changes });
      await this.checkDefault(tx, pool, id);
      const { ip_version: _v, ...stored } = pool;
      const changed = Object.fromEntries(Object.entries(stored).filter(([k]) => k in changes || k === 'prefixes'));
      await tx
        .updateTable('subnetpools')
        .set((eb) => ({ ...toRow(SUBNETPOOLS, changed), updated_at: nowIso(), revision_number: eb('revision_number', '+', 1) }))
        .where('id', '=', id)
        .execute();
      return this.find(tx, ctx, id);
    });
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    await writeTransaction(this.deps.db, async (tx) => {
      await this.lock(tx, id);
      const current = await this.find(tx, ctx, id);
      if (!ctx.isAdmin && current.project_id !== ctx.projectId) throw forbidden('delete_subnetpool');
      const used = await tx.selectFrom('subnets').select('id').where('subnetpool_id', '=', id).limit(1).execute();
      if (used.length) throw new ApiError('SubnetPoolDeleteError', 'Unable to delete subnet pool: Subnet pool has existing allocations.');
      await tx.deleteFrom('subnetpools').where('id', '=', id).execute();
      await tx.deleteFrom('tags').where('resource_type', '=', 'subnetpools').where('resource_id', '=', id).execute();
    });
  }

  /** Takes the pool's row lock for the rest of the transaction (a write that changes nothing). */
  async lock(tx: Executor, id: string): Promise<boolean> {
    const result = await tx
      .updateTable('subnetpools')
      .set((eb) => ({ revision_number: eb.ref('revision_number') }))
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * A subnet's cidr from the pool, inside the caller's transaction after `lock`: `cidr` when
   * it is free in the pool, else the next free prefix of `prefixlen` (default: the pool's).
   */
  async allocate(tx: Executor, pool: Resource, projectId: string, cidr: Cidr | null, prefixlen: number | undefined): Promise<Cidr> {
    const version = pool.ip_version as IpVersion;
    const length = cidr ? cidr.prefixlen : (prefixlen ?? (pool.default_prefixlen as number));
    if (length > (pool.max_prefixlen as number)) {
      throw new ApiError(
        'MaxPrefixSubnetAllocationError',
        `Unable to allocate subnet with prefix length ${length}, maximum allowed prefix is ${pool.max_prefixlen}.`,
      );
    }
    if (length < (pool.min_prefixlen as number)) {
      throw new ApiError(
        'MinPrefixSubnetAllocationError',
        `Unable to allocate subnet with prefix length ${length}, minimum allowed prefix is ${pool.min_prefixlen}.`,
      );
    }
    const taken = await tx.selectFrom('subnets').select(['cidr', 'project_id']).where('subnetpool_id', '=', pool.id).execute();
    if (pool.default_quota !== null && pool.default_quota !== undefined) {
      const unit = QUOTA_UNIT[version];
      const units = (len: number) => 2 ** (unit - len);
      const used = taken.filter((t) => t.project_id === projectId).reduce((sum, t) => sum + units(parseCidr(String(t.cidr))!.prefixlen), 0);
      if (used + units(length) > (pool.default_quota as number)) throw new ApiError('SubnetPoolQuotaExceeded', 'Per-tenant subnet pool prefix quota exceeded.');
    }
    const prefixes = sortRanges((pool.prefixes as string[]).map((p) => toRange(parseCidr(p)!)));
    const free = subtractRanges(prefixes, sortRanges(taken.map((t) => toRange(parseCidr(String(t.cidr))!))));
    if (cidr) {
      const wanted = toRange(cidr);
      if (free.some((r) => r.first <= wanted.first && wanted.last <= r.last)) return cidr;
      throw new ApiError('SubnetAllocationError', 'Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.');
    }
    // Best fit: the smallest free block that holds the prefix, the lowest of those.
    const blocks = free.flatMap((r) => rangeToCidrs(version, r)).filter((b) => b.prefixlen <= length);
    const best = blocks.sort((a, b) => b.prefixlen - a.prefixlen || (a.network < b.network ? -1 : 1))[0];
    if (!best) throw new ApiError('SubnetAllocationError', `Failed to allocate subnet: Insufficient prefix space to allocate subnet size /${length}.`);
    return { version, network: best.network, prefixlen: length };
  }
}
