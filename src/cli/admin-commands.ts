import { type Command, InvalidArgumentError, Option } from 'commander';
import { AdminClient, type ConnectOptions } from './admin-client.js';
import { WAIT_EXIT, waitForJobs } from './job-wait.js';
import { FORMATS, printItem, printList, type Format } from './output.js';

// `tricircle pod|routing|job ...`: the Admin API v1.0 over HTTP. Each resource is described
// once (its body key, collection and list columns) and the generic list/show/create/delete
// commands are built from that; only what differs per resource is written out below.

interface Resource {
  /** Body key and name in messages: {"pod": {...}}. */
  one: string;
  /** Collection: /v1.0/pods and {"pods": [...]}. */
  many: string;
  columns: readonly string[];
  /** Table widths of columns whose values can be long. */
  maxWidths?: Readonly<Record<string, number>>;
}

const POD: Resource = { one: 'pod', many: 'pods', columns: ['pod_id', 'region_name', 'az_name', 'pod_az_name', 'dc_name'] };
const ROUTING: Resource = {
  one: 'routing',
  many: 'routings',
  columns: ['id', 'top_id', 'bottom_id', 'pod_id', 'project_id', 'resource_type', 'created_at', 'updated_at'],
};
const JOB: Resource = {
  one: 'job',
  many: 'jobs',
  columns: ['id', 'type', 'status', 'project_id', 'timestamp', 'resource', 'error'],
  // The whole error is in `job show`.
  maxWidths: { error: 60 },
};

const POD_FIELDS = ['az_name', 'pod_az_name', 'dc_name'];
const ROUTING_FIELDS = ['top_id', 'bottom_id', 'pod_id', 'project_id', 'resource_type'];

type Options = ConnectOptions & { format: Format } & Record<string, unknown>;
type Handler = (client: AdminClient, opts: Options, args: string[]) => Promise<void>;

const flag = (field: string) => `--${field.replace(/_/g, '-')}`;
const attribute = (field: string) => field.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
const itemPath = (resource: Resource, id: string) => `/v1.0/${resource.many}/${encodeURIComponent(id)}`;

/** `--top-id <value>` and the like for API fields; mandatory ones are checked by commander. */
function addFieldOptions(command: Command, fields: readonly string[], mandatory: boolean, help: string): Command {
  for (const field of fields) command.addOption(new Option(`${flag(field)} <value>`, `${help} ${field}`).makeOptionMandatory(mandatory));
  return command;
}

/** The API fields given as options, snake_case as the API spells them. */
function givenFields(opts: Options, fields: readonly string[]): Record<string, string> {
  const given: Record<string, string> = {};
  for (const field of fields) {
    const value = opts[attribute(field)];
    if (typeof value === 'string') given[field] = value;
  }
  return given;
}

/**
 * A subcommand carrying the connection (and output) options itself, so that they work
 * after its name (`tricircle pod list --format json`); its handler gets a connected client.
 */
function leaf(group: Command, usage: string, description: string, handler: Handler, prints = true): Command {
  const command = group
    .command(usage)
    .description(description)
    .option('--os-endpoint <url>', 'Admin API URL (default: $OS_TRICIRCLE_ENDPOINT, $OS_ENDPOINT, the Keystone catalog, http://127.0.0.1:19999)')
    .option('--os-token <token>', 'Keystone token (default: $OS_TOKEN, or one issued for $OS_AUTH_URL/$OS_USERNAME/$OS_PASSWORD)');
  if (prints) command.addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table'));
  return command.action(async (...params: unknown[]) => {
    const self = params[params.length - 1] as Command;
    const opts = self.opts<Options>();
    await handler(await AdminClient.connect(opts), opts, self.processedArgs as string[]);
  });
}

/** Sends one item request and prints the item the API answers with. */
async function printOne(client: AdminClient, method: string, path: string, resource: Resource, opts: Options, body?: Record<string, unknown>): Promise<void> {
  const reply = await client.request(method, path, body && { [resource.one]: body });
  const item = reply[resource.one];
  if (typeof item !== 'object' || item === null) throw new Error(`the Admin API's answer has no "${resource.one}"`);
  printItem(item as Record<string, unknown>, opts.format);
}

function addList(group: Command, resource: Resource, filters: readonly string[], paged: boolean): Command {
  const command = leaf(group, 'list', `List ${resource.many}${paged ? ' (every page, unless --limit)' : ''}`, async (client, opts) => {
    const query = { ...givenFields(opts, filters), marker: opts.marker as string | undefined };
    const page = await client.list(resource.many, query, opts.limit as string | undefined);
    printList(page.items, resource.columns, opts.format, resource.maxWidths);
    // On stderr, so that the JSON on stdout stays one parseable document.
    if (page.nextMarker !== undefined) process.stderr.write(`more ${resource.many} follow: add --marker ${page.nextMarker}\n`);
  });
  addFieldOptions(command, filters, false, 'only those with this');
  if (paged) {
    command.option('--limit <n>', 'one page of at most n items').option('--marker <id>', `start after the ${resource.one} with this id`);
  }
  return command;
}

function addShow(group: Command, resource: Resource, id: string): Command {
  return leaf(group, `show <${id}>`, `Show one ${resource.one}`, (client, opts, [key]) => printOne(client, 'GET', itemPath(resource, key!), resource, opts));
}

function addDelete(group: Command, resource: Resource, id: string): Command {
  return leaf(
    group,
    `delete <${id}>`,
    `Delete one ${resource.one}`,
    async (client, _opts, [key]) => {
      await client.request('DELETE', itemPath(resource, key!));
    },
    false,
  );
}

/** `key=value` for --resource, gathered into one object over repeats. */
function resourceEntry(text: string, previous: Record<string, string> | undefined): Record<string, string> {
  const at = text.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected key=value, not '${text}'`);
  return { ...previous, [text.slice(0, at)]: text.slice(at + 1) };
}

/** A number of seconds for an option, at least `min`. */
function secondsOption(min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < min) throw new InvalidArgumentError(`expected a number of seconds, at least ${min}`);
    return value;
  };
}

const WAIT_HELP = `
Progress goes to stderr: one line rewritten in place on a terminal, otherwise a line each
time the counts change. Exit status:
  ${WAIT_EXIT.done}  no job is NEW, RUNNING or FAIL
  1  the command itself failed (bad arguments, the Admin API unreachable or refusing)
  ${WAIT_EXIT.timedOut}  the timeout came first (the message says how many jobs are left)
  ${WAIT_EXIT.failed}  no job is NEW or RUNNING, but some are FAIL (named on stderr); every FAIL
     job of the filters counts, also one that failed before the wait began
`;

function registerPods(program: Command): void {
  const pods = program.command('pod').description('Pods: the central region (no --az-name) and the regions it drives');
  const create = leaf(pods, 'create', 'Register a pod', (client, opts) =>
    printOne(client, 'POST', '/v1.0/pods', POD, opts, givenFields(opts, ['region_name', ...POD_FIELDS])),
  );
  addFieldOptions(create, ['region_name'], true, 'the pod');
  addFieldOptions(create, POD_FIELDS, false, 'the pod');
  addList(pods, POD, [], false);
  addShow(pods, POD, 'pod_id');
  addDelete(pods, POD, 'pod_id');
}

function registerRoutings(program: Command): void {
  const routings = program.command('routing').description('Resource routings: which bottom resource in which pod stands for a top one');
  addList(routings, ROUTING, ROUTING_FIELDS, true);
  addShow(routings, ROUTING, 'id');
  const create = leaf(routings, 'create', 'Create a routing', (client, opts) =>
    printOne(client, 'POST', '/v1.0/routings', ROUTING, opts, givenFields(opts, ROUTING_FIELDS)),
  );
  addFieldOptions(create, ROUTING_FIELDS, true, 'the routing');
  const update = leaf(routings, 'update <id>', 'Change some fields of a routing', (client, opts, [id]) => {
    const changes = givenFields(opts, ROUTING_FIELDS);
    if (Object.keys(changes).length === 0) throw new Error(`nothing to update: give at least one of ${ROUTING_FIELDS.map(flag).join(', ')}`);
    return printOne(client, 'PUT', itemPath(ROUTING, id!), ROUTING, opts, changes);
  });
  addFieldOptions(update, ROUTING_FIELDS, false, 'new');
  addDelete(routings, ROUTING, 'id');
}

function registerJobs(program: Command): void {
  const jobs = program.command('job').description('Asynchronous jobs that build in the regions what the central state implies');
  addList(jobs, JOB, ['type', 'status', 'project_id'], true);
  addShow(jobs, JOB, 'id');
  const create = leaf(jobs, 'create', 'Create a job (see `tricircle job schemas` for the resource keys of each type)', (client, opts) =>
    printOne(client, 'POST', '/v1.0/jobs', JOB, opts, { ...givenFields(opts, ['type', 'project_id']), resource: opts.resource }),
  );
  addFieldOptions(create, ['type', 'project_id'], true, 'the job');
  create.addOption(new Option('--resource <key=value>', 'a resource key of the job type; repeat for each').argParser(resourceEntry).makeOptionMandatory());
  leaf(jobs, 'redo <id>', 'Run a new or failed job again (the API answers with the new job)', (client, opts, [id]) =>
    printOne(client, 'PUT', itemPath(JOB, id!), JOB, opts),
  );
  addDelete(jobs, JOB, 'id');
  const wait = leaf(
    jobs,
    'wait',
    'Wait until no job is NEW or RUNNING, then fail if any is FAIL',
    async (client, opts) => {
      const filters = givenFields(opts, ['project_id', 'type']);
      process.exitCode = await waitForJobs(client, { timeout: opts.timeout as number, interval: opts.interval as number, filters });
    },
    false,
  );
  addFieldOptions(wait, ['project_id', 'type'], false, 'only jobs with this');
  wait
    .addOption(new Option('--timeout <seconds>', 'give up after this long; 0 waits without limit').argParser(secondsOption(0)).default(600))
    .addOption(new Option('--interval <seconds>', 'time between polls').argParser(secondsOption(0.05)).default(1))
    .addHelpText('after', WAIT_HELP);
  leaf(jobs, 'schemas', 'List the job types and the resource keys each needs', async (client, opts) => {
    const reply = await client.request('GET', '/v1.0/jobs/schemas');
    if (!Array.isArray(reply.schemas)) throw new Error(`the Admin API's answer has no "schemas" list`);
    printList(reply.schemas as Array<Record<string, unknown>>, ['type', 'resource'], opts.format);
  });
}

export function registerAdminCommands(program: Command): void {
  registerPods(program);
  registerRoutings(program);
  registerJobs(program);
}
