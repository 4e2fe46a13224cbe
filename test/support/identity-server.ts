import { createIdentityApi, type CatalogEndpoint } from '../../src/identity/index.js';
import { serveOnLoopback, testRuntime, type Overrides } from './runtime.js';

export interface RunningIdentityApi {
  url: string;
  close(): Promise<void>;
}

/** A real identity service on 127.0.0.1 and a free port; `catalog` is asked at each request. */
export async function startIdentityApi(connection: string, catalog: () => CatalogEndpoint[], overrides: Overrides = {}): Promise<RunningIdentityApi> {
  const { config, db, logger } = await testRuntime(connection, overrides);
  return serveOnLoopback(createIdentityApi({ config, db, logger, catalog }), db);
}

/** A token from the identity service at `url` (POST /v3/auth/tokens), for `user` in `project` of domain Default. */
export async function identityToken(url: string, user: string, password: string, project?: string): Promise<string> {
  const response = await fetch(`${url}/v3/auth/tokens?nocatalog`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, password, domain: { name: 'Default' } } } },
        ...(project === undefined ? {} : { scope: { project: { name: project, domain: { id: 'default' } } } }),
      },
    }),
  });
  await response.text();
  const token = response.headers.get('x-subject-token');
  if (response.status !== 201 || !token) throw new Error(`the identity service refused a token to ${user} (${response.status})`);
  return token;
}
