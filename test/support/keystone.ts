import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const UP_SCRIPT = fileURLToPath(new URL('../../scripts/keystone-up.sh', import.meta.url));

/**
 * The real Keystone of scripts/keystone-up.sh (started, or reused when it runs): its v3 URL,
 * or why there is none. With TRICIRCLE_TEST_REQUIRE_KEYSTONE=1 (CI) a missing Keystone is an
 * error rather than a reason to skip.
 */
export function keystoneUp(): Promise<{ url?: string; problem?: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', [UP_SCRIPT], { maxBuffer: 10 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve({ url: stdout.trim().split('\n').pop() });
      const lastLines = [...new Set(stderr.trim().split('\n'))].slice(-3).join(' | ');
      const problem = `scripts/keystone-up.sh failed (${err.message.split('\n')[0]}): ${lastLines}`;
      if (process.env.TRICIRCLE_TEST_REQUIRE_KEYSTONE === '1') reject(new Error(problem));
      else resolve({ problem });
    });
  });
}

/** A token of `user` scoped to `project` (both in domain Default), from the Keystone at `keystone`. */
export async function issueToken(keystone: string, user: string, password: string, project: string): Promise<string> {
  const response = await fetch(`${keystone}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, password, domain: { id: 'default' } } } },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    }),
  });
  await response.text();
  const token = response.headers.get('x-subject-token');
  if (response.status !== 201 || !token) throw new Error(`Keystone refused a token to ${user} (${response.status})`);
  return token;
}

/**
 * The options of a service that validates tokens against `keystone` as the tricircle service
 * user, with no token cache: a token revoked in Keystone is refused at once.
 */
export function keystoneAuthOptions(keystone: string) {
  return {
    DEFAULT: { auth_strategy: 'keystone' },
    keystone_authtoken: {
      auth_url: keystone,
      username: 'tricircle',
      password: 'tricircle',
      project_name: 'service',
      token_cache_time: '0',
      http_connect_timeout: '60',
    },
  };
}
