import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/index.js';
import { neutronUrl, regionClientOptions } from './index.js';

describe('neutronUrl', () => {
  it('joins a path to an endpoint with or without a trailing slash or /v2.0', () => {
    for (const endpoint of ['http://n:9696', 'http://n:9696/', 'http://n:9696/v2.0', 'http://n:9696/v2.0/', 'http://n:9696//']) {
      assert.equal(neutronUrl(endpoint, '/v2.0/networks?name=a'), 'http://n:9696/v2.0/networks?name=a', endpoint);
    }
    assert.equal(neutronUrl('http://h/networking/', '/v2.0/ports'), 'http://h/networking/v2.0/ports');
    assert.equal(neutronUrl('http://h/networking', 'v2.0/ports'), 'http://h/networking/v2.0/ports');
  });
});

describe('regionClientOptions', () => {
  const options = (client: Record<string, string>) => regionClientOptions(loadConfig({ env: {}, overrides: { client } }).config);

  it('is null without credentials, so that jobs fail saying [client] is not set', () => {
    assert.equal(options({}), null);
  });

  it('maps the upstream option names, with their defaults', () => {
    assert.deepEqual(options({ auth_url: 'http://k:5000', admin_username: 'u', admin_password: 'p', admin_tenant: 't' }), {
      authUrl: 'http://k:5000',
      username: 'u',
      password: 'p',
      projectName: 't',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      topRegionName: 'CentralRegion',
      autoRefreshEndpoint: true,
      timeoutSeconds: 60,
    });
  });

  it('refuses part of the credentials, naming what is missing', () => {
    assert.throws(() => options({ admin_username: 'u', admin_password: 'p' }), {
      name: 'ConfigError',
      message: /\[client\] auth_url, admin_tenant must be set too/,
    });
  });
});
