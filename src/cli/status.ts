import { type Command, Option } from 'commander';
import { addCloudOptions, connectCloud, NeutronReader, type AdminClient, type CloudOptions } from './admin-client.js';
import { cell, shorten, table } from './output.js';

// `tricircle status`: is every region's Neutron answering, what does each hold, and are the
// jobs that build the regions keeping up. One look for an operator, one exit code for a script.

type Json = Record<string, unknown>;

/** What each region's Neutron is asked to count, as its admin sees it there. */
const COUNTED = ['networks', 'subnets', 'ports', 'routers', 'floatingips'] as const;
type Counts = Record<(typeof COUNTED)[number], number>;

export interface RegionStatus {
  region: string;
  pod_id: string;
  az_name: string;
  /** The central pod (the one without an AZ): its Neutron is the central Neutron. */
  central: boolean;
  endpoint: string | null;
  reachable: boolean;
  /** How long the five lists took together (in parallel), when they were answered. */
  response_ms: number | null;
  counts: Counts | null;
  error: string | null;
}

export interface JobsStatus {
  new: number;
  running: number;
  /** FAIL jobs with their errors. */
  fail: Json[];
  /** The counts are of one page (pagination_max_limit): the backlog is at least that. */
  truncated: boolean;
}

export interface CloudStatus {
  regions: RegionStatus[];
  jobs: JobsStatus;
  /** Every region reachable and no FAIL job: the exit status is 0 exactly then. */
  healthy: boolean;
}

const STATUS_HELP = `
Regions are the pods of the Admin API (GET /v1.0/pods); each one's Neutron is found in the
Keystone catalog (public 'network' endpoints by region) or given with --neutron-endpoint.
Counts are what the region's Neutron lists for the caller (an admin sees every project).
Exit status:
  0  every region's Neutron answered and no job is FAIL
  1  a region is unreachable or answered with an error, a job is FAIL, or the command
     itself failed (bad arguments, the Admin API unreachable or refusing)
`;

async function regionStatus(pod: Json, endpoint: string | undefined, headers: Record<string, string>, timeout: number): Promise<RegionStatus> {
  const region = String(pod.region_name);
  const base = { region, pod_id: String(pod.pod_id), az_name: String(pod.az_name ?? ''), central: !pod.az_name, endpoint: endpoint ?? null };
  if (endpoint === undefined) {
    const error = `no Neutron endpoint for ${region}: none in the Keystone catalog; give --neutron-endpoint ${region}=URL`;
    return { ...base, reachable: false, response_ms: null, counts: null, error };
  }
  const neutron = new NeutronReader(region, endpoint, headers, timeout);
  const started = performance.now();
  try {
    const lists = await Promise.all(COUNTED.map((collection) => neutron.list(collection, 'fields=id')));
    const counts = Object.fromEntries(COUNTED.map((collection, i) => [collection, lists[i]!.length])) as Counts;
    return { ...base, reachable: true, response_ms: Math.round(performance.now() - started), counts, error: null };
  } catch (err) {
    return { ...base, reachable: false, response_ms: null, counts: null, error: (err as Error).message };
  }
}

/** One page of jobs in these statuses: one reading of the table, as `job wait` does. */
async function jobPage(admin: AdminClient, statuses: string[]): Promise<{ jobs: Json[]; more: boolean }> {
  const query = new URLSearchParams(statuses.map((status) => ['status', status]));
  const reply = await admin.request('GET', `/v1.0/jobs?${query}`);
  if (!Array.isArray(reply.jobs)) throw new Error(`the Admin API's answer has no "jobs" list`);
  return { jobs: reply.jobs as Json[], more: Array.isArray(reply.jobs_links) && reply.jobs_links.length > 0 };
}

async function jobsStatus(admin: AdminClient): Promise<JobsStatus> {
  const [pending, failed] = await Promise.all([jobPage(admin, ['new', 'running']), jobPage(admin, ['fail'])]);
  const running = pending.jobs.filter((job) => job.status === 'RUNNING').length;
  return { new: pending.jobs.length - running, running, fail: failed.jobs, truncated: pending.more || failed.more };
}

export async function cloudStatus(opts: CloudOptions): Promise<CloudStatus> {
  const { admin, neutronEndpoints } = await connectCloud(opts, opts.neutronEndpoint ?? new Map());
  const [pods, jobs] = await Promise.all([admin.list('pods', {}), jobsStatus(admin)]);
  // The central region first, then the regions as the Admin API lists them.
  const ordered = [...pods.items].sort((a, b) => Number(!!a.az_name) - Number(!!b.az_name));
  const regions = await Promise.all(ordered.map((pod) => regionStatus(pod, neutronEndpoints.get(String(pod.region_name)), admin.headers, opts.timeout)));
  return { regions, jobs, healthy: regions.every((r) => r.reachable) && jobs.fail.length === 0 };
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The status as tables: regions, then jobs, then the verdict the exit status gives. */
export function statusText(status: CloudStatus): string {
  const regionRows = status.regions.map((r) => [
    r.region + (r.central ? ' (central)' : ''),
    r.az_name,
    r.reachable ? 'yes' : 'NO',
    r.response_ms === null ? '' : `${r.response_ms} ms`,
    ...COUNTED.map((collection) => (r.counts ? String(r.counts[collection]) : '')),
  ]);
  const lines = [table(['region', 'az', 'reachable', 'time', ...COUNTED], regionRows)];
  for (const r of status.regions) if (r.error) lines.push(`${r.region}: ${r.error}\n`);
  const { jobs } = status;
  const atLeast = jobs.truncated ? '≥' : '';
  lines.push(`\njobs: ${atLeast}${jobs.new} NEW, ${atLeast}${jobs.running} RUNNING, ${atLeast}${jobs.fail.length} FAIL\n`);
  // A block per FAIL job rather than a table: the error is what matters and is long.
  const regionOf = new Map(status.regions.map((r) => [r.pod_id, r.region]));
  for (const job of jobs.fail) {
    const resource = Object.entries((job.resource ?? {}) as Json).map(([key, value]) =>
      key === 'pod_id' && regionOf.has(String(value)) ? `region=${regionOf.get(String(value))}` : `${key}=${cell(value)}`,
    );
    lines.push(`  FAIL ${cell(job.id)} ${cell(job.type)} (project ${cell(job.project_id)}) ${resource.join(', ')}\n`);
    lines.push(`       ${shorten(cell(job.error), 300)}\n`);
  }
  const unreachable = status.regions.filter((r) => !r.reachable).length;
  const problems = [unreachable && `${plural(unreachable, 'region')} unreachable`, jobs.fail.length && `${plural(jobs.fail.length, 'job')} FAIL`];
  lines.push(status.healthy ? '\nstatus: OK\n' : `\nstatus: FAILING (${problems.filter(Boolean).join(', ')})\n`);
  return lines.join('');
}

export function registerStatus(program: Command): void {
  const command = program.command('status').description('Per region: is its Neutron reachable, what it holds; and the job backlog and failures');
  addCloudOptions(command)
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addHelpText('after', STATUS_HELP)
    .action(async (opts: CloudOptions & { format: 'table' | 'json' }) => {
      const status = await cloudStatus(opts);
      process.stdout.write(opts.format === 'json' ? `${JSON.stringify(status, null, 2)}\n` : statusText(status));
      process.exitCode = status.healthy ? 0 : 1;
    });
}
