import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, type Config } from '../config/index.js';
import type { CatalogEndpoint } from '../identity/index.js';
import { collect, loadFromFlags, openDatabase, openRuntime, type Runtime } from './runtime.js';

type ServiceName = 'admin-api' | 'neutron-server' | 'xjob';

/** `tricircle neutron-server --role central|local [--region R]`: central is the default. */
interface NeutronRole {
  role?: string;
  region?: string;
}

/** What `up` wants said about its services' ports: the option to change, after the section's bind_port. */
interface ServiceOptions {
  neutronRole?: NeutronRole;
  /** Appended to the option a port clash names (`up`: ' or --base-port'). */
  portAlternative?: string;
}

/**
 * Starts the named services in this process. Fastify and the APIs load only here, not on
 * every CLI start.
 */
async function startServices(services: ServiceName[], { config, logger, db }: Runtime, { neutronRole = {}, portAlternative = '' }: ServiceOptions = {}) {
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
  const grace = config.DEFAULT.graceful_shutdown_timeout;
  const apps = [];
  const urls: Partial<Record<ServiceName, string>> = {};
  // Workers in this process share the first API's metrics; alone, they get their own endpoint.
  const registry = new Registry();
  const workers = services.includes('xjob') ? await startXJob({ config, db, logger, registry }) : undefined;
  const wakeups = jobWaker(config, logger, workers?.engine);
  const closers = [async () => workers?.stop(grace), wakeups.close, () => db.close()];
  for (const name of services) {
    if (name === 'admin-api') {
      const app = createAdminApi({ config, db, logger, waker: wakeups.waker, registry });
      apps.push(app);
      const address = await listen({
        name,
        description: 'the Admin API',
        portOption: `[DEFAULT] bind_port${portAlternative}`,
        app,
        host: config.DEFAULT.bind_host,
        port: config.DEFAULT.bind_port,
      });
      urls[name] = address;
      // A line for people and scripts, beside the JSON log.
      process.stderr.write(`tricircle admin-api listening on ${address}/v1.0\n`);
    } else if (name === 'neutron-server') {
      let role;
      if (neutronRole.role === 'local') {
        const { plugin: core, deps } = createNeutronCore(config, db.kysely);
        role = { plugin: (await import('../neutron/local/index.js')).localPluginFor(config, core, neutronRole.region, new Agents(deps.db)), deps };
      } else {
        role = (await import('../neutron/central/index.js')).centralRoleFor(config, db, logger, wakeups.waker);
      }
      const app = createNeutronApi({ config, db, logger, plugin: role.plugin, deps: role.deps });
      apps.push(app);
      const address = await listen({
        name,
        description: neutronRole.role === 'local' ? 'the local Neutron' : 'the central Neutron',
        portOption: `[neutron] bind_port${portAlternative}`,
        app,
        host: config.neutron.bind_host,
        port: config.neutron.bind_port,
      });
      urls[name] = address;
      process.stderr.write(`tricircle neutron-server listening on ${address}/v2.0\n`);
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
      apps.push(app);
      const address = await listen({
        name,
        description: 'the xjob metrics',
        portOption: '[xjob] bind_port',
        app,
        host: config.xjob.bind_host,
        port: config.xjob.bind_port,
      });
      process.stderr.write(`tricircle xjob metrics on ${address}/metrics\n`);
    }
  }
  if (services.includes('xjob')) process.stderr.write(`tricircle xjob running ${config.xjob.workers} workers\n`);
  return { config, logger, db, apps, closers, closeOnSignal, urls };
}

/** Serves the named services from one process until SIGTERM. */
async function serve(services: ServiceName[], files: string[] | undefined, neutronRole: NeutronRole = {}): Promise<void> {
  const { config, logger, apps, closers, closeOnSignal } = await startServices(services, await openRuntime(files), { neutronRole });
  // Running jobs get the whole grace period; closing the database and the broker get a little more.
  const grace = config.DEFAULT.graceful_shutdown_timeout;
  closeOnSignal(apps, closers, grace + 10, (m) => logger.info(m));
}

interface UpOptions {
  configFile?: string[];
  regions: string;
  dataDir?: string;
  host?: string;
  basePort?: string;
  reset?: boolean;
}

/** A whole number option within bounds, or an error naming it. */
function wholeNumber(option: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new Error(`${option} must be a whole number from ${min} to ${max}, not ${text}`);
  return value;
}

/**
 * `tricircle up`: locks and checks the data directory, starts the identity service, then the
 * central services and the regions against it, writes the client files and says where
 * everything is. Serves until SIGTERM or Ctrl-C.
 */
async function serveAllInOne(opts: UpOptions): Promise<void> {
  const count = wholeNumber('--regions', opts.regions, 1, 50);
  const basePort = opts.basePort === undefined ? undefined : wholeNumber('--base-port', opts.basePort, 1, 65535 - 2 - 2 * count);
  const [allInOne, dataDir, { writeCloudFiles }, { MIGRATION_NAMES, parseConnection }, { createIdentityApi }, { listen }, { pino }] = await Promise.all([
    import('./all-in-one.js'),
    import('./data-dir.js'),
    import('./up-files.js'),
    import('../db/index.js'),
    import('../identity/index.js'),
    import('../http/index.js'),
    import('pino'),
  ]);
  const loaded = loadFromFlags(opts.configFile, allInOne.ALL_IN_ONE_DEFAULTS);
  let config: Config = allInOne.withHostAndPorts(loaded.config, opts.host, basePort);
  if (opts.dataDir !== undefined) config = { ...config, DEFAULT: { ...config.DEFAULT, state_path: opts.dataDir } };
  const logger = pino({ level: config.DEFAULT.log_level, base: { pid: process.pid } });
  for (const option of loaded.unknown) logger.warn(`unknown option ${option} ignored`);

  const dir = resolve(config.DEFAULT.state_path);
  dataDir.lockDataDir(dir);
  if (opts.reset) process.stderr.write(`tricircle up: --reset removed ${dataDir.resetDataDir(dir).length} files from ${dir}\n`);
  const regions = Array.from({ length: count }, (_, i) => allInOne.regionName(i + 1));
  const central = parseConnection(config.database.connection, config.DEFAULT.state_path);
  const sqliteFiles = [
    ...(central.dialect === 'sqlite' && central.target !== ':memory:' ? [central.target] : []),
    ...regions.flatMap((region) => [allInOne.regionDatabase(config, region, 'neutron'), allInOne.regionDatabase(config, region, 'compute')]),
  ];
  for (const file of sqliteFiles) dataDir.checkDatabase(file, MIGRATION_NAMES);
  const db = await openDatabase(config, logger);
  if (central.dialect === 'sqlite') {
    const released = await allInOne.releaseDeadRuns(db);
    if (released) logger.warn({ runs: released }, 'job runs of a previous up that did not stop cleanly released; their jobs run again');
  }

  // The identity service first: every other service validates tokens against it.
  const catalog: CatalogEndpoint[] = [];
  const identity = createIdentityApi({ config, db, logger, catalog: () => catalog });
  const identityUrl = await listen({
    name: 'identity',
    description: 'the identity service',
    portOption: allInOne.portOption('identity'),
    app: identity,
    host: config.identity.bind_host,
    port: config.identity.bind_port,
  });
  config = allInOne.withIdentity(config, `${identityUrl}/v3`);
  const services = await startServices(['xjob', 'admin-api', 'neutron-server'], { config, logger, db }, { portAlternative: ' or --base-port' });
  const regionsUp = await allInOne.startRegions(config, logger, db, services.urls['neutron-server']!, count, basePort);
  catalog.push(
    ...allInOne.catalogOf(config, { identity: identityUrl, admin: services.urls['admin-api']!, central: services.urls['neutron-server']! }, regionsUp.urls),
  );

  const files = writeCloudFiles(dir, {
    authUrl: `${identityUrl}/v3`,
    region: config.client.top_region_name,
    regions,
    users: [
      { name: 'admin', password: config.identity.admin_password },
      { name: 'demo', password: config.identity.demo_password },
    ],
  });
  const grace = config.DEFAULT.graceful_shutdown_timeout;
  // Before saying it is ready: whoever reads that may stop it at once.
  services.closeOnSignal([...regionsUp.apps, ...services.apps, identity], [...regionsUp.closers, ...services.closers], grace + 10, (m) => logger.info(m));
  process.stderr.write(allInOne.summary(catalog, config.client.top_region_name, dir, files));
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
    .action(async (opts: { configFile?: string[] } & NeutronRole) => serve(['neutron-server'], opts.configFile, opts));

  program
    .command('xjob')
    .description('Run the job workers: [xjob] workers concurrent runs, sharing the database with any number of other xjob processes')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .action(async (opts: { configFile?: string[] }) => serve(['xjob'], opts.configFile));

  program
    .command('up')
    .description(
      'Run the all-in-one cloud on this machine: the identity service, the Admin API, the central Neutron, the job workers, and a local ' +
        'Neutron and a compute per region, on embedded SQLite in the data directory',
    )
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .option('--regions <n>', 'number of regions (RegionOne, RegionTwo, ...)', '2')
    .option('--data-dir <dir>', 'directory of the databases and client files; sets [DEFAULT] state_path (default: state_path, .tricircle)')
    .option('--host <address>', 'address every service listens on (default: the bind_host options, 127.0.0.1)')
    .option('--base-port <port>', 'identity on this port, the Admin API on the next, the central Neutron on the next, then per region a Neutron and a compute')
    .option('--reset', "remove the data directory's databases and client files first: start from nothing")
    .action(async (opts: UpOptions) => {
      try {
        await serveAllInOne(opts);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        // Refusals (lock, schema, port) are one line for the operator; nothing is left running.
        process.stderr.write(`tricircle up: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
}
