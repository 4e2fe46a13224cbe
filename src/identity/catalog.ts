import { derivedId } from './directory.js';

/** One service URL in one region, as the embedding process (tricircle up, tests) knows it. */
export interface CatalogEndpoint {
  type: 'identity' | 'network' | 'compute' | 'image' | 'tricircle';
  region: string;
  url: string;
}

export const SERVICE_NAMES: Record<CatalogEndpoint['type'], string> = {
  identity: 'keystone',
  network: 'neutron',
  compute: 'nova',
  image: 'glance',
  tricircle: 'tricircle',
};

const INTERFACES = ['public', 'internal', 'admin'] as const;

export interface Service {
  id: string;
  type: CatalogEndpoint['type'];
  name: string;
}

export interface Endpoint {
  id: string;
  interface: (typeof INTERFACES)[number];
  region: string;
  serviceId: string;
  url: string;
}

export interface Catalog {
  services: Service[];
  endpoints: Endpoint[];
  regions: string[];
}

const serviceOf = (type: CatalogEndpoint['type']): Service => ({ id: derivedId('service', type), type, name: SERVICE_NAMES[type] });

/**
 * The services and endpoints of `entries`, each entry in the three interfaces. Every region
 * gets an identity endpoint: the one of `ownRegion` when no entry names one there, because
 * clients look for the identity service in the region they are told to use, and this one
 * service is the identity of all of them.
 */
export function expandCatalog(entries: CatalogEndpoint[], ownRegion: string, ownUrl: string): Catalog {
  const regions = [...new Set([ownRegion, ...entries.map((e) => e.region)])].sort();
  const identityUrl = entries.find((e) => e.type === 'identity' && e.region === ownRegion)?.url ?? ownUrl;
  const all = [...entries];
  for (const region of regions) {
    if (!entries.some((e) => e.type === 'identity' && e.region === region)) all.push({ type: 'identity', region, url: identityUrl });
  }
  const services = new Map<string, Service>();
  const endpoints: Endpoint[] = [];
  for (const entry of all) {
    const service = serviceOf(entry.type);
    services.set(service.id, service);
    for (const iface of INTERFACES) {
      endpoints.push({
        id: derivedId('endpoint', `${entry.type}|${entry.region}|${iface}|${entry.url}`),
        interface: iface,
        region: entry.region,
        serviceId: service.id,
        url: entry.url,
      });
    }
  }
  return { services: [...services.values()], endpoints, regions };
}

/** The `catalog` of a scoped token: each service with its endpoints. */
export function renderTokenCatalog(catalog: Catalog) {
  return catalog.services.map((service) => ({
    endpoints: catalog.endpoints
      .filter((e) => e.serviceId === service.id)
      .map((e) => ({ id: e.id, interface: e.interface, region_id: e.region, url: e.url, region: e.region })),
    id: service.id,
    type: service.type,
    name: service.name,
  }));
}

/** `[identity] endpoints`: `type:Region=URL` entries. */
export function parseCatalogEntries(entries: string[]): CatalogEndpoint[] {
  return entries.map((entry) => {
    const match = /^([a-z]+):([^=]+)=(https?:\/\/\S+)$/.exec(entry.trim());
    const type = match?.[1] as CatalogEndpoint['type'] | undefined;
    if (!match || !type || !(type in SERVICE_NAMES)) {
      throw new Error(`[identity] endpoints: '${entry}' is not type:Region=URL with type one of ${Object.keys(SERVICE_NAMES).join(', ')}`);
    }
    return { type, region: match[2]!, url: match[3]! };
  });
}
