import type { FastifyReply } from 'fastify';
import type { ApiError, ErrorType } from '../../http/errors.js';

// Neutron's error body: {"NeutronError": {"type", "message", "detail"}}. Errors raised by the
// shared plumbing carry generic catalog types; Neutron names those by their webob classes.
const WEBOB_NAMES: Partial<Record<ErrorType, string>> = {
  ResourceNotFound: 'HTTPNotFound',
  MethodNotAllowed: 'HTTPMethodNotAllowed',
  RequestEntityTooLarge: 'HTTPRequestEntityTooLarge',
  UnsupportedMediaType: 'HTTPUnsupportedMediaType',
  ServiceUnavailable: 'HTTPServiceUnavailable',
  InternalError: 'HTTPInternalServerError',
};

/** webob's own wording, which Neutron shows for a wrong method or an unknown path. */
function message(error: ApiError): string {
  if (error.type === 'MethodNotAllowed') return 'The server could not comply with the request since it is either malformed or otherwise incorrect.';
  if (error.type === 'ResourceNotFound' && error.message.startsWith('The resource could not be found')) return 'The resource could not be found.';
  return error.message;
}

export function renderNeutronError(error: ApiError, reply: FastifyReply): FastifyReply {
  reply.code(error.status).headers(error.headers).type('application/json');
  if (error.status === 401) return reply.send({ error: { code: 401, title: 'Unauthorized', message: error.message } });
  return reply.send({ NeutronError: { type: WEBOB_NAMES[error.type] ?? error.type, message: message(error), detail: '' } });
}
