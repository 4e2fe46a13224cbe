import { createSocket } from 'node:dgram';
import type { JobHandlerSpec, JobRunContext } from '../../src/xjob/index.js';

// The benchmark's job type, for `[xjob] handler_modules` of a `tricircle xjob` process and for
// an engine in the bench process itself: a handler that does nothing but, when asked, say when
// it started. A latency run in the bench process listens with onHandlerStart; a child process
// is asked through the environment to send each start as a UDP datagram to the bench.

export const BENCH_JOB_TYPE = 'bench_noop';

/** Env var naming the UDP port on 127.0.0.1 a child process reports handler starts to. */
export const STARTS_PORT_ENV = 'TRICIRCLE_BENCH_XJOB_STARTS_PORT';

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes on one machine. */
export const wallClockMs = () => performance.timeOrigin + performance.now();

/** A handler start as a datagram says it: `<resource_id> <wall clock ms>`. */
export function parseStart(message: Buffer): { resourceId: string; wallMs: number } | null {
  const [resourceId, wallMs] = message.toString('utf8').split(' ');
  return resourceId && wallMs ? { resourceId, wallMs: Number(wallMs) } : null;
}

type StartListener = (resourceId: string, wallMs: number) => void;

function datagramReporter(port: number): StartListener {
  const socket = createSocket('udp4');
  // The socket must not keep a stopping worker process alive.
  socket.unref();
  return (resourceId, wallMs) => socket.send(`${resourceId} ${wallMs}`, port, '127.0.0.1');
}

const reportPort = Number(process.env[STARTS_PORT_ENV]);
let listener: StartListener | null = reportPort > 0 ? datagramReporter(reportPort) : null;

/** Calls `fn` at the start of every bench_noop handler of this process (null: stop). */
export function onHandlerStart(fn: StartListener | null): void {
  listener = fn;
}

export const jobTypes: Record<string, JobHandlerSpec> = {
  [BENCH_JOB_TYPE]: {
    resource: ['key'],
    handle: async (ctx: JobRunContext) => {
      listener?.(ctx.resourceId, wallClockMs());
    },
  },
};
