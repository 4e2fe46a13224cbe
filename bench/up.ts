import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CIRROS_IMAGE_ID } from '../src/compute/index.js';
import { withCleanup, type Cleanup } from './lib/cleanup.js';
import { machineSummary } from './lib/machine.js';
import { fmt, median, table } from './lib/stats.js';
import { integerFlag, listFlag, suiteRunner } from './lib/usage.js';

// `tricircle up` as a newcomer runs it: the real command in its own process, on a data
// directory of its own and consecutive free ports (--base-port).
//
// - ready: from spawning `tricircle up` to every endpoint (identity, Admin API, central
//   Neutron, each region's Neutron and compute) answering GET /healthz with 200; on a fresh
//   data directory (migrations, pods, client files) and on a restart of the same directory;
// - memory: the up process's resident set (VmRSS in /proc/<pid>/status) idle once ready, and
//   after a walkthrough-like load through the API with a token from the identity service:
//   per region a central network and subnet and a server booted on it, an external network,
//   one router across every region with its gateway, and a floating IP on the first server,
//   until every job has ended. VmHWM (the peak) beside it.

export const about = 'tricircle up: time to every endpoint answering (fresh, restart) and resident memory idle and after a walkthrough (2 and 10 regions)';

const BIN = fileURLToPath(new URL('../bin/tricircle.js', import.meta.url));
const TARGET = { readyMs: 3000, rssMb: 250, regions: 2 };

const USAGE = `usage: npm run bench -- up [flags]

  --runs N         fresh starts and restarts per region count; medians are reported (default 3)
  --regions LIST   region counts (default 2,10)
  --log-level L    log_level of tricircle up (default warn)
  --out DIR        where the JSON results go (default ${join(tmpdir(), 'tricircle-bench')})

Example:
  npm run bench -- up                  (~1 min on a quiet machine)
  npm run bench -- up --runs 5 --regions 2
`;

type Options = ReturnType<typeof options>;
type Json = Record<string, any>;

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      runs: { type: 'string', default: '3' },
      regions: { type: 'string', default: '2,10' },
      'log-level': { type: 'string', default: 'warn' },
      out: { type: 'string', default: join(tmpdir(), 'tricircle-bench') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    help: values.help,
    runs: integerFlag('runs', values.runs, 1),
    regions: listFlag(values.regions).map((n) => integerFlag('regions', n, 1)),
    logLevel: values['log-level'],
    out: values.out,
  };
}

const progress = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** identity, Admin API, central Neutron, then a Neutron and a compute per region. */
const portCount = (regions: number) => 3 + 2 * regions;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A base port whose `count` consecutive ports are all free now. */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral ports (32768 up), which outgoing connections could take meanwhile.
    const base = 21_000 + Math.floor(Math.random() * (11_000 - count));
    if ((await Promise.all(Array.from({ length: count }, (_, i) => portFree(base + i)))).every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/**
 * `startUp` on a range of free ports, again on another when one was taken meanwhile (a fresh
 * start then again on an empty data directory).
 */
async function startOnFreePorts(dataDir: string, fresh: boolean, regions: number, opts: Options, cleanup: Cleanup): Promise<{ up: Up; readyMs: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startUp(dataDir, regions, await freePortRange(portCount(regions)), opts, cleanup);
    } catch (err) {
      if (attempt === 3 || !/ is in use /.test((err as Error).message)) throw err;
      progress(`a port was taken between the probe and the start; again on other ports`);
      if (fresh) rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

/** Resident and peak resident memory of a process, MB, from /proc. */
function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

interface Up {
  pid: number;
  identityUrl: string;
  adminUrl: string;
  /** SIGTERM, then the exit status (SIGKILL after 30 s). */
  stop(): Promise<number | null>;
}

/** Starts `tricircle up` and answers it with the milliseconds until every endpoint answered. */
async function startUp(dataDir: string, regions: number, basePort: number, opts: Options, cleanup: Cleanup): Promise<{ up: Up; readyMs: number }> {
  const logFd = openSync(join(dataDir, '..', `up-${regions}.log`), 'a');
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_')));
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [BIN, 'up', '--regions', String(regions), '--data-dir', dataDir, '--base-port', String(basePort)], {
    env: { ...env, TRICIRCLE_DEFAULT__LOG_LEVEL: opts.logLevel },
    stdio: ['ignore', logFd, 'pipe'],
  });
  closeSync(logFd);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const unregister = cleanup.add(`stop tricircle up pid ${child.pid}`, stop);

  const urls = Array.from({ length: portCount(regions) }, (_, i) => `http://127.0.0.1:${basePort + i}/healthz`);
  const answers = async (url: string) => {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 120_000;
  let waiting = urls;
  while (waiting.length) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`tricircle up exited during start-up (${child.exitCode ?? child.signalCode}):\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`tricircle up: ${waiting.join(', ')} did not answer in time:\n${stderr}`);
    const answered = await Promise.all(waiting.map(answers));
    waiting = waiting.filter((_, i) => !answered[i]);
    if (waiting.length) await sleep(10);
  }
  const readyMs = performance.now() - t0;
  const up: Up = {
    pid: child.pid!,
    identityUrl: `http://127.0.0.1:${basePort}/v3`,
    adminUrl: `http://127.0.0.1:${basePort + 1}/v1.0`,
    stop: async () => {
      const code = await stop();
      await unregister();
      if (code !== 0) throw new Error(`tricircle up exited with ${code} on SIGTERM:\n${stderr}`);
      return code;
    },
  };
  return { up, readyMs };
}

/** The admin's token and the catalog's public URLs by service type and region. */
async function adminSession(identityUrl: string): Promise<{ token: string; endpoint: (type: string, region: string) => string; regions: string[] }> {
  const response = await fetch(`${identityUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', password: 'admin', domain: { id: 'default' } } } },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    }),
  });
  const body = (await response.json()) as Json;
  const token = response.headers.get('x-subject-token');
  if (response.status !== 201 || !token) throw new Error(`the identity service refused the admin a token (${response.status})`);
  const urls = new Map<string, string>();
  for (const service of body.token.catalog as Json[]) {
    for (const endpoint of service.endpoints as Json[]) if (endpoint.interface === 'public') urls.set(`${service.type} ${endpoint.region}`, endpoint.url);
  }
  const endpoint = (type: string, region: string) => {
    const url = urls.get(`${type} ${region}`);
    if (!url) throw new Error(`the catalog has no ${type} endpoint in ${region}`);
    return url;
  };
  const regions = [...urls.keys()].filter((key) => key.startsWith('compute ')).map((key) => key.slice('compute '.length));
  return { token, endpoint, regions };
}

/** The walkthrough's resources over every region (see the top); resolves once every job has ended. */
async function walkthroughLoad(up: Up): Promise<void> {
  const { token, endpoint, regions } = await adminSession(up.identityUrl);
  const call = async (url: string, method: string, body: unknown, expect: number): Promise<Json> => {
    const response = await fetch(url, {
      method,
      headers: { 'x-auth-token': token, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await response.text();
    if (response.status !== expect) throw new Error(`${method} ${url}: ${response.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : {};
  };
  const central = `${endpoint('network', 'CentralRegion')}/v2.0`;
  const subnets: string[] = [];
  const servers: string[] = [];
  for (const [i, region] of regions.entries()) {
    const network = (await call(`${central}/networks`, 'POST', { network: { name: `net${i + 1}` } }, 201)).network;
    const subnet = { network_id: network.id, ip_version: 4, cidr: `10.0.${i + 1}.0/24`, name: `subnet${i + 1}` };
    subnets.push((await call(`${central}/subnets`, 'POST', { subnet }, 201)).subnet.id);
    const server = { name: `vm${i + 1}`, flavorRef: '1', imageRef: CIRROS_IMAGE_ID, networks: [{ uuid: network.id }] };
    servers.push((await call(`${endpoint('compute', region)}/servers`, 'POST', { server }, 202)).server.id);
  }
  const external = {
    name: 'ext-net',
    'router:external': true,
    'provider:network_type': 'vlan',
    'provider:physical_network': 'extern',
    availability_zone_hints: [regions[regions.length - 1]],
  };
  const extNet = (await call(`${central}/networks`, 'POST', { network: external }, 201)).network;
  const extSubnet = { network_id: extNet.id, ip_version: 4, cidr: '163.3.124.0/24', enable_dhcp: false, name: 'ext-subnet' };
  await call(`${central}/subnets`, 'POST', { subnet: extSubnet }, 201);
  const router = (await call(`${central}/routers`, 'POST', { router: { name: 'router' } }, 201)).router;
  for (const subnet of subnets) await call(`${central}/routers/${router.id}/add_router_interface`, 'PUT', { subnet_id: subnet }, 200);
  await call(`${central}/routers/${router.id}`, 'PUT', { router: { external_gateway_info: { network_id: extNet.id } } }, 200);
  const port = (await call(`${central}/ports?device_id=${servers[0]}`, 'GET', undefined, 200)).ports[0];
  await call(`${central}/floatingips`, 'POST', { floatingip: { floating_network_id: extNet.id, port_id: port.id } }, 201);

  const deadline = Date.now() + 300_000;
  const count = async (status: string) => (await call(`${up.adminUrl}/jobs?status=${status}&limit=1`, 'GET', undefined, 200)).jobs.length as number;
  while ((await count('NEW')) + (await count('RUNNING')) > 0) {
    if (Date.now() > deadline) throw new Error('the walkthrough\u2019s jobs did not end in 5 minutes');
    await sleep(50);
  }
  if (await count('FAIL')) throw new Error(`a walkthrough job FAILed: see ${up.adminUrl}/jobs?status=FAIL`);
  // The jobs' outcome, so that a load that built nothing cannot pass for a light one.
  const extRegionNeutron = `${endpoint('network', external.availability_zone_hints[0]!)}/v2.0`;
  const nsRouters = (await call(`${extRegionNeutron}/routers?name=ns_router_${router.id}`, 'GET', undefined, 200)).routers as Json[];
  const floatingIps = (await call(`${extRegionNeutron}/floatingips?port_id=${port.id}`, 'GET', undefined, 200)).floatingips as Json[];
  if (nsRouters.length !== 1 || floatingIps.length !== 1)
    throw new Error(`the walkthrough load left no ns_router or floating IP in ${external.availability_zone_hints[0]}`);
}

interface RegionFigures {
  regions: number;
  freshMs: number[];
  restartMs: number[];
  /** Idle once ready after a fresh start, MB, per run. */
  idleRssMb: number[];
  afterLoadRssMb: number;
  afterLoadPeakMb: number;
}

async function measureRegions(regions: number, opts: Options, cleanup: Cleanup): Promise<RegionFigures> {
  const figures: RegionFigures = { regions, freshMs: [], restartMs: [], idleRssMb: [], afterLoadRssMb: NaN, afterLoadPeakMb: NaN };
  for (let run = 1; run <= opts.runs; run++) {
    const workDir = mkdtempSync(join(tmpdir(), 'tricircle-bench-up-'));
    const removeWorkDir = cleanup.add(`remove ${workDir}`, () => rmSync(workDir, { recursive: true, force: true }));
    const dataDir = join(workDir, 'data');
    const fresh = await startOnFreePorts(dataDir, true, regions, opts, cleanup);
    figures.freshMs.push(fresh.readyMs);
    // Idle: what start-up left once its garbage could be collected.
    await sleep(1000);
    figures.idleRssMb.push(memoryMb(fresh.up.pid).rss);
    await fresh.up.stop();
    const restart = await startOnFreePorts(dataDir, false, regions, opts, cleanup);
    figures.restartMs.push(restart.readyMs);
    // The load once per region count, on the last run's restarted cloud.
    if (run === opts.runs) {
      const t0 = performance.now();
      await walkthroughLoad(restart.up);
      const memory = memoryMb(restart.up.pid);
      figures.afterLoadRssMb = memory.rss;
      figures.afterLoadPeakMb = memory.peak;
      progress(`${regions} regions: walkthrough load done in ${fmt(performance.now() - t0, 0)} ms, RSS ${fmt(memory.rss, 0)} MB`);
    }
    await restart.up.stop();
    await removeWorkDir();
    progress(
      `${regions} regions, run ${run}/${opts.runs}: ready fresh ${fmt(fresh.readyMs, 0)} ms, restart ${fmt(restart.readyMs, 0)} ms; ` +
        `idle RSS ${fmt(figures.idleRssMb[run - 1], 0)} MB`,
    );
  }
  return figures;
}

const range = (values: number[]) => `${fmt(Math.min(...values), 0)}-${fmt(Math.max(...values), 0)}`;

function resultTable(all: RegionFigures[]): string {
  return table(
    [
      { header: 'regions', align: 'left' },
      { header: 'ready fresh ms' },
      { header: 'range' },
      { header: 'ready restart ms' },
      { header: 'range' },
      { header: 'RSS idle MB' },
      { header: 'RSS after walkthrough MB' },
      { header: 'peak MB' },
    ],
    all.map((f) => [
      String(f.regions),
      fmt(median(f.freshMs), 0),
      range(f.freshMs),
      fmt(median(f.restartMs), 0),
      range(f.restartMs),
      fmt(median(f.idleRssMb), 0),
      fmt(f.afterLoadRssMb, 0),
      fmt(f.afterLoadPeakMb, 0),
    ]),
  );
}

/** The targets, which are for the default 2 regions; other counts are figures only. */
function targetLines(all: RegionFigures[]): string[] {
  const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const f = all.find((figures) => figures.regions === TARGET.regions);
  if (!f) return [`(the targets are for ${TARGET.regions} regions, not measured here)`];
  const worstRss = Math.max(median(f.idleRssMb), f.afterLoadRssMb);
  return [
    `TARGET ${pass(median(f.freshMs) < TARGET.readyMs)}: ${f.regions} regions, ready on a fresh data directory in ${fmt(median(f.freshMs), 0)} ms (target < ${TARGET.readyMs} ms)`,
    `TARGET ${pass(median(f.restartMs) < TARGET.readyMs)}: ${f.regions} regions, ready on a restart in ${fmt(median(f.restartMs), 0)} ms (target < ${TARGET.readyMs} ms)`,
    `TARGET ${pass(worstRss < TARGET.rssMb)}: ${f.regions} regions, resident memory at most ${fmt(worstRss, 0)} MB, idle or after the walkthrough (target < ${TARGET.rssMb} MB)`,
  ];
}

export const run = suiteRunner(
  'up',
  USAGE,
  options,
  (opts) => `${opts.runs} fresh start(s) and restart(s) with ${opts.regions.join(' and ')} region(s); the walkthrough load once per region count`,
  async (opts) => {
    const all: RegionFigures[] = [];
    await withCleanup(async (cleanup) => {
      for (const regions of opts.regions) all.push(await measureRegions(regions, opts, cleanup));
    });
    process.stdout.write(
      [
        '',
        `tricircle up in its own process on loopback, embedded SQLite, its identity service; ready = every endpoint answers GET /healthz; ` +
          `medians of ${opts.runs} run(s); RSS = VmRSS of the up process`,
        resultTable(all),
        '',
        ...targetLines(all),
        '',
      ].join('\n'),
    );
    mkdirSync(opts.out, { recursive: true });
    const file = join(opts.out, 'up.json');
    writeFileSync(
      file,
      `${JSON.stringify({ suite: 'up', date: new Date().toISOString(), machine: machineSummary(), settings: opts, figures: all }, null, 2)}\n`,
    );
    process.stdout.write(`\nJSON: ${file}\n`);
  },
);
