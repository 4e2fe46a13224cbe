import { Agent, request } from 'node:http';
import { percentile } from './stats.js';

// A closed-loop HTTP load generator: `concurrency` clients, each on its own keep-alive
// connection, each sending its next request as soon as the previous answer is read. After a
// warm-up, only requests that start and finish inside the measuring window count.
//
// Hand-written rather than autocannon because it is small, times each request in microseconds
// (autocannon's histogram is in whole milliseconds, too coarse for sub-millisecond shows) and
// lets the path change per request (cycling through ids).

export interface LoadOptions {
  /** http://host:port */
  baseUrl: string;
  /** The path (with query) of every request, or a function of the request's sequence number. */
  path: string | ((sequence: number) => string);
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  headers?: Record<string, string>;
  /** Which statuses count as success; default 2xx. */
  ok?: (status: number) => boolean;
  /** Called (not awaited by the clients) when the measuring window opens. */
  onWindowStart?: () => Promise<unknown> | void;
  /** A request still unanswered after this long is abandoned and counted as an error. */
  timeoutMs?: number;
}

export interface LoadResult {
  /** Successful requests completed inside the window. */
  requests: number;
  errors: number;
  /** Every status seen in the window ('error' for a failed connection or timeout), with counts. */
  statuses: Record<string, number>;
  windowSeconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Response bytes (bodies) read in the window. */
  bytes: number;
  /** CPU the load generator itself used, as a percentage of one core. */
  clientCpuPercent: number;
}

function send(agent: Agent, url: URL, path: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency, maxFreeSockets: options.concurrency });
  const ok = options.ok ?? ((status: number) => status >= 200 && status < 300);
  const pathOf = typeof options.path === 'string' ? () => options.path as string : options.path;
  const headers = options.headers ?? {};
  const timeoutMs = options.timeoutMs ?? 10_000;

  const now = () => performance.now();
  const start = now();
  const windowStart = start + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let bytes = 0;
  let sequence = 0;
  let cpuAtWindowStart: NodeJS.CpuUsage | undefined;
  let wallAtWindowStart = 0;
  let windowHook: Promise<unknown> | undefined;

  const openWindow = () => {
    if (cpuAtWindowStart) return;
    cpuAtWindowStart = process.cpuUsage();
    wallAtWindowStart = now();
    windowHook = Promise.resolve(options.onWindowStart?.());
  };
  const windowTimer = setTimeout(openWindow, options.warmupMs);

  const client = async () => {
    while (now() < windowEnd) {
      const path = pathOf(sequence++);
      const t0 = now();
      let status: string;
      let good = false;
      let size = 0;
      try {
        const answer = await send(agent, url, path, headers, timeoutMs);
        status = String(answer.status);
        good = ok(answer.status);
        size = answer.bytes;
      } catch {
        status = 'error';
        // A refused connection fails at once; do not spin on it.
        await new Promise((r) => setTimeout(r, 5));
      }
      const t1 = now();
      if (t0 >= windowStart && t1 <= windowEnd) {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (good) {
          latencies.push(t1 - t0);
          bytes += size;
        } else {
          errors++;
        }
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, client));
  } finally {
    clearTimeout(windowTimer);
    agent.destroy();
  }
  openWindow(); // a zero warm-up can end before the timer fires
  const cpu = process.cpuUsage(cpuAtWindowStart);
  const cpuWallMs = Math.max(now() - wallAtWindowStart, 1);
  await windowHook;

  const windowSeconds = options.durationMs / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const mean = latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : NaN;
  return {
    requests: latencies.length,
    errors,
    statuses,
    windowSeconds,
    requestsPerSecond: latencies.length / windowSeconds,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1]! : NaN,
      mean,
    },
    bytes,
    clientCpuPercent: ((cpu.user + cpu.system) / 1000 / cpuWallMs) * 100,
  };
}
