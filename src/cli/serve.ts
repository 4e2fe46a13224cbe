import type { Command } from 'commander';
import type { LoadOptions } from '../config/index.js';
import { collect, openRuntime } from './runtime.js';

type ServiceName = 'admin-api' | 'neutron-server' | 'xjob';

/** `tricircle neutron-server --role central|local [--region R]`: central is the default. */
interface NeutronRole {
  role?: string;
  region?: string;
}

/**
 * Starts the named services in this process; `overrides` are the defaults of the calling
 * command. Fastify and the APIs load only here, not on every CLI start.
 */
async function startServices(services: ServiceName[], files: string[] | undefined, overrides?: LoadOptions['overrides'], neutronRole: NeutronRole = {}) {
  const [{ createAdminApi }, { Agents, createNeutronApi, createNeutronCore }, { closeOnSignal, createHttpApp, listen }, { jobWaker, startXJob }, { Registry }] =
    await Promise.all([
      import('../admin/index.js'),
      import('../neutron/index.js'),
      import('../http/index.js'),
      import('../xjob/index.js'),
      import('prom-client'),
    ]);
  if (neutronRole.role !== undefined && !['central', 'local'].includes(neutronRole.role))
    throw new Error(`--role must be central or local, not ${neutronRole.role}`);
  const { config, logger, db } = await openRuntime(files, overrides);
  const grace = config.DEFAULT.graceful_shutdown_timeout;
  const apps = [];
  let neutronUrl: string | undefined;
  // Workers in this process share the first API's metrics; alone, they get their own endpoint.
  const registry = new Registry();
  const workers = services.includes('xjob') ? await startXJob({ config, db, logger, registry }) : undefined;
  const wakeups = jobWaker(config, logger, workers?.engine);
  for (const name of services) {
    if (name === 'admin-api') {
      const app = createAdminApi({ config, db, logger, waker: wakeups.waker, registry });
      const address = await listen({ name, app, host: config.DEFAULT.bind_host, port: config.DEFAULT.bind_port });
      // A line for people and scripts, beside the JSON log.
      process.stderr.write(`tricircle admin-api listening on ${address}/v1.0\n`);
      apps.push(app);
    } else if (name === 'neutron-server') {
      let role;
      if (neutronRole.role === 'local') {
        const { plugin: core, deps } = createNeutronCore(config, db.kysely);
        role = { plugin: (await import('../neutron/local/index.js')).localPluginFor(config, core, neutronRole.region, new Agents(deps.db)), deps };
      } else {
        role = (await import('../neutron/central/index.js')).centralRoleFor(config, db, logger, wakeups.waker);
      }
      const app = createNeutronApi({ config, db, logger, plugin: role.plugin, deps: role.deps });
      const address = await listen({ name, app, host: config.neutron.bind_host, port: config.neutron.bind_port });
      neutronUrl = address;
      process.stderr.write(`tricircle neutron-server listening on ${address}/v2.0\n`);
      apps.push(app);
    } else if (services.length === 1 && config.xjob.bind_port !== null) {
      const app = createHttpApp({
        logger,
        service: 'xjob',
        registry,
        bodyLimit: 1024,
        renderError: (error, reply) => reply.code(error.status).send({ error: error.message }),
        healthCheck: async () => {
          await db.kysely.selectFrom('async_jobs').select('id').limit(1).execute();
        },
      });
      const address = await listen({ name, app, host: config.xjob.bind_host, port: config.xjob.bind_port });
      process.stderr.write(`tricircle xjob metrics on ${address}/metrics\n`);
      apps.push(app);
    }
  }
  if (services.includes('xjob')) process.stderr.write(`tricircle xjob running ${config.xjob.workers} workers\n`);
  const closers = [async () => workers?.stop(grace), wakeups.close, () => db.close()];
  return { config, logger, db, apps, closers, closeOnSignal, neutronUrl };
}

/** Serves the named services from one process until SIGTERM. */
async function serve(services: ServiceName[], files: string[] | undefined, overrides?: LoadOptions['overrides'], neutronRole: NeutronRole = {}): Promise<void> {
  const { config, logger, apps, closers, closeOnSignal } = await startServices(services, files, overrides, neutronRole);
  // Running jobs get the whole grace period; closing the database and the broker get a little more.
  const grace = config.DEFAULT.graceful_shutdown_timeout;
  closeOnSignal(apps, closers, grace + 10, (m) => logger.info(m));
}

/** `tricircle up`: the central services, then a local Neutron and a compute per region, all in this process. */
async function serveAllInOne(files: string[] | undefined, regionCount: number): Promise<void> {
  // The all-in-one has no Keystone yet, so it trusts identity headers unless told otherwise.
  const central = await startServices(['xjob', 'admin-api', 'neutron-server'], files, { DEFAULT: { auth_strategy: 'noauth' } });
  const { startRegions } = await import('./all-in-one.js');
  const regions = await startRegions(central.config, central.logger, central.db, central.neutronUrl!, regionCount);
  const grace = central.config.DEFAULT.graceful_shutdown_timeout;
  // Regions stop first: the central services' workers may still be calling them.
  central.closeOnSignal([...regions.apps, ...central.apps], [...regions.closers, ...central.closers], grace + 10, (m) => central.logger.info(m));
}

export function registerServe(program: Command): void {
  program
    .command('admin-api')
    .description('Serve the Admin API v1.0 (pods, routings, jobs)')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .action(async (opts: { configFile?: string[] }) => serve(['admin-api'], opts.configFile));

  program
    .command('neutron-server')
    .description('Serve the Neutron v2.0 API on [neutron] bind_host:bind_port')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .option('--role <role>', 'central (the default: pods, routings and jobs) or local (mirrors [tricircle] central_neutron_url)')
    .option('--region <name>', 'Region of a local Neutron; overrides [tricircle] local_region_name')
    .action(async (opts: { configFile?: string[] } & NeutronRole) => serve(['neutron-server'], opts.configFile, undefined, opts));

  program
    .command('xjob')
    .description('Run the job workers: [xjob] workers concurrent runs, sharing the database with any number of other xjob processes')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .action(async (opts: { configFile?: string[] }) => serve(['xjob'], opts.configFile));

  program
    .command('up')
    .description(
      'Run the all-in-one cloud on this machine: the Admin API, the central Neutron, the job workers, and a local Neutron and a compute ' +
        'per region, on embedded SQLite, no auth',
    )
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .option('--regions <n>', 'number of regions (RegionOne, RegionTwo, ...)', '2')
    .action(async (opts: { configFile?: string[]; regions: string }) => {
      const count = Number(opts.regions);
      if (!Number.isInteger(count) || count < 1 || count > 50) throw new Error(`--regions must be a whole number from 1 to 50, not ${opts.regions}`);
      await serveAllInOne(opts.configFile, count);
    });
}
