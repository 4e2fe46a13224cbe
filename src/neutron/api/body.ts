import type { FastifyInstance } from 'fastify';
import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { InvalidConversion, InvalidValue, type ResourceDef } from '../resources/attributes.js';
import type { Resource } from '../core/plugin.js';

// Request bodies checked against a resource definition, with Neutron's own wording, before
// any operation runs: unknown or read-only attributes, missing required ones, bad values.

const badRequest = (message: string) => new ApiError('HTTPBadRequest', message);

/** JSON bodies as Neutron reads them: an empty one is no body, an unparsable one is "Body contains invalid data". */
export function neutronJsonBodies(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    if (String(text).trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(String(text)));
    } catch {
      done(badRequest('Body contains invalid data'), undefined);
    }
  });
}
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkValue(def: ResourceDef, attr: string, value: unknown): unknown {
  const validate = def.attributes[attr]!.validate;
  if (!validate) return value;
  try {
    return validate(value);
  } catch (err) {
    // As in Neutron, a failed conversion (convert_to) and a failed validation are worded differently.
    if (err instanceof InvalidConversion) throw new ApiError('InvalidInput', `Invalid input for operation: ${err.message}.`);
    if (err instanceof InvalidValue) throw badRequest(`Invalid input for ${attr}. Reason: ${err.message}.`);
    throw err;
  }
}

function checkKnown(def: ResourceDef, item: Record<string, unknown>): void {
  const unknown = Object.keys(item).filter((k) => !(k in def.attributes));
  if (unknown.length) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
}

function checkAdminOnly(def: ResourceDef, ctx: RequestContext, item: Record<string, unknown>, action: 'create' | 'update'): void {
  for (const attr of Object.keys(item)) {
    if (def.attributes[attr]!.adminOnly && !ctx.isAdmin) {
      throw new ApiError('PolicyNotAuthorized', `(rule:${action}_${def.name} and rule:${action}_${def.name}:${attr}) is disallowed by policy`);
    }
  }
}

/** project_id / tenant_id: the caller's own unless an admin names another; both must agree. */
function owner(ctx: RequestContext, item: Record<string, unknown>): string {
  const project = (item.project_id ?? item.tenant_id) as string | undefined;
  if (item.project_id !== undefined && item.tenant_id !== undefined && item.project_id !== item.tenant_id) {
    throw badRequest("'project_id' and 'tenant_id' do not match");
  }
  if (project !== undefined && project !== ctx.projectId && !ctx.isAdmin) {
    throw badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin or advsvc privileges");
  }
  const result = project ?? ctx.projectId;
  if (!result) throw badRequest('Running without keystone AuthN requires that tenant_id is specified');
  return result;
}

const invalidObject = (def: ResourceDef) => badRequest(`Object '${def.name}' contains invalid data`);

function parseItem(def: ResourceDef, ctx: RequestContext, item: unknown): Resource {
  if (!isObject(item)) throw invalidObject(def);
  checkKnown(def, item);
  const result: Resource = {};
  for (const [attr, spec] of Object.entries(def.attributes)) {
    if (attr === 'project_id' || attr === 'tenant_id') continue;
    if (attr in item) {
      if (!spec.post) throw badRequest(`Attribute '${attr}' not allowed in POST`);
      result[attr] = checkValue(def, attr, item[attr]);
    } else if (spec.post) {
      if (!('default' in spec)) throw badRequest(`Failed to parse request. Required attribute '${attr}' not specified`);
      result[attr] = typeof spec.default === 'function' ? (spec.default as () => unknown)() : structuredClone(spec.default);
    }
  }
  checkAdminOnly(def, ctx, item, 'create');
  if ('project_id' in def.attributes) result.project_id = owner(ctx, item);
  return result;
}

/** A create body: {"network": {...}} or, in bulk, {"networks": [{...}, ...]}. */
export function parseCreate(def: ResourceDef, ctx: RequestContext, body: unknown): { items: Resource[]; bulk: boolean } {
  if (body !== undefined && !isObject(body)) throw badRequest('Body contains invalid data');
  if (isObject(body) && def.collection in body) {
    const list = body[def.collection];
    if (!Array.isArray(list)) throw invalidObject(def);
    if (list.length === 0) throw badRequest('Resources required');
    return { items: list.map((item) => parseItem(def, ctx, isObject(item) && def.name in item ? item[def.name] : item)), bulk: true };
  }
  if (!isObject(body) || body[def.name] === undefined || body[def.name] === null) throw badRequest(`Unable to find '${def.name}' in request body`);
  return { items: [parseItem(def, ctx, body[def.name])], bulk: false };
}

/** An update body: {"network": {...}} with only attributes that may change. */
export function parseUpdate(def: ResourceDef, ctx: RequestContext, body: unknown): Resource {
  if (body !== undefined && !isObject(body)) throw badRequest('Body contains invalid data');
  if (isObject(body) && def.collection in body) throw badRequest('Bulk operation not supported');
  if (!isObject(body) || body[def.name] === undefined || body[def.name] === null) throw badRequest(`Unable to find '${def.name}' in request body`);
  const item = body[def.name];
  if (!isObject(item)) throw invalidObject(def);
  checkKnown(def, item);
  const result: Resource = {};
  for (const [attr, value] of Object.entries(item)) {
    if (!def.attributes[attr]!.put) throw badRequest(`Cannot update read-only attribute ${attr}`);
    result[attr] = checkValue(def, attr, value);
  }
  checkAdminOnly(def, ctx, item, 'update');
  return result;
}
