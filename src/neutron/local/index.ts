export { createLocalPlugin, localPluginFor, type LocalRoleOptions } from './plugin.js';
export { CentralNeutron, LOCAL_USER_AGENT, reachesCentral } from './central.js';
export { reservedMac } from './mirror.js';
export { regionPools, type Pool } from './pools.js';
