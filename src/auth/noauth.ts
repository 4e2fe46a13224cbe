import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from './context.js';

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text && text.trim() !== '' ? text.trim() : null;
}

/**
 * auth_strategy = noauth: identity comes from the X-User-Id, X-Project-Id (or X-Tenant-Id)
 * and X-Roles headers. A request with none of them acts as admin of `defaultProject`, so
 * `openstack --os-auth-type none --os-endpoint URL ...` works against a development server.
 */
export function noauthIdentity(headers: IncomingHttpHeaders, defaultProject: string): Identity {
  const userId = header(headers, 'x-user-id');
  const projectId = header(headers, 'x-project-id') ?? header(headers, 'x-tenant-id');
  const roles = header(headers, 'x-roles');
  if (userId === null && projectId === null && roles === null) {
    return { userId: 'admin', userName: 'admin', projectId: defaultProject, projectName: defaultProject, roles: ['admin'], authToken: null };
  }
  return {
    userId,
    userName: header(headers, 'x-user-name'),
    projectId,
    projectName: header(headers, 'x-project-name') ?? header(headers, 'x-tenant-name'),
    roles:
      roles === null
        ? []
        : roles
            .split(',')
            .map((r) => r.trim())
            .filter((r) => r !== ''),
    authToken: header(headers, 'x-auth-token'),
  };
}
