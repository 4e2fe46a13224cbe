export { createNeutronApi, type NeutronApiOptions } from './app.js';
export { createNeutronCore, type NeutronPlugin, type ResourceOperations, type CoreDeps } from './core/index.js';
export { RESOURCES } from './resources/index.js';
export { Agents } from './agents.js';
