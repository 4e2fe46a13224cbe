import type { FastifyReply } from 'fastify';
import type { ApiError } from '../http/errors.js';

// Upstream's Admin API error body: {"<kind>": {"message": ..., "code": ...}}, the kind named
// by status as Nova does; 401 in keystonemiddleware's own shape, which clients already parse.
export const KIND_BY_STATUS: Record<number, string> = {
  400: 'badRequest',
  401: 'error',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'methodNotAllowed',
  409: 'conflictingRequest',
  413: 'requestEntityTooLarge',
  415: 'unsupportedMediaType',
  422: 'unprocessableEntity',
  500: 'internalServerError',
  503: 'serviceUnavailable',
};

export function renderAdminError(error: ApiError, reply: FastifyReply): FastifyReply {
  reply.code(error.status).headers(error.headers).type('application/json');
  if (error.status === 401) {
    return reply.send({ error: { code: 401, title: 'Unauthorized', message: error.message } });
  }
  return reply.send({ [KIND_BY_STATUS[error.status] ?? 'Error']: { message: error.message, code: error.status } });
}
