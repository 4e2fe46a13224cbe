import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MIGRATION_NAMES } from '../src/db/index.js';
import { engines } from './support/engines.js';
import { until } from './support/xjob-processes.js';

// The `tricircle` command as an operator runs it: start-up, configuration errors, schema
// management on each engine, and graceful shutdown.

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

/** Starts a server command and resolves with its base URL once it says it listens. */
function startServer(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    const exited = new Promise<number | null>((r) => child.on('close', r));
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on (http:\/\/[^/\s]+)/.exec(stderr);
      if (m) resolve({ child, url: m[1]!, exited });
    });
    child.on('close', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
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

  it('finishes an in-flight request after SIGTERM, then exits 0', async () => {
    const env = {
      TRICIRCLE_DEFAULT__BIND_HOST: '127.0.0.1',
      TRICIRCLE_DEFAULT__BIND_PORT: '0',
      TRICIRCLE_DEFAULT__STATE_PATH: join(dir, 'state'),
      TRICIRCLE_DEFAULT__LOG_LEVEL: 'warn',
      // The regions' Neutrons and computes on free ports too.
      TRICIRCLE_NEUTRON__BIND_PORT: '0',
      TRICIRCLE_COMPUTE__BIND_PORT: '0',
    };
    const server = await startServer(['up'], env);
    const { hostname, port } = new URL(server.url);
    // `up` registered the central pod and the two regions it serves.
    const pods = async () => ((await (await fetch(`${server.url}/v1.0/pods`)).json()) as { pods: Array<{ region_name: string; az_name: string }> }).pods;
    // The regions start once the Admin API already answers.
    await until('the regions to be registered', async () => (await pods()).length === 3, 30_000, 100);
    assert.deepEqual((await pods()).map((pod) => `${pod.region_name}/${pod.az_name}`).sort(), ['CentralRegion/', 'RegionOne/az1', 'RegionTwo/az2']);
    const body = JSON.stringify({ pod: { region_name: 'RegionThree', az_name: 'az3' } });
    // Send the headers (asking for 100 Continue, so we know the server has the request in
    // hand) and half the body, signal the server, then send the rest.
    const socket = connect(Number(port), hostname);
    await new Promise((r) => socket.once('connect', r));
    let response = '';
    socket.on('data', (d) => (response += d));
    const closed = new Promise((r) => socket.once('close', r));
    socket.write(
      `POST /v1.0/pods HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
        'Expect: 100-continue\r\nConnection: close\r\n\r\n',
    );
    while (!response.includes('100 Continue')) await new Promise((r) => setTimeout(r, 20));
    socket.write(body.slice(0, 10));
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    socket.write(body.slice(10));
    await closed;
    assert.match(response, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.match(response, /"region_name":"RegionThree"/);
    assert.equal(await server.exited, 0);
    await assert.rejects(fetch(`${server.url}/`), 'no longer listening');
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
