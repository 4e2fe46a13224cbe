import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/index.js';

// The fixed contents of the identity service: one domain, the admin and demo users and
// projects, three roles. Ids are derived from the names, so they are the same on every
// start and on every machine, and nothing but tokens needs storing.

export interface Domain {
  id: string;
  name: string;
}

export interface Role {
  id: string;
  name: string;
}

export interface Project {
  id: string;
  name: string;
  domain: Domain;
  description: string;
}

export interface User {
  id: string;
  name: string;
  domain: Domain;
  /** SHA-256 of the password, compared in constant time. */
  passwordDigest: Buffer;
  /** The roles the user has on each project, by project id. */
  roles: Map<string, Role[]>;
}

export interface Directory {
  domain: Domain;
  projects: Project[];
  users: User[];
  roles: Role[];
}

/** A 32-hex-digit id, like Keystone's, that depends only on `kind` and `name`. */
export const derivedId = (kind: string, name: string) => createHash('sha256').update(`tricircle-identity:${kind}:${name}`).digest('hex').slice(0, 32);

const digest = (password: string) => createHash('sha256').update(password, 'utf8').digest();

export function buildDirectory(config: Config): Directory {
  const domain: Domain = { id: 'default', name: 'Default' };
  const role = (name: string): Role => ({ id: derivedId('role', name), name });
  const [admin, member, reader] = [role('admin'), role('member'), role('reader')];
  const project = (name: string, description: string): Project => ({ id: derivedId('project', name), name, domain, description });
  const adminProject = project('admin', 'Project of the admin user');
  const demoProject = project('demo', 'Project of the demo user');
  const user = (name: string, password: string, projectId: string, roles: Role[]): User => ({
    id: derivedId('user', name),
    name,
    domain,
    passwordDigest: digest(password),
    roles: new Map([[projectId, roles]]),
  });
  return {
    domain,
    projects: [adminProject, demoProject],
    users: [
      user('admin', config.identity.admin_password, adminProject.id, [admin, member, reader]),
      user('demo', config.identity.demo_password, demoProject.id, [member, reader]),
    ],
    roles: [admin, member, reader],
  };
}

export function passwordMatches(user: User, password: string): boolean {
  return timingSafeEqual(user.passwordDigest, digest(password));
}
