import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from './cleanup.js';

// A `tricircle` service run as its own process, as in production, so that the load generator
// never shares the server's event loop.

const BIN = fileURLToPath(new URL('../../bin/tricircle.js', import.meta.url));

export interface ServerOptions {
  /** The subcommand and its arguments, e.g. ['admin-api']. */
  args: string[];
  /** Extra environment (TRICIRCLE_<SECTION>__<OPTION> overrides); the bench's own is inherited. */
  env: Record<string, string>;
  /** Path answered with 200 once the server is ready. */
  readyPath?: string;
  /** Where the server's standard output (its JSON log) goes. */
  logFile: string;
  /** Flags for node itself, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  nodeFlags?: string[];
  startTimeoutMs?: number;
  /**
   * The config section whose bind_host/bind_port the service listens on: DEFAULT for the
   * Admin API (the default), NEUTRON for `neutron-server`.
   */
  bindSection?: string;
}

export interface ServerProcess {
  readonly pid: number;
  readonly url: string;
  /** CPU seconds (user + system, all threads) the server has used so far; undefined off Linux. */
  cpuSeconds(): number | undefined;
  /** SIGTERM, wait for a graceful exit, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** A port that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on every Linux we run on

/** utime + stime of a process (all its threads), from /proc. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the server, waits until `readyPath` answers 200, and registers its stop with `cleanup`. */
export async function startServer(options: ServerOptions, cleanup: Cleanup): Promise<ServerProcess> {
  const port = await freePort();
  const host = '127.0.0.1';
  const url = `http://${host}:${port}`;
  const logFd = openSync(options.logFile, 'a');
  const section = options.bindSection ?? 'DEFAULT';
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), BIN, ...options.args], {
    env: {
      ...process.env,
      [`TRICIRCLE_${section}__BIND_HOST`]: host,
      [`TRICIRCLE_${section}__BIND_PORT`]: String(port),
      ...options.env,
    },
    stdio: ['ignore', logFd, 'pipe'],
  });
  closeSync(logFd);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });

  let stopped = false;
  const stop = async (graceMs = 15_000) => {
    if (stopped) return exited(child);
    stopped = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited(child);
    clearTimeout(timer);
  };
  const unregister = cleanup.add(`stop server pid ${child.pid}`, () => stop());

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  const readyUrl = `${url}${options.readyPath ?? '/healthz'}`;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited during start-up (${child.exitCode ?? child.signalCode}):\n${stderr}`);
    }
    try {
      const response = await fetch(readyUrl);
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not answer ${readyUrl} in time:\n${stderr}`);
    await sleep(100);
  }

  return {
    pid: child.pid!,
    url,
    cpuSeconds: () => procCpuSeconds(child.pid!),
    stop: async (graceMs?: number) => {
      await stop(graceMs);
      await unregister();
    },
  };
}

/** Runs `tricircle <args>` to completion (e.g. `db sync`); rejects with its output if it fails. */
export async function runTricircle(args: string[], env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  await exited(child);
  if (child.exitCode !== 0) throw new Error(`tricircle ${args.join(' ')} failed (${child.exitCode ?? child.signalCode}):\n${output}`);
  return output;
}

/**
 * Fastify's own view of its time per request: the mean of the server's
 * http_request_duration_seconds histogram for one route and method, between two scrapes of /metrics.
 */
export async function scrapeRouteTiming(baseUrl: string, route: string, method = 'GET'): Promise<{ count: number; sumSeconds: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let count = 0;
  let sumSeconds = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_request_duration_seconds_')) continue;
    if (!line.includes(`route="${route}"`) || !line.includes(`method="${method}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('http_request_duration_seconds_count')) count += value;
    else if (line.startsWith('http_request_duration_seconds_sum')) sumSeconds += value;
  }
  return { count, sumSeconds };
}
