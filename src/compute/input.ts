import { ApiError } from '../http/index.js';
import { findFlavor, findImage, type Flavor, type Image } from './catalog.js';

/** One entry of `networks`: a network to create a port on, or a port to use. */
export type NetworkRequest = { network: string; fixedIp?: string } | { port: string };

export interface BootRequest {
  name: string;
  flavor: Flavor;
  image: Image;
  availabilityZone: string | undefined;
  networks: NetworkRequest[];
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function invalid(field: string, value: unknown, reason: string): ApiError {
  return new ApiError('InvalidInput', `Invalid input for field/attribute ${field}. Value: ${JSON.stringify(value)}. ${reason}`);
}

function text(server: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const value = server[field];
  if (value === undefined) {
    if (required) throw invalid(field, null, `'${field}' is a required property`);
    return undefined;
  }
  if (typeof value !== 'string') throw invalid(field, value, `${JSON.stringify(value)} is not of type 'string'`);
  return value;
}

/** A flavorRef or imageRef: an id, or a link whose last segment is the id (Nova accepts both). */
function reference(server: Record<string, unknown>, field: string): string {
  const value = server[field];
  if (value === undefined) throw invalid(field, null, `'${field}' is a required property`);
  if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
    throw invalid(field, value, `${JSON.stringify(value)} is not of type 'string', 'integer'`);
  }
  return String(value).split('/').pop() ?? '';
}

function networkRequests(value: unknown, minor: number, projectId: string | null): NetworkRequest[] {
  // From 2.37 on, networks is required.
  if (value === undefined && minor >= 37) throw invalid('networks', null, "'networks' is a required property");
  if (value === 'none') return [];
  // Nova would pick the project's only network or allocate one; nothing here allocates networks.
  if (value === undefined || value === 'auto') {
    throw new ApiError('InvalidInput', `Unable to automatically allocate a network for project ${projectId ?? ''}: give networks by uuid or port, or "none"`);
  }
  if (!Array.isArray(value)) throw invalid('networks', value, `${JSON.stringify(value)} is not of type 'array' (or 'auto', 'none')`);
  const ports = new Set<string>();
  return value.map((entry: unknown, i) => {
    const field = `networks/${i}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw invalid(field, entry, `${JSON.stringify(entry)} is not of type 'object'`);
    const { uuid, port, fixed_ip: fixedIp } = entry as Record<string, unknown>;
    for (const [name, v] of Object.entries({ uuid, port, fixed_ip: fixedIp })) {
      if (v !== undefined && typeof v !== 'string') throw invalid(`${field}/${name}`, v, `${JSON.stringify(v)} is not of type 'string'`);
    }
    if (typeof port === 'string' && port !== '') {
      if (!UUID.test(port)) throw new ApiError('InvalidInput', `Bad networks format: port uuid is not in proper format (${port})`);
      if (ports.has(port)) throw new ApiError('InvalidInput', `Port ${port} is given more than once`);
      ports.add(port);
      return { port };
    }
    if (typeof uuid !== 'string' || !UUID.test(uuid)) {
      throw new ApiError('InvalidInput', `Bad networks format: network uuid is not in proper format (${String(uuid ?? '')})`);
    }
    return typeof fixedIp === 'string' ? { network: uuid, fixedIp } : { network: uuid };
  });
}

/** The body of POST /servers, checked field by field with messages that name the field. */
/** `minor`: the request's microversion 2.<minor>. */
export function parseBootRequest(body: unknown, minor: number, projectId: string | null, zones: readonly string[]): BootRequest {
  const server = (body as { server?: unknown } | null | undefined)?.server;
  if (server === null || typeof server !== 'object' || Array.isArray(server))
    throw invalid('server', server ?? null, "'server' is a required property of type 'object'");
  const fields = server as Record<string, unknown>;
  const name = text(fields, 'name', true)!;
  if (name.trim() === '' || name.length > 255 || name.trim() !== name) {
    throw invalid('name', name, 'A name must be 1 to 255 characters without leading or trailing whitespace');
  }
  const flavorId = reference(fields, 'flavorRef');
  const flavor = findFlavor(flavorId);
  if (!flavor) throw new ApiError('InvalidInput', `Flavor ${flavorId} could not be found.`);
  const imageId = reference(fields, 'imageRef');
  const image = findImage(imageId);
  if (!image) throw new ApiError('InvalidInput', `Can not find requested image ${imageId}.`);
  const availabilityZone = text(fields, 'availability_zone', false);
  if (availabilityZone !== undefined && !zones.includes(availabilityZone)) {
    throw new ApiError('InvalidInput', `The requested availability zone is not available: ${availabilityZone}`);
  }
  for (const count of ['min_count', 'max_count'] as const) {
    const value = fields[count];
    if (value !== undefined && value !== 1 && value !== '1') throw invalid(count, value, 'This compute service boots one server per request');
  }
  return { name, flavor, image, availabilityZone, networks: networkRequests(fields.networks, minor, projectId) };
}
