import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { InvalidConversion, InvalidValue, type ResourceDef } from '../resources/attributes.js';
import type { ListQuery, Sort } from '../core/plugin.js';

// A list request's query string, read the way Neutron reads it: filters on attributes
// (repeated means any of), fields=, sort_key/sort_dir pairs, limit/marker/page_reverse, tags.

const RESERVED = new Set(['fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse', 'tags', 'tags-any', 'not-tags', 'not-tags-any']);
const badRequest = (message: string) => new ApiError('HTTPBadRequest', message);

export type QueryParams = Map<string, string[]>;

export function queryParams(raw: unknown): QueryParams {
  const params: QueryParams = new Map();
  for (const [key, value] of Object.entries((raw ?? {}) as Record<string, string | string[]>)) {
    params.set(key, Array.isArray(value) ? value : [value]);
  }
  return params;
}

/** Tags given as `tags=a,b` or repeated `tags=a&tags=b`. */
const tagList = (params: QueryParams, name: string) => (params.get(name) ?? []).flatMap((v) => v.split(',')).filter((t) => t !== '');

function filterValue(def: ResourceDef, attr: string, text: string): unknown {
  const spec = def.attributes[attr]!;
  const parse = spec.parseFilter ?? spec.validate;
  if (!parse) return text;
  try {
    return parse(text);
  } catch (err) {
    // Neutron converts filter values (booleans, integers) but does not validate them: a value
    // that converts but is out of range just matches nothing.
    if (err instanceof InvalidConversion) throw new ApiError('InvalidInput', `Invalid input for operation: ${err.message}.`);
    if (err instanceof InvalidValue) return text;
    throw err;
  }
}

function parseSorts(def: ResourceDef, params: QueryParams): Sort[] {
  const keys = params.get('sort_key') ?? [];
  const dirs = params.get('sort_dir') ?? [];
  if (keys.length === 0 && dirs.length === 0) return [];
  if (keys.length !== dirs.length) throw badRequest('The number of sort_keys and sort_dirs must be same');
  const badKeys = keys.filter((k) => !def.attributes[k]?.sort);
  if (badKeys.length) throw badRequest(`${JSON.stringify(badKeys).replace(/"/g, "'")} is invalid attribute for sort_keys`);
  const badDirs = dirs.filter((d) => d !== 'asc' && d !== 'desc');
  if (badDirs.length) throw badRequest(`${JSON.stringify(badDirs).replace(/"/g, "'")} is invalid value for sort_dirs, valid value is 'asc' and 'desc'`);
  return keys.map((key, i) => ({ key: key === 'tenant_id' ? 'project_id' : key, dir: dirs[i] as 'asc' | 'desc' }));
}

function parseLimit(params: QueryParams): number | null {
  const text = params.get('limit')?.[0];
  if (text === undefined || text === '') return null;
  if (!/^\d+$/.test(text)) throw new ApiError('BadRequest', `Bad limit request: Limit must be an integer 0 or greater and not '${text}'.`);
  const limit = Number(text);
  return limit === 0 ? null : limit;
}

export function parseListQuery(def: ResourceDef, ctx: RequestContext, params: QueryParams): ListQuery & { fields: string[] | null } {
  const filters: Record<string, unknown[]> = {};
  const invalid: string[] = [];
  for (const [key, values] of params) {
    if (RESERVED.has(key)) continue;
    const spec = def.attributes[key];
    if (!spec || spec.filter === false || spec.visible === false || (spec.adminOnly && !ctx.isAdmin)) {
      invalid.push(key);
      continue;
    }
    const attr = key === 'tenant_id' ? 'project_id' : key;
    filters[attr] = [...(filters[attr] ?? []), ...values.map((v) => filterValue(def, key, v))];
  }
  if (invalid.length) throw badRequest(`${JSON.stringify(invalid).replace(/"/g, "'")} is invalid attribute for filtering`);
  const fields =
    params
      .get('fields')
      ?.flatMap((f) => f.split(','))
      .filter((f) => f !== '') ?? null;
  const pageReverse = (params.get('page_reverse')?.[0] ?? 'false').toLowerCase() === 'true';
  return {
    filters,
    tags: { all: tagList(params, 'tags'), any: tagList(params, 'tags-any'), notAll: tagList(params, 'not-tags'), notAny: tagList(params, 'not-tags-any') },
    sorts: parseSorts(def, params),
    limit: parseLimit(params),
    marker: params.get('marker')?.[0] ?? null,
    pageReverse,
    fields: fields && fields.length ? fields : null,
  };
}
