import type { FastifyInstance } from 'fastify';
import { route } from '../../http/routes.js';
import type { NeutronPlugin } from '../core/plugin.js';
import type { Attribute, AttributeType, ResourceDef } from '../resources/attributes.js';

// GET /v2.0/openapi.json: an OpenAPI 3 document built from the same resource definitions
// that drive the controller, so it cannot drift from what the server accepts. Built once.

type Schema = Record<string, unknown>;

export interface ServedResource {
  def: ResourceDef;
  /** The resource has the tags API (standard-attr-tag). */
  taggable: boolean;
}

const capitalized = (name: string) => name.replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });

/** The attribute's JSON type: its hint, else a guess from its default, else none (any value). */
function typeOf(spec: Attribute): AttributeType | undefined {
  if (spec.type) return spec.type;
  const value = spec.default;
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return 'integer';
  if (typeof value === 'object' && value !== null) return 'object';
  return undefined;
}

function attributeSchema(spec: Attribute): Schema {
  const type = typeOf(spec);
  const schema: Schema = type ? { type } : {};
  if (type === 'array') schema.items = {};
  if (spec.default === null) schema.nullable = true;
  if (spec.default !== undefined && typeof spec.default !== 'function') schema.default = spec.default;
  if (spec.adminOnly) schema.description = 'Admin only: set and shown for admins.';
  return schema;
}

function objectSchema(def: ResourceDef, keep: (attr: string, spec: Attribute) => boolean, required: (attr: string, spec: Attribute) => boolean): Schema {
  const entries = Object.entries(def.attributes).filter(([attr, spec]) => keep(attr, spec));
  const schema: Schema = { type: 'object', additionalProperties: false, properties: Object.fromEntries(entries.map(([a, s]) => [a, attributeSchema(s)])) };
  const names = entries.filter(([attr, spec]) => required(attr, spec)).map(([attr]) => attr);
  if (names.length) schema.required = names;
  return schema;
}

function schemas(def: ResourceDef): Record<string, Schema> {
  const name = capitalized(def.name);
  const owner = (attr: string) => attr === 'project_id' || attr === 'tenant_id';
  const shown = objectSchema(
    def,
    (_a, s) => s.visible !== false,
    () => false,
  );
  for (const [attr, spec] of Object.entries(def.attributes)) {
    if (!spec.post && !spec.put && spec.visible !== false) (shown.properties as Record<string, Schema>)[attr]!.readOnly = true;
  }
  return {
    [name]: shown,
    [`${name}Create`]: objectSchema(
      def,
      (_a, s) => Boolean(s.post),
      (a, s) => !owner(a) && !('default' in s),
    ),
    [`${name}Update`]: objectSchema(
      def,
      (_a, s) => Boolean(s.put),
      () => false,
    ),
  };
}

const query = (name: string, schema: Schema, description?: string) => ({ name, in: 'query', required: false, schema, ...(description ? { description } : {}) });
const list = (items: Schema) => ({ type: 'array', items });

function errors(...codes: number[]) {
  return Object.fromEntries(codes.map((code) => [String(code), { description: 'NeutronError', content: json(ref('NeutronError')) }]));
}

function listParameters({ def, taggable }: ServedResource) {
  const filters = Object.entries(def.attributes)
    .filter(([, spec]) => spec.filter !== false && spec.visible !== false)
    .map(([attr, spec]) => ({ ...query(attr, list(attributeSchema(spec)), 'Filter; repeat for any of several values.'), explode: true }));
  const tags = taggable ? ['tags', 'tags-any', 'not-tags', 'not-tags-any'].map((t) => query(t, { type: 'string' }, 'Comma-separated tags.')) : [];
  return [
    { ...query('fields', list({ type: 'string' }), 'Attributes to show.'), explode: true },
    { ...query('sort_key', list({ type: 'string', enum: Object.keys(def.attributes).filter((a) => def.attributes[a]!.sort) })), explode: true },
    { ...query('sort_dir', list({ type: 'string', enum: ['asc', 'desc'] })), explode: true },
    query('limit', { type: 'integer', minimum: 0 }),
    query('marker', { type: 'string' }),
    query('page_reverse', { type: 'boolean' }),
    ...tags,
    ...filters,
  ];
}

function paths(served: ServedResource): Record<string, Schema> {
  const { def, taggable } = served;
  const name = capitalized(def.name);
  const base = `/v2.0/${def.path ?? def.collection}`;
  const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const one = (schema: Schema) => ({ type: 'object', properties: { [def.name]: schema }, required: [def.name] });
  const many = (schema: Schema) => ({ type: 'object', properties: { [def.collection]: list(schema) }, required: [def.collection] });
  const result: Record<string, Schema> = {
    [base]: {
      get: {
        operationId: `list_${def.collection}`,
        parameters: listParameters(served),
        responses: {
          '200': {
            description: 'One page',
            content: json({ ...many(ref(name)), properties: { [def.collection]: list(ref(name)), [`${def.collection}_links`]: list({ type: 'object' }) } }),
          },
          ...errors(400, 401, 404),
        },
      },
      post: {
        operationId: `create_${def.name}`,
        requestBody: { required: true, content: json({ oneOf: [one(ref(`${name}Create`)), many(ref(`${name}Create`))] }) },
        responses: {
          '201': { description: 'Created (all of a bulk request or none)', content: json({ oneOf: [one(ref(name)), many(ref(name))] }) },
          ...errors(400, 401, 403, 404, 409, 503),
        },
      },
    },
    [`${base}/{id}`]: {
      parameters: [id],
      get: {
        operationId: `show_${def.name}`,
        parameters: [{ ...query('fields', list({ type: 'string' })), explode: true }],
        responses: { '200': { description: 'The resource', content: json(one(ref(name))) }, ...errors(401, 404) },
      },
      put: {
        operationId: `update_${def.name}`,
        requestBody: { required: true, content: json(one(ref(`${name}Update`))) },
        responses: { '200': { description: 'Updated', content: json(one(ref(name))) }, ...errors(400, 401, 403, 404, 409) },
      },
      delete: { operationId: `delete_${def.name}`, responses: { '204': { description: 'Deleted' }, ...errors(401, 403, 404, 409) } },
    },
  };
  if (taggable) {
    const tags = { type: 'object', properties: { tags: list({ type: 'string', maxLength: 255 }) }, required: ['tags'] };
    const tag = { name: 'tag', in: 'path', required: true, schema: { type: 'string', maxLength: 255 } };
    result[`${base}/{id}/tags`] = {
      parameters: [id],
      get: { operationId: `list_${def.name}_tags`, responses: { '200': { description: 'Tags', content: json(tags) }, ...errors(401, 404) } },
      put: {
        operationId: `replace_${def.name}_tags`,
        requestBody: { required: true, content: json(tags) },
        responses: { '200': { description: 'Tags set', content: json(tags) }, ...errors(400, 401, 403, 404) },
      },
      delete: { operationId: `delete_${def.name}_tags`, responses: { '204': { description: 'All tags removed' }, ...errors(401, 403, 404) } },
    };
    result[`${base}/{id}/tags/{tag}`] = {
      parameters: [id, tag],
      get: { operationId: `check_${def.name}_tag`, responses: { '204': { description: 'The tag is set' }, ...errors(400, 401, 404) } },
      put: { operationId: `add_${def.name}_tag`, responses: { '201': { description: 'Tag added' }, ...errors(400, 401, 403, 404) } },
      delete: { operationId: `remove_${def.name}_tag`, responses: { '204': { description: 'Tag removed' }, ...errors(400, 401, 403, 404) } },
    };
  }
  return result;
}

export function openApiDocument(served: ServedResource[]): Schema {
  return {
    openapi: '3.0.3',
    info: { title: 'Tricircle Neutron API', version: '2.0', description: 'Neutron v2.0 resources as this server defines them.' },
    paths: Object.assign({}, ...served.map(paths)),
    components: {
      schemas: {
        NeutronError: {
          type: 'object',
          properties: {
            NeutronError: { type: 'object', properties: { type: { type: 'string' }, message: { type: 'string' }, detail: { type: 'string' } } },
          },
        },
        ...Object.assign({}, ...served.map((s) => schemas(s.def))),
      },
    },
  };
}

export function openApiRoute(app: FastifyInstance, defs: ResourceDef[], plugin: NeutronPlugin): void {
  const document = openApiDocument(defs.map((def) => ({ def, taggable: Boolean(plugin[def.collection]?.tags) })));
  route(app, '/v2.0/openapi.json', { GET: async () => document });
}
