import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../http/errors.js';
import { route } from '../../http/routes.js';
import type { TagOperations } from '../core/tags.js';
import { InvalidValue, listOf, string } from '../resources/attributes.js';
import { context } from './context.js';

// The tags API (standard-attr-tag) under any taggable collection, with Neutron's statuses:
// GET .../tags 200, PUT .../tags 200 (replace all), DELETE .../tags 204, and per tag
// GET 204 (or TagNotFound), PUT 201 (add), DELETE 204.

/** Neutron's MAX_TAG_LEN. */
const MAX_TAG_LENGTH = 255;
const tagValue = string(MAX_TAG_LENGTH);
const tagList = listOf(tagValue);

const invalid = (message: string) => new ApiError('InvalidInput', `Invalid input for operation: ${message}.`);

function validate<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InvalidValue) throw invalid(err.message);
    throw err;
  }
}

/** {"tags": [...]}: a list of distinct strings of at most 255 characters. */
export function parseTags(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('tags' in body)) throw invalid('Invalid tags body');
  const tags = (body as { tags: unknown }).tags;
  if (Array.isArray(tags)) {
    const duplicates = [...new Set(tags.filter((t, i) => tags.indexOf(t) !== i))];
    if (duplicates.length) throw invalid(`Duplicate items in the list: '${duplicates.join(', ')}'`);
  }
  return validate(() => tagList(tags) as string[]);
}

const parseTag = (tag: string) => validate(() => tagValue(tag) as string);

export function tagRoutes(app: FastifyInstance, collection: string, tags: TagOperations): void {
  const params = (request: FastifyRequest) => request.params as { id: string; tag: string };
  route(app, `${collection}/:id/tags`, {
    GET: async (request) => ({ tags: await tags.list(context(request), params(request).id) }),
    PUT: async (request) => {
      const list = parseTags(request.body);
      await tags.replace(context(request), params(request).id, list);
      return { tags: list };
    },
    DELETE: async (request, reply: FastifyReply) => {
      await tags.clear(context(request), params(request).id);
      return reply.code(204).send();
    },
    // Neutron routes it and refuses it as not found.
    POST: async () => {
      throw new ApiError('ResourceNotFound', 'not supported');
    },
  });
  route(app, `${collection}/:id/tags/:tag`, {
    GET: async (request, reply: FastifyReply) => {
      await tags.check(context(request), params(request).id, parseTag(params(request).tag));
      return reply.code(204).send();
    },
    PUT: async (request, reply: FastifyReply) => {
      await tags.add(context(request), params(request).id, parseTag(params(request).tag));
      return reply.code(201).type('application/json').send('null');
    },
    DELETE: async (request, reply: FastifyReply) => {
      await tags.remove(context(request), params(request).id, parseTag(params(request).tag));
      return reply.code(204).send();
    },
  });
}
