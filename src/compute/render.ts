import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { ApiError } from '../http/index.js';
import { embeddedFlavor, findFlavor, findImage, flavorRef, imageRef } from './catalog.js';
import type { Server } from './store.js';

// Nova's fault names by status; any other status is a computeFault.
const FAULTS: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

/** An error of the catalog in Nova's form: {"itemNotFound": {"message", "code"}}. */
export function renderNovaError(error: ApiError, reply: FastifyReply) {
  return reply
    .code(error.status)
    .headers(error.headers)
    .send({ [FAULTS[error.status] ?? 'computeFault']: { message: error.message, code: error.status } });
}

/** 'YYYY-MM-DD HH:MM:SS.ffffff' as stored, in Nova's ISO form. */
const iso = (stored: string) => `${stored.slice(0, 10)}T${stored.slice(11, 19)}Z`;

const links = (base: string, id: string) => [
  { rel: 'self', href: `${base}/v2.1/servers/${id}` },
  { rel: 'bookmark', href: `${base}/servers/${id}` },
];

export const renderServerSummary = (base: string, server: Server) => ({ id: server.id, name: server.name, links: links(base, server.id) });

/** A server as GET /servers/{id} and /servers/detail show it at microversion 2.<minor>. */
export function renderServer(base: string, server: Server, minor: number, isAdmin: boolean) {
  const flavor = findFlavor(server.flavorId);
  const image = findImage(server.imageId);
  const body: Record<string, unknown> = {
    ...renderServerSummary(base, server),
    status: server.status,
    tenant_id: server.projectId,
    user_id: server.userId,
    metadata: {},
    // Nova's hostId: the same host looks the same to one project and different to another.
    hostId: createHash('sha224').update(`${server.projectId}${server.host}`).digest('hex'),
    image: image ? imageRef(base, image) : { id: server.imageId, links: [] },
    flavor: flavor ? (minor >= 47 ? embeddedFlavor(flavor) : flavorRef(base, flavor)) : { id: server.flavorId, links: [] },
    created: iso(server.createdAt),
    updated: iso(server.updatedAt),
    addresses: server.addresses,
    accessIPv4: '',
    accessIPv6: '',
    'OS-DCF:diskConfig': 'MANUAL',
    progress: 0,
    'OS-EXT-AZ:availability_zone': server.availabilityZone,
    config_drive: '',
    key_name: null,
    'OS-SRV-USG:launched_at': iso(server.createdAt).replace('Z', '.000000'),
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': null,
    'OS-EXT-STS:vm_state': server.status.toLowerCase(),
    'OS-EXT-STS:power_state': server.status === 'ACTIVE' ? 1 : 0,
    'os-extended-volumes:volumes_attached': [],
  };
  if (isAdmin) {
    body['OS-EXT-SRV-ATTR:host'] = server.host;
    body['OS-EXT-SRV-ATTR:hypervisor_hostname'] = server.host;
    body['OS-EXT-SRV-ATTR:instance_name'] = `instance-${server.id.slice(0, 8)}`;
  }
  if (minor >= 9) body.locked = false;
  if (minor >= 16 && isAdmin) body.host_status = 'UP';
  if (minor >= 19) body.description = null;
  if (minor >= 26) body.tags = [];
  return body;
}
