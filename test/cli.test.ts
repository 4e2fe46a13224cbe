import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JobRuns, resourceIdOf, type JobKey } from '../src/tricircle/index.js';
import { call, startAdminApi, type RunningAdminApi } from './support/admin-server.js';

// The admin CLI as an operator runs it: the real `tricircle` command in a child process
// against a real Admin API on SQLite. Spawning costs most of the time here, so independent
// invocations run together and setup that is not under test goes straight to the API.

const BIN = fileURLToPath(new URL('../bin/tricircle.js', import.meta.url));
// The host's OS_* variables must not steer the CLI under test.
const BASE_ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OS_')));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tricircle <line>`; the line is split on blanks (no value here holds one). */
function run(line: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...line.trim().split(/\s+/)], { env: { ...BASE_ENV, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts `tricircle <line>` and lets the test act on what it has printed so far:
 * `stderrShows(pattern)` resolves once stderr matches.
 */
function start(line: string) {
  const child = spawn(process.execPath, [BIN, ...line.trim().split(/\s+/)], { env: BASE_ENV });
  let stdout = '';
  let stderr = '';
  const watchers: Array<() => void> = [];
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    watchers.forEach((check) => check());
  });
  const result = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  const stderrShows = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => pattern.test(stderr) && resolve();
      watchers.push(check);
      check();
      void result.then(() => reject(new Error(`exited before stderr matched ${pattern}:\n${stderr}`)));
    });
  return { result, stderrShows };
}

/** Listens on a free port and gives its URL; `close()` it to get a port nobody answers on. */
async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('admin CLI over HTTP', () => {
  let dir: string;
  let api: RunningAdminApi;
  // Against the noauth API: table output, JSON output, and a run expected to fail.
  const table = async (line: string) => {
    const result = await run(`${line} --os-endpoint ${api.url}`);
    assert.equal(result.code, 0, `tricircle ${line}: ${result.stderr}`);
    return result.stdout;
  };
  const json = async (line: string) => JSON.parse(await table(`${line} --format json`));
  const fails = async (line: string) => {
    const result = await run(`${line} --os-endpoint ${api.url}`);
    assert.notEqual(result.code, 0, `tricircle ${line} should fail`);
    assert.equal(result.stdout, '');
    return result.stderr;
  };
  const post = async (path: string, body: unknown) => {
    const reply = await call(api.url, 'POST', path, body);
    assert.equal(reply.status, 200, reply.text);
    return reply.body;
  };
  const newPod = async (region: string) => (await post('/v1.0/pods', { pod: { region_name: region, az_name: `az-${region}` } })).pod.pod_id as string;
  // Jobs of a project of their own for each case; the workers' side is played by the test.
  const newJob = async (project: string) =>
    (await post('/v1.0/jobs', { job: { type: 'seg_rule_setup', project_id: project, resource: { project_id: project } } })).job.id as string;
  const keyOf = (project: string): JobKey => ({
    type: 'seg_rule_setup',
    resourceId: resourceIdOf('seg_rule_setup', { project_id: project }),
    projectId: project,
  });
  let runs: JobRuns;
  /** A run of the project's `jobs` NEW jobs, to be ended as `outcome` says. */
  const claimRun = async (project: string, jobs = 1) => {
    const runId = await runs.claim(keyOf(project));
    assert.ok(runId, `no run for ${project}`);
    assert.equal(await runs.mark(keyOf(project), runId), jobs);
    return (outcome: { ok: true } | { ok: false; error: string }) => runs.finish(runId, keyOf(project), outcome);
  };
  /** Job list requests the API has answered, from its metrics: how a test sees `job wait` poll. */
  const polls = async () => {
    const text = (await call(api.url, 'GET', '/metrics')).text;
    return Number(/^http_requests_total\{method="GET",route="\/v1\.0\/jobs",status="200"[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };
  /** Returns once `job wait` has polled `more` times from now. */
  const pollsAfter = async (more: number) => {
    const until = (await polls()) + more;
    for (const deadline = Date.now() + 60_000; (await polls()) < until;) {
      assert.ok(Date.now() < deadline, 'job wait stopped polling');
      await sleep(20);
    }
  };
  const failedJob = async (project: string, error: string) => {
    const id = await newJob(project);
    await (
      await claimRun(project)
    )({ ok: false, error });
    return id;
  };

  before(async () => {
    // SQLite only: the CLI sees HTTP, and the API's own suite covers every engine.
    dir = mkdtempSync(join(tmpdir(), 'tricircle-cli-'));
    // Small pages, so that listing everything must follow the next links.
    api = await startAdminApi(`sqlite:///${join(dir, 'tricircle.sqlite')}`, { DEFAULT: { pagination_max_limit: '2' } });
    runs = new JobRuns(api.db, 60);
  });
  after(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates, lists, shows and deletes pods', async () => {
    const [centralTable, regional, extra] = await Promise.all([
      table('pod create --region-name CentralRegion'),
      json('pod create --region-name RegionOne --az-name az1 --pod-az-name paz1 --dc-name dc1'),
      json('pod create --region-name RegionGone --az-name az9'),
    ]);
    assert.match(centralTable, /\| Field\s+\| Value\s+\|/);
    assert.match(centralTable, /\| region_name \| CentralRegion\s+\|/);
    assert.deepEqual({ ...regional, pod_id: 'x' }, { pod_id: 'x', region_name: 'RegionOne', az_name: 'az1', pod_az_name: 'paz1', dc_name: 'dc1' });

    const [listed, listTable, shown] = await Promise.all([json('pod list'), table('pod list'), table(`pod show ${regional.pod_id}`)]);
    assert.deepEqual(listed.map((p: { region_name: string }) => p.region_name).sort(), ['CentralRegion', 'RegionGone', 'RegionOne']);
    assert.match(listTable, /\| pod_id\s+\| region_name\s+\| az_name\s+\| pod_az_name\s+\| dc_name\s+\|/);
    assert.match(listTable, new RegExp(`\\| ${regional.pod_id} \\| RegionOne\\s+\\| az1\\s+\\| paz1\\s+\\| dc1\\s+\\|`));
    assert.match(shown, new RegExp(`\\| pod_id\\s+\\| ${regional.pod_id} \\|`));
    assert.match(shown, /\| dc_name\s+\| dc1\s+\|/);

    assert.equal(await table(`pod delete ${extra.pod_id}`), '');
    const stderr = await fails(`pod show ${extra.pod_id}`);
    assert.equal(stderr, `tricircle: error: Pod ${extra.pod_id} could not be found (HTTP 404)\n`);
  });

  it('creates, filters, pages through, updates and deletes routings', async () => {
    const podId = await newPod('RoutingRegion');
    const create = (top: string, type: string) =>
      `routing create --top-id ${top} --bottom-id b-${top} --pod-id ${podId} --project-id proj-r --resource-type ${type}`;
    const [viaTable, network] = await Promise.all([table(create('r1', 'router')), json(create('n1', 'network'))]);
    assert.match(viaTable, /\| top_id\s+\| r1\s+\|/);
    assert.equal(network.resource_type, 'network');
    for (const top of ['r2', 'r3', 'r4']) {
      await post('/v1.0/routings', { routing: { top_id: top, bottom_id: `b-${top}`, pod_id: podId, project_id: 'proj-r', resource_type: 'router' } });
    }

    const [all, routers, firstPage, listTable] = await Promise.all([
      json(`routing list --pod-id ${podId}`),
      json(`routing list --pod-id ${podId} --resource-type router`),
      run(`routing list --pod-id ${podId} --resource-type router --limit 2 --format json --os-endpoint ${api.url}`),
      table('routing list --top-id n1'),
    ]);
    // Five routings with pages of two: three pages, followed to the end.
    assert.deepEqual(all.map((r: { top_id: string }) => r.top_id).sort(), ['n1', 'r1', 'r2', 'r3', 'r4']);
    assert.deepEqual(routers.map((r: { top_id: string }) => r.top_id).sort(), ['r1', 'r2', 'r3', 'r4']);
    assert.match(listTable, new RegExp(`\\| ${network.id}\\s+\\| n1\\s+\\| b-n1\\s+\\| ${podId} \\| proj-r\\s+\\| network\\s+\\|`));
    assert.doesNotMatch(listTable, /\| r1 /);

    // One page at a time: the marker to continue with is on stderr, stdout stays JSON.
    assert.equal(firstPage.code, 0, firstPage.stderr);
    const page1 = JSON.parse(firstPage.stdout);
    assert.equal(page1.length, 2);
    const marker = /--marker (\d+)/.exec(firstPage.stderr)?.[1];
    assert.equal(marker, String(page1[1].id));
    const page2 = await json(`routing list --pod-id ${podId} --resource-type router --limit 2 --marker ${marker}`);
    assert.deepEqual([...page1, ...page2].map((r: { top_id: string }) => r.top_id).sort(), ['r1', 'r2', 'r3', 'r4']);

    const r1 = routers.find((r: { top_id: string }) => r.top_id === 'r1');
    const [updated, deleted] = await Promise.all([json(`routing update ${r1.id} --bottom-id b-r1-new`), table(`routing delete ${network.id}`)]);
    assert.equal(updated.bottom_id, 'b-r1-new');
    assert.equal(updated.top_id, 'r1');
    assert.equal(deleted, '');
    const [shown, gone, noChange] = await Promise.all([table(`routing show ${r1.id}`), fails(`routing show ${network.id}`), fails(`routing update ${r1.id}`)]);
    assert.match(shown, /\| bottom_id\s+\| b-r1-new\s+\|/);
    assert.match(gone, /^tricircle: error: .*not found \(HTTP 404\)\n$/);
    assert.match(noChange, /nothing to update/);
  });

  it('creates, lists, shows, redoes and deletes jobs, and lists the schemas', async () => {
    const podId = await newPod('JobRegion');
    await post('/v1.0/routings', { routing: { top_id: 'router-j', bottom_id: 'b-j', pod_id: podId, project_id: 'proj-j', resource_type: 'router' } });
    const routerJob = (project: string) =>
      `job create --type router_setup --project-id ${project} --resource pod_id=${podId} --resource router_id=router-j --resource network_id=net-j`;
    const [seg, routerTable, notOwned] = await Promise.all([
      json('job create --type seg_rule_setup --project-id proj-j --resource project_id=proj-j'),
      table(routerJob('proj-j')),
      fails(routerJob('other')),
    ]);
    assert.equal(seg.type, 'seg_rule_setup');
    assert.equal(seg.status, 'NEW');
    assert.deepEqual(seg.resource, { project_id: 'proj-j' });
    assert.match(routerTable, new RegExp(`\\| resource\\s+\\| pod_id=${podId}, router_id=router-j, network_id=net-j \\|`));
    const routerId = /\| id\s+\| ([0-9a-f-]{36})\s+\|/.exec(routerTable)?.[1];
    assert.ok(routerId, routerTable);
    assert.match(notOwned, /router router-j doesn't belong to the project other \(HTTP 400\)/);

    const [redone, shown, schemas, schemaTable] = await Promise.all([
      json(`job redo ${seg.id}`),
      table(`job show ${seg.id}`),
      json('job schemas'),
      table('job schemas'),
    ]);
    assert.notEqual(redone.id, seg.id);
    assert.deepEqual([redone.type, redone.status, redone.project_id], ['seg_rule_setup', 'NEW', 'proj-j']);
    assert.match(shown, new RegExp(`\\| id\\s+\\| ${seg.id} \\|`));
    assert.match(shown, /\| resource\s+\| project_id=proj-j\s+\|/);
    assert.deepEqual(schemas.find((s: { type: string }) => s.type === 'router_setup').resource, ['pod_id', 'router_id', 'network_id']);
    assert.match(schemaTable, /\| seg_rule_setup\s+\| project_id\s+\|/);

    // Three jobs with pages of two: listing them all follows jobs_links.
    const [newJobs, segJobs] = await Promise.all([json('job list --status new'), json('job list --type seg_rule_setup --project-id proj-j')]);
    assert.deepEqual(newJobs.map((j: { id: string }) => j.id).sort(), [seg.id, redone.id, routerId].sort());
    assert.deepEqual(segJobs.map((j: { id: string }) => j.id).sort(), [seg.id, redone.id].sort());

    assert.equal(await table(`job delete ${routerId}`), '');
    assert.match(await fails(`job show ${routerId}`), new RegExp(`Job ${routerId} not found \\(HTTP 404\\)`));
  });

  it('shows the error of a FAIL job, and lists FAIL jobs with the error shortened', async () => {
    const error = `region RegionOne answered 409: ${'the port is in use by another device '.repeat(4).trim()}`;
    const id = await failedJob('proj-f', error);
    const pending = await newJob('proj-f2');
    const [shown, shownJson, pendingJson, failedJson, failedTable] = await Promise.all([
      table(`job show ${id}`),
      json(`job show ${id}`),
      json(`job show ${pending}`),
      json('job list --status fail'),
      table('job list --status FAIL --project-id proj-f'),
    ]);
    assert.match(shown, /\| status\s+\| FAIL\s+\|/);
    assert.ok(shown.includes(`| error      | ${error} |`), shown);
    assert.equal(shownJson.error, error);
    assert.equal(pendingJson.error, null);
    assert.deepEqual(
      failedJson.map((j: { id: string; status: string; error: string }) => [j.id, j.status, j.error]),
      [[id, 'FAIL', error]],
    );
    assert.match(failedTable, /\| id\s+\| type\s+\| status\s+\| project_id\s+\| timestamp\s+\| resource\s+\| error\s+\|/);
    const row = failedTable.split('\n').find((line) => line.includes(id));
    assert.ok(row?.includes(`| ${error.slice(0, 59)}… |`), failedTable);
  });

  it('job wait: returns at once when nothing is pending, and fails naming the FAIL jobs', async () => {
    const failed = await failedJob('proj-wf', 'region said 503');
    const [idle, withFailure] = await Promise.all([
      run(`job wait --project-id proj-idle --os-endpoint ${api.url}`),
      run(`job wait --project-id proj-wf --os-endpoint ${api.url}`),
    ]);
    assert.deepEqual([idle.code, idle.stderr], [0, '']);
    assert.match(idle.stdout, /^done: no job is NEW, RUNNING or FAIL; 0 jobs finished while waiting \([\d.]+s\)\n$/);
    assert.equal(withFailure.code, 3, withFailure.stderr);
    assert.equal(withFailure.stdout, '');
    assert.match(withFailure.stderr, /^tricircle: no job is NEW or RUNNING \(0 finished while waiting\), but 1 FAIL:\n/);
    assert.ok(withFailure.stderr.includes(`  ${failed}  seg_rule_setup  project_id=proj-wf  region said 503\n`), withFailure.stderr);
  });

  it('job wait: times out while a job stays NEW (no workers here), counting past one page as ≥N', async () => {
    await newJob('proj-wt');
    // Three NEW jobs with pages of two: more than one page holds.
    for (let i = 0; i < 3; i++) await newJob('proj-wt3');
    const [one, many] = await Promise.all([
      run(`job wait --project-id proj-wt --timeout 0.5 --interval 0.1 --os-endpoint ${api.url}`),
      run(`job wait --project-id proj-wt3 --type seg_rule_setup --timeout 0.5 --interval 0.1 --os-endpoint ${api.url}`),
    ]);
    assert.equal(one.code, 2, one.stderr);
    assert.equal(one.stdout, '');
    // Not a terminal: plain lines, and the counts did not change, so one progress line.
    assert.match(one.stderr, /^waiting: 1 NEW, 0 RUNNING, 0 done \([\d.]+s\)\ntricircle: timed out after 0.5s with 1 NEW, 0 RUNNING jobs left/);
    assert.equal(many.code, 2, many.stderr);
    assert.match(many.stderr, /^waiting: ≥2 NEW or RUNNING, 0 done \([\d.]+s\)\ntricircle: timed out after 0.5s with ≥2 NEW or RUNNING jobs left/);
  });

  it(
    'job wait: on a terminal, rewrites one progress line in place',
    { skip: spawnSync('script', ['--version']).error && 'no script(1) here to give a terminal' },
    async () => {
      await newJob('proj-tty');
      // script(1) runs the command on a pseudo-terminal and copies what it printed.
      const line = `${process.execPath} ${BIN} job wait --project-id proj-tty --timeout 0.5 --interval 0.1 --os-endpoint ${api.url}`;
      const tty = await new Promise<Run>((resolve) =>
        execFile('script', ['-qec', line, '/dev/null'], { env: BASE_ENV }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
        ),
      );
      assert.equal(tty.code, 2, tty.stdout + tty.stderr);
      const progress = /^((?:\rwaiting: 1 NEW, 0 RUNNING, 0 done\.\.\. [\d.]+s\x1b\[K)+)\r?\ntricircle: timed out/.exec(tty.stdout);
      assert.ok(progress, JSON.stringify(tty.stdout));
      assert.ok(progress[1]!.split('\r').length > 2, `the line was written once: ${JSON.stringify(tty.stdout)}`);
    },
  );

  it('job wait: finishes when the jobs it waits for complete, one plain line per change', async () => {
    const id = await newJob('proj-ww');
    const waiting = start(`job wait --project-id proj-ww --interval 0.05 --timeout 120 --os-endpoint ${api.url}`);
    // Several polls in each state, so that a line per poll would show.
    await waiting.stderrShows(/waiting: 1 NEW, 0 RUNNING, 0 done/);
    await pollsAfter(3);
    const finish = await claimRun('proj-ww');
    await waiting.stderrShows(/waiting: 1 NEW, 1 RUNNING, 0 done/);
    await pollsAfter(3);
    assert.deepEqual(await finish({ ok: true }), { held: true, jobs: 1 });
    const { code, stdout, stderr } = await waiting.result;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^done: no job is NEW, RUNNING or FAIL; 1 job finished while waiting \([\d.]+s\)\n$/);
    assert.deepEqual(
      stderr.split('\n').map((line) => line.replace(/ \([\d.]+s\)$/, '')),
      ['waiting: 1 NEW, 0 RUNNING, 0 done', 'waiting: 1 NEW, 1 RUNNING, 0 done', ''],
    );
    assert.equal((await json(`job show ${id}`)).status, 'SUCCESS');
  });

  it('job wait: past one page, a job that newer ones push off the page is not counted done', async () => {
    for (let i = 0; i < 3; i++) await newJob('proj-wp');
    const waiting = start(`job wait --project-id proj-wp --interval 0.05 --timeout 120 --os-endpoint ${api.url}`);
    await waiting.stderrShows(/waiting: ≥2 NEW or RUNNING, 0 done/);
    // The page of two now holds the newest job and the one before; the third newest left it, still NEW.
    await newJob('proj-wp');
    await pollsAfter(3);
    assert.deepEqual(await (await claimRun('proj-wp', 4))({ ok: true }), { held: true, jobs: 4 });
    const { code, stdout, stderr } = await waiting.result;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^waiting: ≥2 NEW or RUNNING, 0 done \([\d.]+s\)\n$/);
    // Counted: the jobs the wait saw NEW (the oldest was always beyond the page).
    assert.match(stdout, /; 3 jobs finished while waiting/);
  });

  it('fails clearly on bad arguments and on an endpoint nobody answers', async () => {
    const closed = createServer();
    const deadUrl = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const [dead, badResource, badFormat] = await Promise.all([
      run(`pod list --os-endpoint ${deadUrl}`),
      fails('job create --type seg_rule_setup --project-id p --resource no-equals-sign'),
      fails('pod list --format yaml'),
    ]);
    assert.notEqual(dead.code, 0);
    assert.match(dead.stderr, new RegExp(`^tricircle: error: cannot connect to the Admin API at ${deadUrl}/v1.0/pods: .*ECONNREFUSED`));
    assert.match(badResource, /expected key=value, not 'no-equals-sign'/);
    assert.match(badFormat, /Allowed choices are table, json/);
  });
});
