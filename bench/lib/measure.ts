import { runLoad, type LoadOptions, type LoadResult } from './load.js';
import { machineBusySeconds } from './machine.js';
import { scrapeRouteTiming, type ServerProcess } from './server.js';

// One load run with the figures around it: the server's own time per operation (from its
// /metrics, when it is ours), its CPU, and the CPU everything else on the machine used. Against
// a server that is not ours only the client-side figures and the machine's CPU are known.

/** A route as the server's metrics name it, e.g. { method: 'POST', route: '/v2.0/ports' }. */
export interface RouteRef {
  method: string;
  route: string;
}

export interface MeasuredRun extends LoadResult {
  /** Mean time inside the server per operation (summed over its routes), from /metrics; NaN when unknown. */
  serverMeanMs: number;
  /** Server process CPU, % of one core; undefined when the server is not ours. */
  serverCpuPercent: number | undefined;
  /** Server CPU time per operation served (µs); NaN when unknown. */
  serverCpuMicrosPerOp: number;
  /** CPU used by everything but the server and this load generator (% of one core). */
  otherCpuPercent: number | undefined;
}

/**
 * Runs `load` and measures around its window. `routes` are the requests one operation makes; the
 * first one counts the operations the server served.
 */
export async function measureRun(load: LoadOptions, server: ServerProcess | undefined, routes: RouteRef[]): Promise<MeasuredRun> {
  let before: Array<{ count: number; sumSeconds: number }> | undefined;
  let cpuBefore: number | undefined;
  let machineBefore: number | undefined;
  let wallBefore = 0;
  const scrape = (url: string) => Promise.all(routes.map((r) => scrapeRouteTiming(url, r.route, r.method)));
  const result = await runLoad({
    ...load,
    onWindowStart: async () => {
      cpuBefore = server?.cpuSeconds();
      machineBefore = machineBusySeconds();
      wallBefore = performance.now();
      if (server) before = await scrape(server.url);
      await load.onWindowStart?.();
    },
  });
  const cpuAfter = server?.cpuSeconds();
  const machineAfter = machineBusySeconds();
  const wall = (performance.now() - wallBefore) / 1000;
  const after = server ? await scrape(server.url) : undefined;
  const served = after && before ? after[0]!.count - before[0]!.count : 0;
  const serverSeconds = after && before ? after.reduce((sum, a, i) => sum + a.sumSeconds - before![i]!.sumSeconds, 0) : NaN;
  const serverCpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
  const serverCpuPercent = serverCpu !== undefined ? (serverCpu / wall) * 100 : undefined;
  const machineCpuPercent = machineBefore !== undefined && machineAfter !== undefined ? ((machineAfter - machineBefore) / wall) * 100 : undefined;
  return {
    ...result,
    serverMeanMs: served > 0 ? (serverSeconds / served) * 1000 : NaN,
    serverCpuPercent,
    serverCpuMicrosPerOp: serverCpu !== undefined && served > 0 ? (serverCpu / served) * 1e6 : NaN,
    otherCpuPercent: machineCpuPercent !== undefined ? Math.max(0, machineCpuPercent - (serverCpuPercent ?? 0) - result.clientCpuPercent) : undefined,
  };
}
