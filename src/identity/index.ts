// The identity service: the part of Keystone v3 that the openstack client, openstacksdk and
// our own services use, for tricircle up and the tests (docs/identity.md).
export { createIdentityApi, type IdentityApiOptions } from './app.js';
export { SERVICE_NAMES, parseCatalogEntries, type CatalogEndpoint } from './catalog.js';
