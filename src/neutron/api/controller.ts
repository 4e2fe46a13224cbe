import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../auth/index.js';
import { ApiError } from '../../http/errors.js';
import { route } from '../../http/routes.js';
import type { ResourceDef } from '../resources/attributes.js';
import type { Resource, ResourceOperations } from '../core/plugin.js';
import { parseCreate, parseUpdate } from './body.js';
import { context } from './context.js';
import { parseListQuery, queryParams, type QueryParams } from './query.js';
import { tagRoutes } from './tags.js';

// The one controller every Neutron resource is served by: its routes, bodies, queries,
// pagination links and the shape of what it returns all come from the resource definition.

/** What a caller sees of a record: visible attributes, admin-only ones for admins, `fields=` if given. */
export function present(def: ResourceDef, ctx: RequestContext, record: Resource, fields: string[] | null): Resource {
  const shown: Resource = {};
  for (const [attr, spec] of Object.entries(def.attributes)) {
    if (spec.visible === false || (spec.adminOnly && !ctx.isAdmin)) continue;
    if (fields && !fields.includes(attr)) continue;
    const value = attr === 'tenant_id' ? record.project_id : record[attr];
    if (value !== undefined) shown[attr] = value;
  }
  return shown;
}

function links(
  request: FastifyRequest,
  def: ResourceDef,
  params: QueryParams,
  first: Resource | undefined,
  last: Resource | undefined,
  next: boolean,
  previous: boolean,
) {
  const base = `${request.protocol}://${request.host}/v2.0/${def.path ?? def.collection}`;
  const href = (marker: string, reverse: boolean) => {
    const search = new URLSearchParams();
    for (const [key, values] of params) if (key !== 'marker' && key !== 'page_reverse') for (const v of values) search.append(key, v);
    search.set('marker', marker);
    if (reverse) search.set('page_reverse', 'True');
    return `${base}?${search.toString()}`;
  };
  const result: Array<{ rel: string; href: string }> = [];
  if (next && last) result.push({ rel: 'next', href: href(String(last.id), false) });
  if (previous && first) result.push({ rel: 'previous', href: href(String(first.id), true) });
  return result;
}

export function resourceRoutes(app: FastifyInstance, def: ResourceDef, ops: ResourceOperations): void {
  const collection = `/v2.0/${def.path ?? def.collection}`;
  route(app, collection, {
    GET: async (request) => {
      const ctx = context(request);
      const params = queryParams(request.query);
      const query = parseListQuery(def, ctx, params);
      // A marker the caller cannot see is that resource's NotFound, as in Neutron.
      if (query.marker !== null) await ops.get(ctx, query.marker);
      const page = await ops.list(ctx, query);
      // A reversed page reads back in forward order; without a limit Neutron leaves the list reversed.
      const items = query.pageReverse && query.limit !== null ? [...page.items].reverse() : page.items;
      const body: Resource = { [def.collection]: items.map((r) => present(def, ctx, r, query.fields)) };
      if (query.limit !== null) {
        // Reading forward, "more" means a next page; reading backward it means a previous one.
        const hasNext = query.pageReverse ? query.marker !== null : page.more;
        const hasPrevious = query.pageReverse ? page.more : query.marker !== null;
        const pageLinks = links(request, def, params, items[0], items[items.length - 1], hasNext, hasPrevious);
        if (pageLinks.length) body[`${def.collection}_links`] = pageLinks;
      }
      return body;
    },
    POST: async (request, reply: FastifyReply) => {
      const ctx = context(request);
      const { items, bulk } = parseCreate(def, ctx, request.body);
      const created = await ops.create(ctx, items);
      const shown = created.map((r) => present(def, ctx, r, null));
      return reply.code(201).send(bulk ? { [def.collection]: shown } : { [def.name]: shown[0] });
    },
  });
  route(app, `${collection}/:id`, {
    GET: async (request) => {
      const ctx = context(request);
      const fields = parseListQuery(def, ctx, new Map([['fields', queryParams(request.query).get('fields') ?? []]])).fields;
      return { [def.name]: present(def, ctx, await ops.get(ctx, (request.params as { id: string }).id), fields) };
    },
    PUT: async (request) => {
      const ctx = context(request);
      const changes = parseUpdate(def, ctx, request.body);
      return { [def.name]: present(def, ctx, await ops.update(ctx, (request.params as { id: string }).id, changes), null) };
    },
    DELETE: async (request, reply: FastifyReply) => {
      await ops.delete(context(request), (request.params as { id: string }).id);
      return reply.code(204).send();
    },
  });
  if (ops.tags) tagRoutes(app, collection, ops.tags);
  if (ops.actions) {
    const actions = ops.actions;
    route(app, `${collection}/:id/:action`, {
      PUT: async (request) => {
        const { id, action } = request.params as { id: string; action: string };
        const handler = actions[action];
        if (!handler) throw new ApiError('ResourceNotFound', `The resource could not be found: ${request.url}`);
        const body = request.body;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('HTTPBadRequest', 'Body contains invalid data');
        return handler(context(request), id, body as Resource);
      },
    });
  }
}
