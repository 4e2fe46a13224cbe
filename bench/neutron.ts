import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { withCleanup, type Cleanup } from './lib/cleanup.js';
import { formatProfile, summarizeProfile } from './lib/cpuprofile.js';
import { DEFAULT_PG_ADMIN_URL, ENGINES, freshDatabase, onEachEngine, postgresSettings, type EngineName } from './lib/databases.js';
import type { Exchange, LoadOptions } from './lib/load.js';
import { machineSummary } from './lib/machine.js';
import { measureRun, type MeasuredRun, type RouteRef } from './lib/measure.js';
import { NeutronClient, neutronBase, type IdRecord } from './lib/neutron.js';
import { runTricircle, startServer, type ServerProcess } from './lib/server.js';
import { fmt, median, table } from './lib/stats.js';
import { UsageError, integerFlag, listFlag, numberFlag, suiteRunner } from './lib/usage.js';

// The Neutron v2.0 write and read paths that matter at scale: creating ports (1 and 16 clients,
// one network, a /16), creating a network with its subnet, reading a 1,000-port page with
// 10,000 ports present, and IP allocation as a /16 fills up to 50,000 ports.
//
// By default against our own `tricircle neutron-server`, started as a child process on a fresh
// database of each engine; with --url against any Neutron endpoint (then it makes its own
// `bench-<run>-*` networks and deletes them, ports first, when it ends).

export const about = 'Neutron v2.0: port create (1/16 clients), network+subnet create, 1,000-port page, IP allocation as a /16 fills';

const USAGE = `usage: npm run bench -- neutron [flags]

Target (default: our own neutron-server, started per engine on a throw-away database):
  --engines LIST       sqlite,postgres (default: both; postgres is skipped if unreachable
                       unless named explicitly)
  --url URL            any Neutron endpoint instead, e.g. http://127.0.0.1:9696 (with or
                       without /v2.0); the project of the token needs port, network and
                       subnet quotas of at least --ports + --fill + the ports the timed runs
                       create (or unlimited: -1), e.g. as admin
                         openstack quota set --ports -1 --networks -1 --subnets -1 <project>
                       or PUT /v2.0/quotas/<project_id> {"quota": {"port": -1, ...}}
  --token TOKEN        Keystone token for --url (default: $OS_TOKEN; none for a noauth server)

Sizes and timing:
  --scenarios LIST     list,port-create,net-subnet,fill (default: all, in that order)
  --ports N            ports present for the list scenario (default 10000)
  --fill N             ports allocated on the /16 of the fill scenario (default 50000)
  --block N            ports per measured block of the fill (default 5000)
  --fill-clients N     concurrent clients creating the fill's ports (default 16)
  --fill-mode MODE     api: every fill port is one POST /v2.0/ports, all timed (default);
                       bulk: each block is bulk-created (--bulk ports per request) except its
                       last --probe ports, which are single creates and timed
  --probe N            timed single creates per block in bulk mode (default 200)
  --bulk N             ports per bulk request when seeding (default 500)
  --duration S         measured seconds per timed run (default 5)
  --warmup S           warm-up seconds before each timed run (default 1)
  --rounds N           runs per timed scenario and concurrency; medians are reported (default 3)
  --concurrency LIST   concurrent clients for the timed scenarios (default 1,16)
  --timeout S          a request unanswered after this long counts as an error (default 60)

Our server only:
  --log-level L        the server's log_level (default warn)
  --pg-url URL         PostgreSQL maintenance database (default ${DEFAULT_PG_ADMIN_URL})
  --cpu-prof           run the server under node --cpu-prof and print where its time went

  --out DIR            where the JSON results go (default ${join(tmpdir(), 'tricircle-bench')})

Examples:
  npm run bench -- neutron                                   full run, SQLite then PostgreSQL (~4 min each)
  npm run bench -- neutron --engines sqlite --ports 2000 --fill 5000 --block 1000 --rounds 1 --duration 2
                                                             a quick look (~30 s)
  OS_TOKEN=$(openstack token issue -f value -c id) npm run bench -- neutron --url http://127.0.0.1:9696 \\
      --ports 1000 --fill 1000 --block 250 --rounds 1 --duration 10
                                                             a slow shared Neutron: few ports, long runs
                                                             (its 16-client operations can take seconds)
`;

const SCENARIO_NAMES = ['list', 'port-create', 'net-subnet', 'fill'] as const;
type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Targets of issue 3, set for our server on SQLite on this 2-core machine. */
const TARGET = {
  portCreate: { concurrency: 16, minRate: 1000, maxP99Ms: 50 },
  list: { concurrency: 1, maxP50Ms: 30, portsPresent: 10_000 },
  fill: { maxGrowth: 1.5, ports: 50_000 },
};
const NOISY_OTHER_CPU_PERCENT = 25;

const ROUTES: Record<'list' | 'port-create' | 'net-subnet', RouteRef[]> = {
  list: [{ method: 'GET', route: '/v2.0/ports' }],
  'port-create': [{ method: 'POST', route: '/v2.0/ports' }],
  'net-subnet': [
    { method: 'POST', route: '/v2.0/networks' },
    { method: 'POST', route: '/v2.0/subnets' },
  ],
};

const LABELS: Record<ScenarioName, string> = {
  list: 'GET /v2.0/ports?limit=1000',
  'port-create': 'POST /v2.0/ports (one network, /16)',
  'net-subnet': 'POST network + POST subnet (/24)',
  fill: 'POST /v2.0/ports as a /16 fills',
};

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      engines: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      scenarios: { type: 'string' },
      ports: { type: 'string', default: '10000' },
      fill: { type: 'string', default: '50000' },
      block: { type: 'string', default: '5000' },
      'fill-clients': { type: 'string', default: '16' },
      'fill-mode': { type: 'string', default: 'api' },
      probe: { type: 'string', default: '200' },
      bulk: { type: 'string', default: '500' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '1,16' },
      timeout: { type: 'string', default: '60' },
      'log-level': { type: 'string', default: 'warn' },
      'pg-url': { type: 'string', default: DEFAULT_PG_ADMIN_URL },
      out: { type: 'string', default: join(tmpdir(), 'tricircle-bench') },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const engines = listFlag(values.engines ?? ENGINES.join(','));
  for (const e of engines) if (!(ENGINES as readonly string[]).includes(e)) throw new UsageError(`unknown engine '${e}' (${ENGINES.join(', ')})`);
  if (values.url !== undefined && values.engines !== undefined) throw new UsageError('--engines is for our own server; not with --url');
  if (values.url === undefined && values.token !== undefined) throw new UsageError('--token goes with --url');
  let url: string | undefined;
  if (values.url !== undefined) {
    try {
      url = neutronBase(values.url);
    } catch {
      throw new UsageError(`--url '${values.url}' is not a URL`);
    }
  }
  const scenarios = values.scenarios ? listFlag(values.scenarios) : [...SCENARIO_NAMES];
  for (const s of scenarios)
    if (!(SCENARIO_NAMES as readonly string[]).includes(s)) throw new UsageError(`unknown scenario '${s}' (${SCENARIO_NAMES.join(', ')})`);
  const fillMode = values['fill-mode'];
  if (fillMode !== 'api' && fillMode !== 'bulk') throw new UsageError(`--fill-mode is api or bulk, not '${fillMode}'`);
  const fill = integerFlag('fill', values.fill, 1);
  if (fill > 65_000) throw new UsageError('--fill must fit in a /16 (at most 65000)');
  const block = Math.min(integerFlag('block', values.block, 1), fill);
  const probe = integerFlag('probe', values.probe, 1);
  if (fillMode === 'bulk' && probe > block) throw new UsageError('--probe must not exceed --block');
  return {
    help: values.help,
    url,
    token: values.url !== undefined ? (values.token ?? process.env.OS_TOKEN) : undefined,
    engines: engines as EngineName[],
    enginesExplicit: values.engines !== undefined,
    scenarios: SCENARIO_NAMES.filter((s) => scenarios.includes(s)),
    ports: integerFlag('ports', values.ports, 1),
    fill,
    block,
    fillClients: integerFlag('fill-clients', values['fill-clients'], 1),
    fillMode: fillMode as 'api' | 'bulk',
    probe,
    bulk: integerFlag('bulk', values.bulk, 1),
    durationMs: numberFlag('duration', values.duration, 0.1) * 1000,
    warmupMs: numberFlag('warmup', values.warmup, 0) * 1000,
    rounds: integerFlag('rounds', values.rounds, 1),
    concurrency: listFlag(values.concurrency).map((c) => integerFlag('concurrency', c, 1)),
    timeoutMs: numberFlag('timeout', values.timeout, 1) * 1000,
    logLevel: values['log-level'],
    pgUrl: values['pg-url'],
    out: values.out,
    cpuProf: values['cpu-prof'],
  };
}

type Options = ReturnType<typeof options>;

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** Where the suite runs: our server on one engine, or a Neutron endpoint given by --url. */
interface Target {
  /** sqlite | postgres | the endpoint URL */
  name: string;
  engine?: EngineName;
  client: NeutronClient;
  /** Our own server, when we started it (then its metrics and CPU are known). */
  server?: ServerProcess;
  /** Prefix of every name this run gives: bench-<random>. */
  prefix: string;
  /** Networks this run created (deleted at the end on a --url endpoint). */
  networks: string[];
  /** Lines for the report's heading (e.g. the PostgreSQL settings). */
  notes?: string[];
  /** Called as each phase begins (list, creates, fill): with --cpu-prof, restarts our server so that each phase has its own profile. */
  onPhase?: (phase: string) => Promise<void>;
}

interface Cell {
  scenario: ScenarioName;
  label: string;
  concurrency: number;
  runs: MeasuredRun[];
  median: {
    rate: number;
    p50Ms: number;
    p99Ms: number;
    serverMeanMs: number;
    serverCpuPercent: number;
    serverCpuMicrosPerOp: number;
    clientCpuPercent: number;
    otherCpuPercent: number;
  };
  errors: number;
  minRate: number;
  maxRate: number;
  errorSample?: string;
}

interface FillBlock {
  block: number;
  /** Ports on the fill network after this block. */
  portsAfter: number;
  seconds: number;
  /** Bulk requests of this block (bulk mode): count and mean ms per request. */
  bulk?: { requests: number; meanMs: number; portsPerSecond: number };
  /** The timed single creates of this block. */
  timed: MeasuredRun;
}

interface FillResult {
  mode: 'api' | 'bulk';
  clients: number;
  blocks: FillBlock[];
  /** Last block's p50 over the median p50 of the first half of the blocks. */
  growth: number;
  /** The same ratio for the server's CPU time per create (our server only): steadier on a busy machine. */
  cpuGrowth: number;
  ports: number;
  distinctAddresses: number;
}

interface Verdict {
  what: string;
  verdict: 'PASS' | 'MISS' | 'n/a';
  detail: string;
}

// ---------------------------------------------------------------------------------------------
// Set-up helpers

/** A network with one IPv4 subnet named after the run. */
async function makeNetwork(target: Target, name: string, cidr: string): Promise<{ network: IdRecord; subnet: IdRecord }> {
  const network = await target.client.createNetwork(`${target.prefix}-${name}`);
  target.networks.push(network.id);
  const subnet = await target.client.createSubnet(network.id, cidr, `${target.prefix}-${name}`);
  return { network, subnet };
}

/** Bulk-creates `count` ports on a network, `parallel` requests at a time; answers the ms of each request. */
async function seedPorts(target: Target, networkId: string, count: number, opts: Options, parallel: number, label: string): Promise<number[]> {
  const times: number[] = [];
  let remaining = count;
  let done = 0;
  let lastReport = performance.now();
  const worker = async () => {
    while (remaining > 0) {
      const n = Math.min(opts.bulk, remaining);
      remaining -= n;
      const t0 = performance.now();
      await target.client.createPorts(networkId, n);
      times.push(performance.now() - t0);
      done += n;
      if (performance.now() - lastReport > 5000) {
        lastReport = performance.now();
        progress(`[${target.name}] ${label}: ${fmt(done)}/${fmt(count)} ports`);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return times;
}

const portBody = (networkId: string) => JSON.stringify({ port: { network_id: networkId } });

/** The distinct /16s the scenarios use (overlap across networks is allowed in Neutron, but avoid it anyway). */
const CIDR = {
  list: '10.11.0.0/16',
  fill: '10.12.0.0/16',
  portCreate: (cell: number) => `10.${20 + (cell % 200)}.0.0/16`,
  /** One /24 per network+subnet operation, from 100.64.0.0/10 (16,384 of them, then they repeat). */
  netSubnet: (n: number) => `100.${64 + ((n >> 8) & 63)}.${n & 255}.0/24`,
};

function loadOptions(target: Target, opts: Options, rest: Omit<LoadOptions, 'baseUrl' | 'headers' | 'timeoutMs'>): LoadOptions {
  return { baseUrl: target.client.baseUrl, headers: target.client.headers, timeoutMs: opts.timeoutMs, ...rest };
}

function summarize(scenario: ScenarioName, concurrency: number, runs: MeasuredRun[]): Cell {
  const rates = runs.map((r) => r.requestsPerSecond);
  return {
    scenario,
    label: LABELS[scenario],
    concurrency,
    runs,
    median: {
      rate: median(rates),
      p50Ms: median(runs.map((r) => r.latencyMs.p50)),
      p99Ms: median(runs.map((r) => r.latencyMs.p99)),
      serverMeanMs: median(runs.map((r) => r.serverMeanMs)),
      serverCpuPercent: median(runs.map((r) => r.serverCpuPercent ?? NaN)),
      serverCpuMicrosPerOp: median(runs.map((r) => r.serverCpuMicrosPerOp)),
      clientCpuPercent: median(runs.map((r) => r.clientCpuPercent)),
      otherCpuPercent: median(runs.map((r) => r.otherCpuPercent ?? NaN)),
    },
    errors: runs.reduce((n, r) => n + r.errors, 0),
    minRate: Math.min(...rates),
    maxRate: Math.max(...rates),
    errorSample: runs.find((r) => r.errorSample)?.errorSample,
  };
}

function runLine(target: Target, round: number, opts: Options, scenario: string, concurrency: number, run: MeasuredRun, unit: string): string {
  return (
    `[${target.name}] round ${round}/${opts.rounds} ${scenario.padEnd(11)} c=${String(concurrency).padEnd(3)} ` +
    `${fmt(run.requestsPerSecond).padStart(6)} ${unit}  p50 ${fmt(run.latencyMs.p50, 2)} ms  p99 ${fmt(run.latencyMs.p99, 2)} ms` +
    (run.errors ? `  errors ${run.errors} ${JSON.stringify(run.statuses)} first: ${run.errorSample ?? '?'}` : '')
  );
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/** Seeds --ports ports on their own network, then reads the first 1,000-port page. */
async function listScenario(target: Target, opts: Options): Promise<{ cells: Cell[]; present: number; seedSeconds: number; seedRate: number }> {
  const { network } = await makeNetwork(target, 'list', CIDR.list);
  progress(`[${target.name}] list: seeding ${fmt(opts.ports)} ports in bulk requests of ${opts.bulk}`);
  const t0 = performance.now();
  await seedPorts(target, network.id, opts.ports, opts, 2, 'list seeding');
  const seedSeconds = (performance.now() - t0) / 1000;
  const present = (await target.client.listAll('ports', { fields: 'id' })).length;
  await target.onPhase?.('list');
  progress(`[${target.name}] list: seeded in ${fmt(seedSeconds, 1)} s (${fmt(opts.ports / seedSeconds)} ports/s); ${fmt(present)} ports visible`);

  const path = '/v2.0/ports?limit=1000';
  const expected = Math.min(1000, present);
  const body = await target.client.call('GET', path);
  if (body?.ports?.length !== expected) throw new Error(`GET ${path} answered ${body?.ports?.length} ports, expected ${expected}`);
  if (present > 1000 && !body.ports_links?.some((l: { rel: string }) => l.rel === 'next')) throw new Error(`GET ${path}: no next link in ports_links`);

  const runs = new Map<number, MeasuredRun[]>();
  for (let round = 1; round <= opts.rounds; round++) {
    for (const concurrency of opts.concurrency) {
      const run = await measureRun(
        loadOptions(target, opts, { path, concurrency, durationMs: opts.durationMs, warmupMs: opts.warmupMs }),
        target.server,
        ROUTES.list,
      );
      runs.set(concurrency, [...(runs.get(concurrency) ?? []), run]);
      progress(runLine(target, round, opts, 'list', concurrency, run, 'req/s'));
    }
  }
  return { cells: opts.concurrency.map((c) => summarize('list', c, runs.get(c)!)), present, seedSeconds, seedRate: opts.ports / seedSeconds };
}

/** Port creates (a fresh network and /16 per run) and network+subnet creates, rounds interleaved. */
async function createScenarios(target: Target, opts: Options): Promise<Cell[]> {
  const doPorts = opts.scenarios.includes('port-create');
  const doNetSubnet = opts.scenarios.includes('net-subnet');
  let cellIndex = 0;
  let netSubnetCount = 0;
  const portRuns = new Map<number, MeasuredRun[]>();
  const nsRuns = new Map<number, MeasuredRun[]>();

  const netSubnet = async (_sequence: number, exchange: Exchange) => {
    const n = netSubnetCount++;
    const name = `${target.prefix}-ns-${n}`;
    const net = await exchange('POST', '/v2.0/networks', JSON.stringify({ network: { name } }));
    if (net.status !== 201) return { ...net, body: `POST /v2.0/networks: ${net.body}` };
    const id = (JSON.parse(net.body) as { network: IdRecord }).network.id;
    target.networks.push(id);
    const sub = await exchange('POST', '/v2.0/subnets', JSON.stringify({ subnet: { network_id: id, cidr: CIDR.netSubnet(n), ip_version: 4, name } }));
    return { status: sub.status, bytes: net.bytes + sub.bytes, body: sub.status === 201 ? sub.body : `POST /v2.0/subnets: ${sub.body}` };
  };

  if (doPorts) {
    // One checked create first: 201, and an address from the subnet.
    const { network, subnet } = await makeNetwork(target, 'ports-check', '10.19.0.0/16');
    const port = (await target.client.call('POST', '/v2.0/ports', { port: { network_id: network.id } }, [201])).port;
    const ip = port?.fixed_ips?.[0];
    if (ip?.subnet_id !== subnet.id || !String(ip?.ip_address).startsWith('10.19.'))
      throw new Error(`a created port has no address on its subnet: ${JSON.stringify(port)}`);
  }
  if (doNetSubnet) {
    const answer = await netSubnet(0, async (method, path, body) => {
      const response = await fetch(`${target.client.baseUrl}${path}`, {
        method,
        headers: { ...target.client.headers, 'content-type': 'application/json' },
        body,
      });
      const text = await response.text();
      return { status: response.status, bytes: text.length, body: text };
    });
    if (answer.status !== 201) throw new Error(`network+subnet create failed: ${answer.status} ${answer.body}`);
  }

  for (let round = 1; round <= opts.rounds; round++) {
    for (const concurrency of opts.concurrency) {
      if (doPorts) {
        const { network } = await makeNetwork(target, `ports-c${concurrency}-r${round}`, CIDR.portCreate(cellIndex++));
        const run = await measureRun(
          loadOptions(target, opts, {
            path: '/v2.0/ports',
            method: 'POST',
            body: portBody(network.id),
            ok: (s) => s === 201,
            concurrency,
            durationMs: opts.durationMs,
            warmupMs: opts.warmupMs,
          }),
          target.server,
          ROUTES['port-create'],
        );
        portRuns.set(concurrency, [...(portRuns.get(concurrency) ?? []), run]);
        progress(runLine(target, round, opts, 'port-create', concurrency, run, 'creates/s'));
      }
      if (doNetSubnet) {
        const run = await measureRun(
          loadOptions(target, opts, { operation: netSubnet, ok: (s) => s === 201, concurrency, durationMs: opts.durationMs, warmupMs: opts.warmupMs }),
          target.server,
          ROUTES['net-subnet'],
        );
        nsRuns.set(concurrency, [...(nsRuns.get(concurrency) ?? []), run]);
        progress(runLine(target, round, opts, 'net-subnet', concurrency, run, 'ops/s'));
      }
    }
  }
  return [
    ...(doPorts ? opts.concurrency.map((c) => summarize('port-create', c, portRuns.get(c)!)) : []),
    ...(doNetSubnet ? opts.concurrency.map((c) => summarize('net-subnet', c, nsRuns.get(c)!)) : []),
  ];
}

/** Fills one /16 block by block, timing the creates of each block; then checks the addresses are distinct. */
async function fillScenario(target: Target, opts: Options): Promise<FillResult> {
  const { network } = await makeNetwork(target, 'fill', CIDR.fill);
  const blocks: FillBlock[] = [];
  let portsAfter = 0;
  const blockCount = Math.ceil(opts.fill / opts.block);
  progress(
    `[${target.name}] fill: ${fmt(opts.fill)} ports in ${blockCount} blocks of ${fmt(opts.block)}, ${opts.fillMode} mode, ${opts.fillClients} client(s)` +
      (opts.fillMode === 'bulk' ? `; ${opts.probe} timed single creates per block` : ''),
  );
  for (let b = 1; b <= blockCount; b++) {
    const size = Math.min(opts.block, opts.fill - portsAfter);
    const t0 = performance.now();
    let bulk: FillBlock['bulk'];
    let timedCount = size;
    if (opts.fillMode === 'bulk') {
      timedCount = Math.min(opts.probe, size);
      const bulkCount = size - timedCount;
      if (bulkCount > 0) {
        const b0 = performance.now();
        const times = await seedPorts(target, network.id, bulkCount, opts, 1, `fill block ${b} bulk`);
        bulk = {
          requests: times.length,
          meanMs: times.reduce((a, c) => a + c, 0) / times.length,
          portsPerSecond: bulkCount / ((performance.now() - b0) / 1000),
        };
      }
    }
    const timed = await measureRun(
      loadOptions(target, opts, {
        path: '/v2.0/ports',
        method: 'POST',
        body: portBody(network.id),
        ok: (s) => s === 201,
        concurrency: Math.min(opts.fillClients, timedCount),
        durationMs: 0,
        warmupMs: 0,
        count: timedCount,
      }),
      target.server,
      ROUTES['port-create'],
    );
    portsAfter += size;
    const block: FillBlock = { block: b, portsAfter, seconds: (performance.now() - t0) / 1000, ...(bulk ? { bulk } : {}), timed };
    blocks.push(block);
    progress(
      `[${target.name}] fill block ${b}/${blockCount}: ${fmt(portsAfter)} ports, ${fmt(timed.requestsPerSecond)} creates/s, ` +
        `mean ${fmt(timed.latencyMs.mean, 2)} ms, p50 ${fmt(timed.latencyMs.p50, 2)} ms, p99 ${fmt(timed.latencyMs.p99, 2)} ms` +
        (bulk ? `, bulk ${fmt(bulk.meanMs)} ms per ${opts.bulk}` : '') +
        (timed.errors ? `, errors ${timed.errors} ${JSON.stringify(timed.statuses)} first: ${timed.errorSample ?? '?'}` : ''),
    );
  }
  const ports = await target.client.listAll('ports', { network_id: network.id, fields: 'fixed_ips' }, 5000);
  const addresses = new Set(ports.flatMap((p) => (p.fixed_ips as Array<{ ip_address: string }>).map((f) => f.ip_address)));
  const errors = blocks.reduce((n, b) => n + b.timed.errors, 0);
  if (ports.length !== opts.fill - errors) progress(`[${target.name}] fill: ${ports.length} ports on the network, expected ${opts.fill - errors}`);
  return {
    mode: opts.fillMode,
    clients: opts.fillClients,
    blocks,
    growth: growthOf(blocks.map((b) => b.timed.latencyMs.p50)),
    cpuGrowth: growthOf(blocks.map((b) => b.timed.serverCpuMicrosPerOp)),
    ports: ports.length,
    distinctAddresses: addresses.size,
  };
}

/** The last block's figure over the median of the first half of the blocks (warm-up in block 1 then weighs less). */
function growthOf(perBlock: number[]): number {
  if (perBlock.length < 2) return NaN;
  return perBlock[perBlock.length - 1]! / median(perBlock.slice(0, Math.max(1, Math.floor(perBlock.length / 2))));
}

// ---------------------------------------------------------------------------------------------
// Report

function verdicts(target: Target, cells: Cell[], list: { present: number } | undefined, fill: FillResult | undefined): Verdict[] {
  const out: Verdict[] = [];
  const reference = target.engine === 'sqlite' ? '' : ` (the target is set for our server on SQLite; ${target.name} for reference)`;
  const pc = cells.find((c) => c.scenario === 'port-create' && c.concurrency === TARGET.portCreate.concurrency);
  if (pc) {
    const pass = pc.median.rate >= TARGET.portCreate.minRate && pc.median.p99Ms < TARGET.portCreate.maxP99Ms && pc.errors === 0;
    out.push({
      what: `port create, ${TARGET.portCreate.concurrency} clients`,
      verdict: pass ? 'PASS' : 'MISS',
      detail:
        `${fmt(pc.median.rate)} creates/s (need >= ${fmt(TARGET.portCreate.minRate)}), p99 ${fmt(pc.median.p99Ms, 2)} ms (need < ${TARGET.portCreate.maxP99Ms})` +
        (pc.errors ? `, ${pc.errors} errors` : '') +
        reference,
    });
  }
  const lc = cells.find((c) => c.scenario === 'list' && c.concurrency === TARGET.list.concurrency);
  if (lc && list) {
    const pass = lc.median.p50Ms < TARGET.list.maxP50Ms && lc.errors === 0;
    out.push({
      what: '1,000-port page, 1 client',
      verdict: pass ? 'PASS' : 'MISS',
      detail:
        `p50 ${fmt(lc.median.p50Ms, 2)} ms (need < ${TARGET.list.maxP50Ms}) with ${fmt(list.present)} ports present` +
        (list.present < TARGET.list.portsPresent ? ` (the target assumes ${fmt(TARGET.list.portsPresent)})` : '') +
        reference,
    });
  }
  if (fill) {
    const pass = fill.growth <= TARGET.fill.maxGrowth && fill.distinctAddresses === fill.ports;
    out.push({
      what: 'allocation time flat as the /16 fills',
      verdict: Number.isNaN(fill.growth) ? 'n/a' : pass ? 'PASS' : 'MISS',
      detail:
        (Number.isNaN(fill.growth)
          ? 'one block only; use more ports than --block'
          : `last block p50 is ${fmt(fill.growth, 2)}x the first half's (need <= ${TARGET.fill.maxGrowth}x)` +
            (Number.isNaN(fill.cpuGrowth) ? '' : `; server CPU per create ${fmt(fill.cpuGrowth, 2)}x`)) +
        ` after ${fmt(fill.ports)} allocations; ${fmt(fill.distinctAddresses)} distinct addresses on ${fmt(fill.ports)} ports` +
        (fill.ports < TARGET.fill.ports ? ` (the target is about ${fmt(TARGET.fill.ports)})` : '') +
        reference,
    });
  }
  return out;
}

function report(
  target: Target,
  cells: Cell[],
  fill: FillResult | undefined,
  listInfo: { present: number; seedRate: number } | undefined,
  opts: Options,
): string {
  const ours = target.server !== undefined;
  const lines: string[] = [];
  lines.push(
    (ours ? `Neutron: our neutron-server on ${target.name}` : `Neutron at ${target.name}`) +
      (cells.length ? `; medians of ${opts.rounds} run(s) of ${opts.durationMs / 1000} s after ${opts.warmupMs / 1000} s warm-up` : ''),
  );
  for (const note of target.notes ?? []) lines.push(note);
  if (listInfo) lines.push(`list: ${fmt(listInfo.present)} ports visible; seeded by bulk create at ${fmt(listInfo.seedRate)} ports/s`);
  if (cells.length) {
    lines.push(
      '',
      table(
        [
          { header: 'scenario', align: 'left' },
          { header: 'clients' },
          { header: 'ops/s' },
          { header: 'range' },
          { header: 'p50 ms' },
          { header: 'p99 ms' },
          { header: 'errors' },
          { header: 'srv ms' },
          { header: 'srv cpu%' },
          { header: 'srv cpu us/op' },
          { header: 'load cpu%' },
          { header: 'other cpu%' },
        ],
        cells.map((c) => [
          c.label,
          String(c.concurrency),
          fmt(c.median.rate),
          c.runs.length > 1 ? `${fmt(c.minRate)}-${fmt(c.maxRate)}` : '',
          fmt(c.median.p50Ms, 2),
          fmt(c.median.p99Ms, 2),
          fmt(c.errors),
          fmt(c.median.serverMeanMs, 2),
          fmt(c.median.serverCpuPercent),
          fmt(c.median.serverCpuMicrosPerOp),
          fmt(c.median.clientCpuPercent),
          fmt(c.median.otherCpuPercent),
        ]),
      ),
    );
    for (const c of cells.filter((x) => x.errorSample)) lines.push(`first error, ${c.label} at ${c.concurrency}: ${c.errorSample}`);
  }
  if (fill) {
    const bulk = fill.mode === 'bulk';
    lines.push(
      '',
      `IP allocation as one /16 fills: ${fill.mode} mode, ${fill.clients} client(s); ` +
        (bulk ? `each block bulk-created, then ${opts.probe} single creates timed` : 'every create timed'),
      '',
      table(
        [
          { header: 'block' },
          { header: 'ports after' },
          { header: 'block s' },
          ...(bulk ? [{ header: 'bulk ms/req' }, { header: 'bulk ports/s' }] : []),
          { header: 'timed' },
          { header: 'creates/s' },
          { header: 'mean ms' },
          { header: 'p50 ms' },
          { header: 'p99 ms' },
          { header: 'max ms' },
          { header: 'errors' },
          { header: 'srv ms' },
          { header: 'srv cpu%' },
          { header: 'srv cpu us/op' },
          { header: 'other cpu%' },
        ],
        fill.blocks.map((b) => [
          String(b.block),
          fmt(b.portsAfter),
          fmt(b.seconds, 1),
          ...(bulk ? [fmt(b.bulk?.meanMs), fmt(b.bulk?.portsPerSecond)] : []),
          fmt(b.timed.requests + b.timed.errors),
          fmt(b.timed.requestsPerSecond),
          fmt(b.timed.latencyMs.mean, 2),
          fmt(b.timed.latencyMs.p50, 2),
          fmt(b.timed.latencyMs.p99, 2),
          fmt(b.timed.latencyMs.max, 1),
          fmt(b.timed.errors),
          fmt(b.timed.serverMeanMs, 2),
          fmt(b.timed.serverCpuPercent),
          fmt(b.timed.serverCpuMicrosPerOp),
          fmt(b.timed.otherCpuPercent),
        ]),
      ),
      `addresses: ${fmt(fill.distinctAddresses)} distinct on ${fmt(fill.ports)} ports of the fill network`,
    );
    const sample = fill.blocks.find((b) => b.timed.errorSample)?.timed.errorSample;
    if (sample) lines.push(`first error: ${sample}`);
  }
  lines.push(
    '',
    [
      'ops/s, p50, p99: medians over the runs (range: slowest-fastest run); latency as the client sees it; one op = one request,',
      '  except network+subnet (two requests, timed together)',
      ours
        ? 'srv ms: mean time inside the server per op (Fastify onRequest to response sent, from its /metrics); srv cpu: the server process'
        : 'srv ms, srv cpu: unknown for a server that is not ours (other cpu% includes it when it runs on this machine)',
      `load cpu%: this load generator; other cpu%: everything else on the machine${target.engine === 'postgres' ? ', PostgreSQL included' : ''}`,
    ].join('\n'),
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Runs

async function benchTarget(target: Target, opts: Options): Promise<object> {
  let listResult: Awaited<ReturnType<typeof listScenario>> | undefined;
  let cells: Cell[] = [];
  let fill: FillResult | undefined;
  if (opts.scenarios.includes('list')) {
    listResult = await listScenario(target, opts);
    cells = [...listResult.cells];
  }
  if (opts.scenarios.includes('port-create') || opts.scenarios.includes('net-subnet')) {
    await target.onPhase?.('creates');
    cells = [...cells, ...(await createScenarios(target, opts))];
  }
  if (opts.scenarios.includes('fill')) {
    await target.onPhase?.('fill');
    fill = await fillScenario(target, opts);
  }

  process.stdout.write(`\n${report(target, cells, fill, listResult, opts)}\n\n`);
  const results = verdicts(target, cells, listResult, fill);
  for (const v of results) process.stdout.write(`TARGET ${v.verdict}: ${target.name}: ${v.what}: ${v.detail}\n`);
  const noisy = cells.filter((c) => c.median.otherCpuPercent > NOISY_OTHER_CPU_PERCENT);
  if (noisy.length && target.server)
    process.stdout.write(
      `  (noisy: other processes used more than ${NOISY_OTHER_CPU_PERCENT}% of a core during ${noisy.length} of ${cells.length} rows; rerun on a quiet machine)\n`,
    );
  return {
    target: target.name,
    ours: target.server !== undefined,
    notes: target.notes,
    list: listResult ? { present: listResult.present, seedSeconds: listResult.seedSeconds, seedPortsPerSecond: listResult.seedRate } : undefined,
    results: cells,
    fill,
    verdicts: results,
  };
}

function writeJson(opts: Options, name: string, data: object): void {
  mkdirSync(opts.out, { recursive: true });
  const file = join(opts.out, `neutron-${name}.json`);
  const settings = { ...opts, token: opts.token ? '(set)' : undefined };
  writeFileSync(file, `${JSON.stringify({ suite: 'neutron', date: new Date().toISOString(), machine: machineSummary(), settings, ...data }, null, 2)}\n`);
  process.stdout.write(`\nJSON: ${file}\n`);
}

/** Refuses early, and clearly, when the endpoint does not serve what the scenarios need (or the token is refused). */
async function probe(client: NeutronClient, opts: Options): Promise<void> {
  const collection = opts.scenarios.some((s) => s !== 'net-subnet') ? 'ports' : 'networks';
  try {
    await client.call('GET', `/v2.0/${collection}?limit=1&fields=id`, undefined, [200]);
  } catch (err) {
    throw new Error(`${client.baseUrl} does not list ${collection}, so this suite cannot run there: ${(err as Error).message}`);
  }
}

async function benchOurServer(engine: EngineName, opts: Options): Promise<void> {
  await withCleanup(async (cleanup) => {
    const workDir = mkdtempSync(join(tmpdir(), `tricircle-bench-neutron-${engine}-`));
    cleanup.add(`remove ${workDir}`, () => rmSync(workDir, { recursive: true, force: true }));
    const connection = await freshDatabase(engine, workDir, cleanup, opts.pgUrl);
    const env = {
      TRICIRCLE_DEFAULT__AUTH_STRATEGY: 'noauth',
      TRICIRCLE_DEFAULT__LOG_LEVEL: opts.logLevel,
      TRICIRCLE_DEFAULT__STATE_PATH: workDir,
      TRICIRCLE_DATABASE__CONNECTION: connection,
      TRICIRCLE_QUOTAS__QUOTA_PORT: '-1',
      TRICIRCLE_QUOTAS__QUOTA_NETWORK: '-1',
      TRICIRCLE_QUOTAS__QUOTA_SUBNET: '-1',
    };
    // An embedded SQLite database migrates itself; a PostgreSQL one is brought up to date first.
    if (engine !== 'sqlite') await runTricircle(['db', 'sync'], env);

    // With --cpu-prof the server is restarted (same database) at each phase, so that each
    // profile shows one kind of work: seeding, the list reads, the creates, the fill.
    const runId = randomBytes(3).toString('hex');
    const profileRoot = join(opts.out, `neutron-${engine}-profile-${runId}`);
    if (opts.cpuProf) rmSync(profileRoot, { recursive: true, force: true });
    const phases: string[] = [];
    const start = async (phase: string) => {
      const profileDir = join(profileRoot, `${phases.length + 1}-${phase}`);
      if (opts.cpuProf) mkdirSync(profileDir, { recursive: true });
      phases.push(phase);
      const server = await startServer(
        {
          args: ['neutron-server'],
          env,
          bindSection: 'NEUTRON',
          logFile: join(workDir, 'server.log'),
          nodeFlags: opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
        },
        cleanup,
      );
      progress(`[${engine}] neutron-server pid ${server.pid} at ${server.url}${opts.cpuProf ? ` (profiling phase '${phase}')` : ''}`);
      return server;
    };
    const first = opts.scenarios[0]!;
    const server = await start(first === 'list' ? 'list-seeding' : first === 'fill' ? 'fill' : 'creates');
    const client = new NeutronClient(server.url);
    await probe(client, opts);
    const target: Target = { name: engine, engine, client, server, prefix: `bench-${runId}`, networks: [] };
    if (engine === 'postgres') {
      const pgs = await postgresSettings(opts.pgUrl);
      target.notes = [
        `PostgreSQL ${pgs.server_version}: autovacuum ${pgs.autovacuum}, synchronous_commit ${pgs.synchronous_commit}, fsync ${pgs.fsync}, ` +
          `shared_buffers ${pgs.shared_buffers}, max_connections ${pgs.max_connections}`,
        ...(pgs.autovacuum === 'off'
          ? ["  (autovacuum off: rows updated on every create, such as a subnet's free-address range, keep every dead version for the whole run)"]
          : []),
      ];
    }
    if (opts.cpuProf) {
      target.onPhase = async (phase) => {
        if (phases[phases.length - 1] === phase) return;
        await target.server!.stop();
        target.server = await start(phase);
        target.client = new NeutronClient(target.server.url);
      };
    }
    const data = await benchTarget(target, opts);
    await target.server!.stop();
    writeJson(opts, engine, data);
    if (opts.cpuProf) {
      for (const [i, phase] of phases.entries()) {
        const dir = join(profileRoot, `${i + 1}-${phase}`);
        // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader thread writes one too).
        const profile = readdirSync(dir).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) ?? readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
        if (!profile) throw new Error(`the server wrote no .cpuprofile in ${dir}`);
        process.stdout.write(`\nServer CPU profile, phase '${phase}' (${join(dir, profile)}):\n${formatProfile(summarizeProfile(join(dir, profile)), 20)}\n`);
      }
    }
  });
}

/** Deletes what this run created on a --url endpoint: each network after its ports. */
function registerRemoteCleanup(target: Target, cleanup: Cleanup): void {
  cleanup.add(`delete the ${target.prefix}-* networks and their ports at ${target.client.baseUrl}`, async () => {
    if (!target.networks.length) return;
    progress(`[cleanup] deleting ${target.networks.length} network(s) named ${target.prefix}-* and their ports`);
    const started = performance.now();
    let failed = 0;
    // Many small networks (network+subnet) go several at a time; the ones with ports one by one, each with parallel port deletes.
    const networks = [...target.networks];
    let next = 0;
    const worker = async () => {
      while (next < networks.length) {
        const id = networks[next++]!;
        try {
          await target.client.deleteNetworkAndPorts(id, 8, (line) => progress(`[cleanup] ${line}`));
        } catch (err) {
          failed++;
          progress(`[cleanup] network ${id}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    progress(`[cleanup] done in ${fmt((performance.now() - started) / 1000, 1)} s${failed ? `; ${failed} network(s) left behind` : ''}`);
  });
}

async function benchUrl(url: string, opts: Options): Promise<void> {
  await withCleanup(async (cleanup) => {
    const client = new NeutronClient(url, opts.token);
    if (!opts.token) progress(`[${url}] no token (--token or OS_TOKEN): sending none, as to a noauth server`);
    await probe(client, opts);
    const target: Target = { name: url, client, prefix: `bench-${randomBytes(3).toString('hex')}`, networks: [] };
    registerRemoteCleanup(target, cleanup);
    progress(`[${url}] this run's networks are named ${target.prefix}-*`);
    const data = await benchTarget(target, opts);
    writeJson(opts, 'url', data);
  });
}

export const run = suiteRunner(
  'neutron',
  USAGE,
  options,
  (opts) =>
    `${opts.url ? `endpoint ${opts.url}` : `our server on ${opts.engines.join(', ')}`}; scenarios ${opts.scenarios.join(', ')}; ` +
    `clients ${opts.concurrency.join(', ')}; ${opts.rounds} round(s) x ${opts.durationMs / 1000} s; ` +
    `${fmt(opts.ports)} ports for the list; fill ${fmt(opts.fill)} in blocks of ${fmt(opts.block)}`,
  async (opts) => {
    if (opts.url) {
      await benchUrl(opts.url, opts);
      return;
    }
    await onEachEngine(opts, (engine) => benchOurServer(engine, opts));
  },
);
