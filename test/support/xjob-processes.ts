import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp, { type ChannelModel } from 'amqplib';

// Real `tricircle xjob` processes for the multi-process tests: configuration files, start
// and stop, and the broker side (their queue, and dropping their connections).

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tricircle.js');
export const HANDLER_MODULE = join(import.meta.dirname, 'xjob-handlers.ts');
export const TRANSPORT_URL = 'rabbit://guest:guest@127.0.0.1:5672/';
const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672/%2F';
const run = promisify(execFile);

/** An exchange no other test file or earlier run uses, so its queue holds only this test's wake-ups. */
export const uniqueExchange = () => `xjob_test_${randomBytes(6).toString('hex')}`;

const configDir = mkdtempSync(join(tmpdir(), 'tricircle-xjob-'));

/** Writes an INI file from sections of options and returns its path. */
export function writeConfig(sections: Record<string, Record<string, string | number>>): string {
  const text = Object.entries(sections)
    .map(
      ([section, options]) =>
        `[${section}]\n${Object.entries(options)
          .map(([k, v]) => `${k} = ${v}\n`)
          .join('')}`,
    )
    .join('\n');
  const path = join(configDir, `${randomBytes(6).toString('hex')}.conf`);
  writeFileSync(path, text);
  return path;
}

/** `tricircle db sync` on a fresh shared database. */
export async function syncDatabase(connection: string): Promise<void> {
  await run(process.execPath, [BIN, 'db', 'sync'], { env: { ...process.env, TRICIRCLE_DATABASE__CONNECTION: connection } });
}

export interface XJobProcess {
  child: ChildProcess;
  pid: number;
  /** The exit code (null when killed by a signal) once the process has ended. */
  exited: Promise<number | null>;
  /** Everything it wrote so far, standard error then the JSON log, for assertion messages. */
  output(): string;
}

/** Starts and tracks xjob processes; stopAll() kills whatever is still running. */
export class XJobProcesses {
  private readonly running = new Set<XJobProcess>();

  /** Starts `tricircle xjob` and resolves once it says its workers run. */
  start(configFile: string, env: Record<string, string> = {}): Promise<XJobProcess> {
    const child = spawn(process.execPath, [BIN, 'xjob', '--config-file', configFile], { env: { ...process.env, ...env } });
    let stderr = '';
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const proc: XJobProcess = { child, pid: child.pid!, exited, output: () => `${stderr}\n${stdout}` };
    this.running.add(proc);
    void exited.then(() => this.running.delete(proc));
    return new Promise((resolve, reject) => {
      const ready = () => {
        if (/tricircle xjob running \d+ workers/.test(stderr)) {
          child.stderr!.off('data', ready);
          resolve(proc);
        }
      };
      child.stderr!.on('data', ready);
      void exited.then((code) => reject(new Error(`xjob exited with ${code} before it was ready: ${proc.output()}`)));
    });
  }

  /** The processes still running, oldest first. */
  list(): XJobProcess[] {
    return [...this.running];
  }

  async stopAll(): Promise<void> {
    const left = [...this.running];
    for (const proc of left) proc.child.kill('SIGKILL');
    await Promise.all(left.map((proc) => proc.exited));
  }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `capMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false>, capMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + capMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${capMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The test's own view of the broker: the xjob queue of an exchange, and cleaning up after itself. */
export class BrokerProbe {
  private connection: ChannelModel | undefined;
  private readonly exchanges = new Set<string>();

  private async open(): Promise<ChannelModel> {
    this.connection ??= await amqp.connect(AMQP_URL);
    return this.connection;
  }

  /** Remembers an exchange (and its xjob queue) for removal by close(). */
  track(exchange: string): string {
    this.exchanges.add(exchange);
    return exchange;
  }

  /** Consumers on the exchange's xjob queue, or null when there is no such queue. */
  async consumers(exchange: string): Promise<number | null> {
    // A check of a missing queue closes the channel: one channel per check.
    const channel = await (await this.open()).createChannel();
    channel.on('error', () => {});
    try {
      return (await channel.checkQueue(`${exchange}.xjob`)).consumerCount;
    } catch {
      return null;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Deletes the tracked exchanges and their queues, so runs leave nothing behind on the broker. */
  async close(): Promise<void> {
    if (this.exchanges.size) {
      const channel = await (await this.open()).createChannel();
      for (const exchange of this.exchanges) {
        await channel.deleteQueue(`${exchange}.xjob`);
        await channel.deleteExchange(exchange);
      }
      await channel.close();
    }
    await this.connection?.close();
  }
}

/**
 * Makes the broker close the AMQP connections of process `pid` only (other test files share
 * the broker): their client ports from `ss`, the broker's connection of each port from
 * rabbitmqctl. Returns how many it closed.
 */
export async function dropBrokerConnections(pid: number): Promise<number> {
  const sockets = (await run('ss', ['-tnpH', 'state', 'established', '( dport = :5672 )'])).stdout;
  const ports = [...sockets.matchAll(/(\S+:\d+)\s+\S+:5672\s+users:.*pid=(\d+),/g)].filter((m) => Number(m[2]) === pid).map((m) => m[1]!);
  const listed = (await run('rabbitmqctl', ['-q', 'list_connections', '--no-table-headers', 'pid', 'name'])).stdout;
  let closed = 0;
  for (const line of listed.split('\n')) {
    const [connection, name] = line.split('\t');
    if (!connection || !name || !ports.some((port) => name.startsWith(`${port} ->`))) continue;
    await run('rabbitmqctl', ['-q', 'close_connection', connection, 'xjob test: broker drops the connection']);
    closed++;
  }
  return closed;
}
