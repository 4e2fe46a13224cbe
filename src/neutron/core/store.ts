import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type SelectQueryBuilder, type Transaction } from 'kysely';
import { isUniqueViolation } from '../../db/index.js';
import type { ListQuery, Resource } from './plugin.js';

// Rows of the Neutron tables as API records and back, and the one list query every resource
// uses: filters, tag filters, sorting and keyset pagination by marker, in SQL.

// The Neutron tables are addressed by name (their shapes live in the resource definitions).
/* eslint-disable @typescript-eslint/no-explicit-any */
export type NeutronDb = Kysely<any>;
export type Executor = Kysely<any> | Transaction<any>;
export type Query = SelectQueryBuilder<any, any, any>;
/* eslint-enable @typescript-eslint/no-explicit-any */

export type ColumnKind = 'text' | 'int' | 'bool' | 'json';

export interface Column {
  column: string;
  kind: ColumnKind;
  /** Nullable sort columns are ordered as if null were this value, the same on every engine. */
  nullAs?: string | number;
}

export interface TableSpec {
  table: string;
  /** Tag resource type, for resources that carry tags. */
  tagType?: string;
  /** API attribute -> column. Attributes not listed are computed by the resource's loader. */
  columns: Record<string, Column>;
}

export const text = (column: string, nullAs?: string): Column => ({ column, kind: 'text', nullAs });
export const int = (column: string, nullAs?: number): Column => ({ column, kind: 'int', nullAs });
export const bool = (column: string): Column => ({ column, kind: 'bool' });
export const json = (column: string): Column => ({ column, kind: 'json' });

/** The standard attributes' columns. */
export const STANDARD_COLUMNS: Record<string, Column> = {
  id: text('id'),
  project_id: text('project_id'),
  name: text('name'),
  description: text('description'),
  created_at: text('created_at'),
  updated_at: text('updated_at'),
  revision_number: int('revision_number'),
};

function toStored(kind: ColumnKind, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (kind === 'bool') return value ? 1 : 0;
  if (kind === 'json') return JSON.stringify(value);
  return value;
}

function fromStored(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (kind === 'bool') return Number(value) === 1;
  if (kind === 'json') return JSON.parse(String(value));
  if (kind === 'int') return Number(value);
  return value;
}

/** The columns of `record` that this table stores (attributes absent from it are left out). */
export function toRow(spec: TableSpec, record: Resource): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [attr, col] of Object.entries(spec.columns)) {
    if (attr in record) row[col.column] = toStored(col.kind, record[attr]);
  }
  return row;
}

export function fromRow(spec: TableSpec, row: Record<string, unknown>): Resource {
  const record: Resource = {};
  for (const [attr, col] of Object.entries(spec.columns)) record[attr] = fromStored(col.kind, row[col.column]);
  return record;
}

/** ISO 8601 without fractions, as Neutron shows timestamps. */
export const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

function sortExpr(col: Column) {
  return col.nullAs === undefined ? sql.ref(col.column) : sql`coalesce(${sql.ref(col.column)}, ${col.nullAs})`;
}

function applyTagFilters(query: Query, spec: TableSpec, tags: ListQuery['tags']): Query {
  if (!spec.tagType) return query;
  const withTags = (list: string[]) => sql`select resource_id from tags where resource_type = ${spec.tagType} and tag in (${sql.join(list)})`;
  const withAll = (list: string[]) =>
    sql`select resource_id from tags where resource_type = ${spec.tagType} and tag in (${sql.join(list)}) group by resource_id having count(*) = ${new Set(list).size}`;
  const id = sql.ref(`${spec.table}.id`);
  if (tags.all.length) query = query.where(sql<boolean>`${id} in (${withAll(tags.all)})`);
  if (tags.any.length) query = query.where(sql<boolean>`${id} in (${withTags(tags.any)})`);
  if (tags.notAll.length) query = query.where(sql<boolean>`${id} not in (${withAll(tags.notAll)})`);
  if (tags.notAny.length) query = query.where(sql<boolean>`${id} not in (${withTags(tags.notAny)})`);
  return query;
}

/**
 * One page of rows: `scope` narrows to what the caller may see (and any joins), filters on
 * stored attributes become `in (...)`, and the marker continues after its row in the
 * requested order (id breaks ties). Filters on computed attributes are the caller's to apply.
 */
export async function listRows(
  db: Executor,
  spec: TableSpec,
  query: ListQuery,
  scope: (q: Query) => Query = (q) => q,
): Promise<{ rows: Record<string, unknown>[]; more: boolean }> {
  let q: Query = scope(db.selectFrom(spec.table).selectAll(spec.table));
  for (const [attr, values] of Object.entries(query.filters)) {
    const col = spec.columns[attr];
    if (!col) continue;
    const stored = values.map((v) => toStored(col.kind, v));
    const nonNull = stored.filter((v) => v !== null);
    const ref = `${spec.table}.${col.column}`;
    q = q.where((eb) => {
      const parts = [];
      if (nonNull.length) parts.push(eb(ref, 'in', nonNull));
      if (nonNull.length < stored.length) parts.push(eb(ref, 'is', null));
      return eb.or(parts);
    });
  }
  q = applyTagFilters(q, spec, query.tags);

  const sorts = [
    ...query.sorts.filter((s) => s.key !== 'id' && spec.columns[s.key]),
    { key: 'id', dir: query.sorts.find((s) => s.key === 'id')?.dir ?? 'asc' },
  ];
  const order = sorts.map((s) => ({ col: spec.columns[s.key]!, dir: (query.pageReverse ? (s.dir === 'asc' ? 'desc' : 'asc') : s.dir) as 'asc' | 'desc' }));
  if (query.marker) {
    const marker = await db.selectFrom(spec.table).selectAll().where('id', '=', query.marker).executeTakeFirst();
    // The controller has checked the marker exists; one deleted since then restarts the list.
    if (marker) {
      const values = order.map(({ col }) => (col.nullAs !== undefined && marker[col.column] === null ? col.nullAs : marker[col.column]));
      const ors = order.map((_, i) => {
        const ands = order.slice(0, i).map(({ col }, j) => sql`${sortExpr(col)} = ${values[j]}`);
        const { col, dir } = order[i]!;
        ands.push(dir === 'asc' ? sql`${sortExpr(col)} > ${values[i]}` : sql`${sortExpr(col)} < ${values[i]}`);
        return sql`(${sql.join(ands, sql` and `)})`;
      });
      q = q.where(sql<boolean>`(${sql.join(ors, sql` or `)})`);
    }
  }
  for (const { col, dir } of order) q = q.orderBy(sortExpr(col), dir);
  if (query.limit !== null) q = q.limit(query.limit + 1);
  const rows = (await q.execute()) as Record<string, unknown>[];
  const more = query.limit !== null && rows.length > query.limit;
  return { rows: more ? rows.slice(0, query.limit!) : rows, more };
}

/**
 * Runs an insert that may lose a race on a unique key: true when it went in, false on the
 * conflict. Inside a transaction a savepoint keeps the lost race from aborting the whole
 * transaction (PostgreSQL aborts on any error), so the caller can try another value.
 */
export async function insertOrConflict(db: Executor, insert: () => Promise<unknown>): Promise<boolean> {
  const savepoint = db.isTransaction ? `sp_${randomUUID().replace(/-/g, '')}` : null;
  if (savepoint) await sql.raw(`SAVEPOINT ${savepoint}`).execute(db);
  try {
    await insert();
    if (savepoint) await sql.raw(`RELEASE SAVEPOINT ${savepoint}`).execute(db);
    return true;
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    if (savepoint) await sql.raw(`ROLLBACK TO SAVEPOINT ${savepoint}`).execute(db);
    return false;
  }
}

type Loader = (db: Executor, rows: Record<string, unknown>[]) => Promise<Resource[]>;

/** The row with this id that `scope` lets the caller see, loaded; else the resource's NotFound. */
export async function findVisible(
  db: Executor,
  table: string,
  scope: (q: Query) => Query,
  id: string,
  notFound: (id: string) => Error,
  load: Loader,
): Promise<Resource> {
  const row = await scope(db.selectFrom(table).selectAll().where('id', '=', id)).executeTakeFirst();
  if (!row) throw notFound(id);
  return (await load(db, [row]))[0]!;
}

/**
 * Rows just created, loaded, in the order of `ids`: a bulk create answers in request order.
 * Read after the commit, a row another request deleted in the meantime shows its id only.
 */
export async function loadInOrder(db: Executor, table: string, ids: string[], load: Loader): Promise<Resource[]> {
  const loaded = await load(db, await db.selectFrom(table).selectAll().where('id', 'in', ids).execute());
  const byId = new Map(loaded.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id) ?? { id });
}
