import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, maskSecret, showConfig } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'tricircle-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('configuration', () => {
  it('has upstream defaults when nothing is given', () => {
    const { config } = loadConfig({ env: {} });
    assert.equal(config.DEFAULT.bind_host, '0.0.0.0');
    assert.equal(config.DEFAULT.bind_port, 19999);
    assert.equal(config.DEFAULT.auth_strategy, 'keystone');
    assert.equal(config.DEFAULT.pagination_max_limit, 2000);
    assert.equal(config.database.connection, null);
    assert.equal(config.xjob.job_run_expire, 180);
  });

  it('reads INI files in order, later files winning, then the environment', () => {
    const first = file('a.conf', '[DEFAULT]\nbind_port = 1000\nauth_strategy = noauth\n[database]\nconnection = sqlite:///a.db\n');
    const second = file('b.conf', '[DEFAULT]\nbind_port = 2000\n');
    const loaded = loadConfig({ files: [first, second], env: { TRICIRCLE_DATABASE__CONNECTION: 'postgresql://u:pw@h/db' } });
    assert.equal(loaded.config.DEFAULT.bind_port, 2000);
    assert.equal(loaded.config.DEFAULT.auth_strategy, 'noauth');
    assert.equal(loaded.config.database.connection, 'postgresql://u:pw@h/db');
    assert.deepEqual(loaded.origins.DEFAULT!.bind_port, { file: second });
    assert.equal(loaded.origins.database!.connection, 'env');
  });

  it('lets command overrides change defaults but not files', () => {
    const conf = file('c.conf', '[DEFAULT]\nauth_strategy = keystone\n');
    assert.equal(loadConfig({ env: {}, overrides: { DEFAULT: { auth_strategy: 'noauth' } } }).config.DEFAULT.auth_strategy, 'noauth');
    assert.equal(loadConfig({ env: {}, files: [conf], overrides: { DEFAULT: { auth_strategy: 'noauth' } } }).config.DEFAULT.auth_strategy, 'keystone');
  });

  it('stops on an invalid value, naming the option and the file', () => {
    const bad = file('bad.conf', '[DEFAULT]\nbind_port = lots\n');
    assert.throws(
      () => loadConfig({ files: [bad], env: {} }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /\[DEFAULT\] bind_port in .*bad\.conf: 'lots' is not an integer/);
        return true;
      },
    );
    const range = file('range.conf', '[DEFAULT]\nbind_port = 70000\n');
    assert.throws(() => loadConfig({ files: [range], env: {} }), /bind_port .* above the maximum 65535/);
    assert.throws(
      () => loadConfig({ env: { TRICIRCLE_DEFAULT__AUTH_STRATEGY: 'open' } }),
      /auth_strategy from the environment: 'open' is not one of keystone, noauth/,
    );
    assert.throws(() => loadConfig({ files: [join(dir, 'missing.conf')], env: {} }), /Cannot read config file .*missing\.conf/);
  });

  it('reports unknown options instead of failing on them', () => {
    const extra = file('extra.conf', '[DEFAULT]\nverbose = true\n[neutron]\nurl = x\n');
    const { unknown } = loadConfig({ files: [extra], env: {} });
    assert.equal(unknown.length, 2);
    assert.match(unknown[0]!, /\[DEFAULT\] verbose in .*extra\.conf/);
  });

  it('shows effective values with their origin and masks secrets', () => {
    const conf = file('s.conf', '[database]\nconnection = mysql://tricircle:s3cret@db/tricircle\n[keystone_authtoken]\npassword = hunter2\n');
    const text = showConfig(loadConfig({ files: [conf], env: {} }));
    assert.match(text, /connection = mysql:\/\/tricircle:\*\*\*@db\/tricircle {4}# .*s\.conf/);
    assert.match(text, /password = \*\*\* {4}#/);
    assert.doesNotMatch(text, /s3cret|hunter2/);
    assert.match(text, /bind_port = 19999 {4}# default/);
    assert.equal(maskSecret('sqlite:///x.db'), 'sqlite:///x.db');
  });
});
