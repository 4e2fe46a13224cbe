import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openstackClientMissing } from './support/openstack-client.js';

// The README's walkthrough as CI runs it: the real `tricircle up` on a fresh data directory and
// free ports, then scripts/walkthrough.sh (Debian's openstack client and the tricircle CLI, with
// the credentials `up` wrote), which checks every region after every step; then SIGTERM.

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'tricircle.js');
const SCRIPT = join(ROOT, 'scripts', 'walkthrough.sh');
const REGIONS = 2;
// identity, Admin API, central Neutron, then a Neutron and a compute per region.
const PORTS = 3 + 2 * REGIONS;

const missing = openstackClientMissing();

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A base port whose PORTS consecutive ports are all free now. */
async function freePortRange(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral ports (32768 up), which outgoing connections could take meanwhile.
    const base = 21_000 + Math.floor(Math.random() * (11_000 - PORTS));
    const free = await Promise.all(Array.from({ length: PORTS }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ${PORTS} consecutive free ports found`);
}

// The host's OS_* variables (a cloud, a token) must not steer the clients under test.
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_')));

describe('the README walkthrough against tricircle up', { skip: missing }, () => {
  let dataDir: string;
  let up: ChildProcess;
  let upExit: Promise<number | null>;
  let upStderr = '';

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tricircle-walkthrough-'));
    const basePort = await freePortRange();
    up = spawn(process.execPath, [BIN, 'up', '--regions', String(REGIONS), '--data-dir', dataDir, '--base-port', String(basePort)], {
      env: { ...cleanEnv(), TRICIRCLE_DEFAULT__LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    upExit = new Promise((resolve) => up.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tricircle up was not ready in 60 s:\n${upStderr}`)), 60_000);
      up.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        upStderr += chunk;
        if (upStderr.includes('tricircle up: ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void upExit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`tricircle up exited with ${code} during start-up:\n${upStderr}`));
      });
    });
  });

  after(async () => {
    if (up && up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs every step, each region showing what the reference says', async () => {
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile('bash', [SCRIPT, dataDir], { env: cleanEnv(), maxBuffer: 32 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}\n${stderr}` });
      });
    });
    assert.equal(result.code, 0, `walkthrough.sh failed:\n${result.output.slice(-6000)}\n--- tricircle up:\n${upStderr.slice(-3000)}`);
    assert.match(result.output, /every step ran and every region shows what it should/);
  });

  it('stops tricircle up on SIGTERM with exit status 0', async () => {
    up.kill('SIGTERM');
    assert.equal(await upExit, 0, upStderr.slice(-3000));
  });
});
