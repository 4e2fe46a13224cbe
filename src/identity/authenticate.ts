import { ApiError } from '../http/index.js';
import { passwordMatches, type Directory, type Domain, type Project, type User } from './directory.js';
import type { TokenRecord, TokenStore } from './tokens.js';

// POST /v3/auth/tokens: who the caller is (password or token method) and which project the
// new token is for. Every credential problem is the same 401, as Keystone answers, so that
// the answer does not tell which of the user, the password or the project was wrong.

/** What a new token is issued for. */
export interface Grant {
  user: User;
  project: Project | null;
  methods: string[];
  /** The audit id of the token this one is re-scoped from, if any. */
  parentAuditId: string | null;
  /** A re-scoped token expires with the token it came from. */
  expiresAt: string | null;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

export const unauthorized = (message = 'The request you have made requires authentication.') => new ApiError('NotAuthenticated', message);

/** `value[key]`, which must be an object when present. */
function objectAt(value: Json, key: string, path: string, required: boolean): Json | undefined {
  const found = value[key];
  if (found === undefined && !required) return undefined;
  if (!isObject(found)) throw new ApiError('InvalidInput', `'${path}${key}' must be an object`);
  return found;
}

function stringAt(value: Json, key: string, path: string): string | undefined {
  const found = value[key];
  if (found === undefined) return undefined;
  if (typeof found !== 'string') throw new ApiError('InvalidInput', `'${path}${key}' must be a string`);
  return found;
}

/** A domain reference ({id} or {name}) matches our one domain. */
function domainMatches(domain: Domain, ref: Json | undefined, path: string): boolean {
  if (!ref) return false;
  const id = stringAt(ref, 'id', path);
  const name = stringAt(ref, 'name', path);
  return (id !== undefined && id === domain.id) || (id === undefined && name !== undefined && name === domain.name);
}

/** An object named by id, or by name within a domain, as Keystone's user and project references do. */
function byReference<T extends { id: string; name: string; domain: Domain }>(items: T[], ref: Json, path: string): T | undefined {
  const id = stringAt(ref, 'id', path);
  if (id !== undefined) return items.find((item) => item.id === id);
  const name = stringAt(ref, 'name', path);
  if (name === undefined) throw new ApiError('InvalidInput', `'${path}' needs an id, or a name and a domain`);
  const domain = objectAt(ref, 'domain', `${path}.`, false);
  return items.find((item) => item.name === name && domainMatches(item.domain, domain, `${path}.domain.`));
}

export class Authenticator {
  constructor(
    private readonly directory: Directory,
    private readonly tokens: TokenStore,
  ) {}

  userById(id: string): User | undefined {
    return this.directory.users.find((u) => u.id === id);
  }

  projectById(id: string | null): Project | null {
    return (id && this.directory.projects.find((p) => p.id === id)) || null;
  }

  /** The user and project of a valid token, or null. */
  async resolve(token: string | undefined): Promise<{ record: TokenRecord; user: User; project: Project | null } | null> {
    const record = token ? await this.tokens.find(token) : null;
    const user = record && this.userById(record.userId);
    return record && user ? { record, user, project: this.projectById(record.projectId) } : null;
  }

  /** Checks the body of POST /v3/auth/tokens; throws 400 for a malformed one, 401 for refused credentials. */
  async grant(body: unknown): Promise<Grant> {
    if (!isObject(body)) throw new ApiError('InvalidInput', 'The request body must be a JSON object');
    const auth = objectAt(body, 'auth', '', true)!;
    const identity = objectAt(auth, 'identity', 'auth.', true)!;
    const methods = identity.methods;
    if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === 'string')) {
      throw new ApiError('InvalidInput', "'auth.identity.methods' must be a non-empty list of strings");
    }
    if (methods.some((m) => m !== 'password' && m !== 'token')) throw unauthorized('Attempted to authenticate with an unsupported method.');

    let user: User | undefined;
    let inherited: TokenRecord | null = null;
    if (methods.includes('token')) {
      const id = stringAt(objectAt(identity, 'token', 'auth.identity.', true)!, 'id', 'auth.identity.token.');
      if (id === undefined) throw new ApiError('InvalidInput', "'auth.identity.token.id' is required");
      const resolved = await this.resolve(id);
      if (!resolved) throw unauthorized();
      user = resolved.user;
      inherited = resolved.record;
    }
    if (methods.includes('password')) {
      const password = objectAt(identity, 'password', 'auth.identity.', true)!;
      const ref = objectAt(password, 'user', 'auth.identity.password.', true)!;
      const secret = stringAt(ref, 'password', 'auth.identity.password.user.');
      const found = byReference(this.directory.users, ref, 'auth.identity.password.user');
      if (!found || secret === undefined || !passwordMatches(found, secret) || (user && user.id !== found.id)) throw unauthorized();
      user = found;
    }

    const scope = auth.scope;
    let project: Project | null = null;
    if (scope !== undefined) {
      if (!isObject(scope)) throw new ApiError('InvalidInput', "'auth.scope' must be an object");
      const ref = objectAt(scope, 'project', 'auth.scope.', false);
      if (!ref) throw unauthorized('Only project scope is supported by this identity service.');
      project = byReference(this.directory.projects, ref, 'auth.scope.project') ?? null;
      if (!project || !user!.roles.has(project.id)) throw unauthorized();
    }
    return {
      user: user!,
      project,
      methods: [...new Set([...methods, ...(inherited?.methods ?? [])])],
      parentAuditId: inherited?.auditIds[0] ?? null,
      expiresAt: inherited?.expiresAt ?? null,
    };
  }
}
