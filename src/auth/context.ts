import type { FastifyBaseLogger } from 'fastify';

/** Who is asking, as every operation sees it. */
export interface Identity {
  userId: string | null;
  userName: string | null;
  projectId: string | null;
  projectName: string | null;
  roles: string[];
  authToken: string | null;
}

export interface RequestContext extends Identity {
  requestId: string;
  isAdmin: boolean;
  log: FastifyBaseLogger;
}

export function makeContext(identity: Identity, requestId: string, log: FastifyBaseLogger): RequestContext {
  return {
    ...identity,
    requestId,
    isAdmin: identity.roles.some((role) => role.toLowerCase() === 'admin'),
    log: log.child({ user_id: identity.userId, project_id: identity.projectId }),
  };
}

/** The credentials policy rules test (`role:`, `is_admin:`, `project_id:` ...). */
export function credentialsOf(ctx: RequestContext): Record<string, unknown> {
  return {
    user_id: ctx.userId,
    project_id: ctx.projectId,
    tenant_id: ctx.projectId,
    roles: ctx.roles,
    is_admin: ctx.isAdmin,
  };
}
