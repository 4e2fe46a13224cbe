import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { percentile } from './stats.js';

// A closed-loop HTTP load generator: `concurrency` clients, each on its own keep-alive
// connection, each sending its next request as soon as the previous answer is read. After a
// warm-up, the requests that finish inside the measuring window count (throughput = those
// completions / window; a request that started just before the window still counts, so that
// slow operations, of a second or more at 16 clients against a slow Neutron, are not lost at
// the window's edges and do not make the rate look lower than it is).
//
// Hand-written rather than autocannon because it is small, times each request in microseconds
// (autocannon's histogram is in whole milliseconds, too coarse for sub-millisecond shows) and
// lets the path change per request (cycling through ids).
//
// Beyond a plain GET: a method and body per request (POST /v2.0/ports), or an `operation` of
// several dependent requests timed as one (POST network, then POST subnet on it); and instead
// of a timed window, a fixed `count` of operations (one block of a fill), all of them measured.

/** One answer: its status, body size and, for operations, its text. */
export interface HttpAnswer {
  status: number;
  bytes: number;
  body: string;
}

/** Sends one request on the client's keep-alive connection; the path is below the base URL's own path. */
export type Exchange = (method: string, path: string, body?: string) => Promise<HttpAnswer>;

export interface LoadOptions {
  /** http://host:port, or https://host:port/prefix (a path prefix is put before every path). */
  baseUrl: string;
  /** The path (with query) of every request, or a function of the request's sequence number; not with `operation`. */
  path?: string | ((sequence: number) => string);
  /** The method of every request (default GET). */
  method?: string;
  /** A request body (JSON), or a function of the sequence number. */
  body?: string | ((sequence: number) => string);
  /**
   * Several requests timed as one operation, instead of `path`: resolves to the answer that
   * decides success (e.g. the first one that failed, or the last one).
   */
  operation?: (sequence: number, exchange: Exchange) => Promise<HttpAnswer | { status: number; bytes: number }>;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /**
   * Send exactly this many operations in all and measure every one (no warm-up, no window);
   * `durationMs` and `warmupMs` are then ignored and windowSeconds is the time they took.
   */
  count?: number;
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
  /** The first failed answer (warm-up included) ('<status>: <body start>' or the connection error), if any. */
  errorSample?: string;
}

interface Sender {
  agent: Agent;
  url: URL;
  /** The base URL's path without its trailing slash ('' for none). */
  prefix: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Bodies of answers with a status that is not ok are always kept (for the error sample). */
  ok: (status: number) => boolean;
}

function send(sender: Sender, method: string, path: string, body: string | undefined, keepBody: boolean): Promise<HttpAnswer> {
  const { agent, url, prefix, timeoutMs } = sender;
  const headers =
    body === undefined ? sender.headers : { ...sender.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  const requestFn = url.protocol === 'https:' ? httpsRequest : request;
  return new Promise((resolve, reject) => {
    const req = requestFn({ agent, host: url.hostname, port: url.port, path: `${prefix}${path}`, method, headers }, (res) => {
      let bytes = 0;
      const chunks: Buffer[] = [];
      const keep = keepBody || !sender.ok(res.statusCode ?? 0);
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (keep) chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, body: keep ? Buffer.concat(chunks).toString('utf8') : '' }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.baseUrl);
  const agentOptions = { keepAlive: true, maxSockets: options.concurrency, maxFreeSockets: options.concurrency };
  const agent = url.protocol === 'https:' ? new HttpsAgent(agentOptions) : new Agent(agentOptions);
  const ok = options.ok ?? ((status: number) => status >= 200 && status < 300);
  const sender: Sender = {
    agent,
    url,
    prefix: url.pathname.replace(/\/+$/, ''),
    headers: options.headers ?? {},
    timeoutMs: options.timeoutMs ?? 10_000,
    ok,
  };
  const method = options.method ?? 'GET';
  const { path, body, operation, count } = options;
  if ((path === undefined) === (operation === undefined)) throw new Error('runLoad: give either path or operation');
  const bodyOf = typeof body === 'function' ? body : () => body;
  const exchange: Exchange = (m, p, b) => send(sender, m, p, b, true);
  const perform: (sequence: number) => Promise<{ status: number; bytes: number; body?: string }> = operation
    ? (sequence) => operation(sequence, exchange)
    : typeof path === 'string'
      ? (sequence) => send(sender, method, path, bodyOf(sequence), false)
      : (sequence) => send(sender, method, path!(sequence), bodyOf(sequence), false);

  const now = () => performance.now();
  const start = now();
  const counted = count !== undefined;
  const windowStart = counted ? start : start + options.warmupMs;
  let windowEnd = counted ? Infinity : windowStart + options.durationMs;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let bytes = 0;
  let sequence = 0;
  let errorSample: string | undefined;
  let cpuAtWindowStart: NodeJS.CpuUsage | undefined;
  let wallAtWindowStart = 0;
  let windowHook: Promise<unknown> | undefined;

  const openWindow = () => {
    if (cpuAtWindowStart) return;
    cpuAtWindowStart = process.cpuUsage();
    wallAtWindowStart = now();
    windowHook = Promise.resolve(options.onWindowStart?.());
  };
  if (counted) openWindow();
  const windowTimer = counted ? undefined : setTimeout(openWindow, options.warmupMs);

  const client = async () => {
    while (counted ? sequence < count : now() < windowEnd) {
      const current = sequence++;
      const t0 = now();
      let status: string;
      let good = false;
      let size = 0;
      let failure: string | undefined;
      try {
        const answer = await perform(current);
        status = String(answer.status);
        good = ok(answer.status);
        size = answer.bytes;
        if (!good) failure = `${answer.status}: ${(answer.body ?? '').slice(0, 300)}`;
      } catch (err) {
        status = 'error';
        failure = (err as Error).message;
        // A refused connection fails at once; do not spin on it.
        await new Promise((r) => setTimeout(r, 5));
      }
      const t1 = now();
      errorSample ??= failure;
      if (t1 >= windowStart && t1 <= windowEnd) {
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
  if (counted) windowEnd = now();
  const cpu = process.cpuUsage(cpuAtWindowStart);
  const cpuWallMs = Math.max(now() - wallAtWindowStart, 1);
  await windowHook;

  const windowSeconds = counted ? (windowEnd - windowStart) / 1000 : options.durationMs / 1000;
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
    ...(errorSample !== undefined ? { errorSample } : {}),
  };
}
