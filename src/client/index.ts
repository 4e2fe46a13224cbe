// The regions' Neutrons as XJob handlers reach them (ctx.clients.neutron(region)): an admin
// token from Keystone, endpoints from the cached_endpoints table and Keystone's catalog.
export { AdminRegionClients, regionClientOptions, regionClientsFor, staticEndpoints, type RegionClientOptions } from './region-clients.js';
export { AdminNeutron, NeutronRequestError, neutronErrorOf, neutronUrl, type TokenSource } from './neutron.js';
export { EndpointDirectory, EndpointNotFoundError, RegionNotFoundError, NEUTRON_SERVICE_TYPE } from './endpoints.js';
export { KeystoneAdmin, KeystoneError, type AdminCredentials } from './keystone.js';
export { ServiceUnreachableError, USER_AGENT, exchange, parseJson } from './http.js';
