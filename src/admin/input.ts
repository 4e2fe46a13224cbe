import type { FastifyRequest } from 'fastify';
import { badRequest, forbidden } from '../http/errors.js';
import type { Policy } from '../auth/policy.js';
import { credentialsOf, type RequestContext } from '../auth/context.js';

// Reading and checking what a client sent to the Admin API. Every failure is a 400 naming
// the field or parameter, raised before anything is written.

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The object under `key` in a body such as {"pod": {...}}. */
export function bodyObject(request: FastifyRequest, key: string): Json {
  const body = request.body;
  if (body === undefined || body === null || (isObject(body) && !(key in body))) throw badRequest(`Request body not found: expected {"${key}": {...}}`);
  if (!isObject(body)) throw badRequest(`Request body must be a JSON object with a "${key}" key`);
  const value = body[key];
  if (!isObject(value)) throw badRequest(`"${key}" must be a JSON object`);
  return value;
}

export function rejectUnknown(obj: Json, allowed: readonly string[], what: string): void {
  const unknown = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (unknown.length) throw badRequest(`Unrecognized attribute(s) of ${what}: ${unknown.join(', ')}`);
}

/** A string field, trimmed; absent gives undefined, null stays null. */
export function stringField(obj: Json, field: string, maxLength: number): string | null | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string') throw badRequest(`Field ${field} must be a string, not ${Array.isArray(value) ? 'an array' : typeof value}`);
  const trimmed = value.trim();
  if (trimmed.length > maxLength) throw badRequest(`Field ${field} is longer than ${maxLength} characters`);
  return trimmed;
}

/** A string field that must be present and not blank. */
export function requiredString(obj: Json, field: string, maxLength: number): string {
  const value = stringField(obj, field, maxLength);
  if (value === undefined || value === null || value === '') throw badRequest(`Field ${field} can not be empty`);
  return value;
}

/** Query parameters, each as the list of its values (a repeated parameter means "any of"). */
export function queryParams(request: FastifyRequest): Map<string, string[]> {
  const params = new Map<string, string[]>();
  for (const [key, value] of Object.entries((request.query ?? {}) as Record<string, string | string[]>)) {
    params.set(key, Array.isArray(value) ? value : [value]);
  }
  return params;
}

export function rejectUnsupportedParams(params: Map<string, string[]>, allowed: readonly string[]): void {
  const unsupported = [...params.keys()].filter((k) => !allowed.includes(k)).sort();
  if (unsupported.length) throw badRequest(`Unsupported filter type: ${unsupported.join(', ')}`);
}

function single(params: Map<string, string[]>, name: string): string | undefined {
  const values = params.get(name);
  if (values === undefined) return undefined;
  if (values.length > 1) throw badRequest(`Parameter ${name} may be given only once`);
  return values[0];
}

/** `limit`: absent or 0 means the largest page; above the largest page is capped to it. */
export function pageLimit(params: Map<string, string[]>, max: number): number {
  const text = single(params, 'limit');
  if (text === undefined || text === '') return max;
  if (!/^\d+$/.test(text)) throw badRequest(`Limit should be a non-negative integer, not '${text}'`);
  const limit = Number(text);
  return limit === 0 || limit > max ? max : limit;
}

export function integerMarker(params: Map<string, string[]>): number | undefined {
  const text = single(params, 'marker');
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw badRequest(`Marker ${text} is an invalid ID: it should be a positive integer`);
  }
  return Number(text);
}

export function stringMarker(params: Map<string, string[]>): string | undefined {
  return single(params, 'marker');
}

/** The `rel: next` link of a page, repeating the request's filters. */
export function nextLink(path: string, params: Map<string, string[]>, limit: number, marker: string | number): Array<{ rel: string; href: string }> {
  const search = new URLSearchParams();
  for (const [key, values] of params) {
    if (key === 'limit' || key === 'marker') continue;
    for (const value of values) search.append(key, value);
  }
  search.set('limit', String(limit));
  search.set('marker', String(marker));
  return [{ rel: 'next', href: `${path}?${search.toString()}` }];
}

/** The request's context; policy denies with 403 naming the rule's action. */
export function authorize(request: FastifyRequest, policy: Policy, rule: string, target: Json = {}): RequestContext {
  const ctx = request.ctx;
  if (!ctx) throw new Error('authorize() on a route without authentication');
  const fullTarget = { project_id: ctx.projectId, user_id: ctx.userId, ...target };
  if (!policy.check(rule, credentialsOf(ctx), fullTarget)) {
    throw forbidden(`Policy doesn't allow ${rule} to be performed`);
  }
  return ctx;
}
