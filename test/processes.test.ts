import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MIGRATION_NAMES } from '../src/db/index.js';
import { engines } from './support/engines.js';

// The `tricircle` command as an operator runs it: start-up, configuration errors and schema
// management on each engine (`tricircle up`, and graceful shutdown: test/up.test.ts).

const dir = mkdtempSync(join(tmpdir(), 'tricircle-proc-'));
const BIN = join(import.meta.dirname, '..', 'bin', 'tricircle.js');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function conf(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('the tricircle command', () => {
  it('refuses to start on an invalid option, naming it and its file', async () => {
    const bad = conf('bad.conf', '[DEFAULT]\nauth_strategy = nobody\n');
    const r = await run(['admin-api', '--config-file', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /configuration error: Invalid value for option \[DEFAULT\] auth_strategy in .*bad\.conf: 'nobody' is not one of keystone, noauth/);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  });

  it('shows the effective configuration with secrets masked', async () => {
    const file = conf('show.conf', '[database]\nconnection = postgresql://tc:topsecret@db.example/tc\n');
    const r = await run(['config', 'show', '--config-file', file], { TRICIRCLE_DEFAULT__BIND_PORT: '20999' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /bind_port = 20999 {4}# env/);
    assert.match(r.stdout, /connection = postgresql:\/\/tc:\*\*\*@db\.example\/tc/);
    assert.doesNotMatch(r.stdout, /topsecret/);
  });
});

for (const engine of await engines()) {
  if (engine.name === 'sqlite') continue;
  describe(`tricircle db on ${engine.name}`, { skip: engine.skip }, () => {
    const created: Array<() => Promise<void>> = [];
    after(async () => {
      for (const drop of created) await drop();
    });

    it('refuses to serve an unmigrated shared database, then migrates it once', async () => {
      const database = await engine.create();
      created.push(database.drop);
      const env = { TRICIRCLE_DATABASE__CONNECTION: database.connection, TRICIRCLE_DEFAULT__BIND_PORT: '0' };
      const refused = await run(['admin-api'], env);
      assert.equal(refused.code, 1);
      assert.ok(refused.stderr.includes(`schema is at nothing, this version needs ${MIGRATION_NAMES.at(-1)}: run 'tricircle db sync'`), refused.stderr);
      assert.equal((await run(['db', 'version'], env)).stdout.trim(), 'none');
      const sync = await run(['db', 'sync'], env);
      assert.equal(sync.code, 0, sync.stderr);
      assert.ok(sync.stdout.includes(`applied: ${MIGRATION_NAMES.join(', ')}`), sync.stdout);
      const again = await run(['db', 'sync'], env);
      assert.match(again.stdout, /already up to date/);
      assert.equal((await run(['db', 'version'], env)).stdout.trim(), MIGRATION_NAMES.at(-1));
      const unknown = await run(['db', 'sync', '--version', '999_future'], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /unknown migration '999_future'/);
    });
  });
}
