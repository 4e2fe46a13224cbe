export { createAdminApi, type AdminApiOptions } from './app.js';
export { ADMIN_API_RULES } from './policy.js';
export { KIND_BY_STATUS } from './render.js';
