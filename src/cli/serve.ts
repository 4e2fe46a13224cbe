import type { Command } from 'commander';
import type { LoadOptions } from '../config/index.js';
import { collect, openRuntime } from './runtime.js';

type ServiceName = 'admin-api' | 'neutron-server';

/**
 * Serves the named services from one process until SIGTERM; `overrides` are the defaults of
 * the calling command. Fastify and the APIs load only here, not on every CLI start.
 */
async function serve(services: ServiceName[], files: string[] | undefined, overrides?: LoadOptions['overrides']): Promise<void> {
  const [{ createAdminApi }, { createNeutronApi, createNeutronCore }, { closeOnSignal, listen }] = await Promise.all([
    import('../admin/index.js'),
    import('../neutron/index.js'),
    import('../http/index.js'),
  ]);
  const { config, logger, db } = await openRuntime(files, overrides);
  const apps = [];
  for (const name of services) {
    if (name === 'admin-api') {
      const app = createAdminApi({ config, db, logger });
      const address = await listen({ name, app, host: config.DEFAULT.bind_host, port: config.DEFAULT.bind_port });
      // A line for people and scripts, beside the JSON log.
      process.stderr.write(`tricircle admin-api listening on ${address}/v1.0\n`);
      apps.push(app);
    } else {
      const { plugin, deps } = createNeutronCore(config, db.kysely);
      const app = createNeutronApi({ config, db, logger, plugin, deps });
      const address = await listen({ name, app, host: config.neutron.bind_host, port: config.neutron.bind_port });
      process.stderr.write(`tricircle neutron-server listening on ${address}/v2.0\n`);
      apps.push(app);
    }
  }
  closeOnSignal(apps, [() => db.close()], config.DEFAULT.graceful_shutdown_timeout, (m) => logger.info(m));
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
    .action(async (opts: { configFile?: string[] }) => serve(['neutron-server'], opts.configFile));

  program
    .command('up')
    .description('Run the all-in-one cloud on this machine (today: the Admin API and the central Neutron on embedded SQLite, no auth)')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .action(async (opts: { configFile?: string[] }) =>
      // The all-in-one has no Keystone yet, so it trusts identity headers unless told otherwise.
      serve(['admin-api', 'neutron-server'], opts.configFile, { DEFAULT: { auth_strategy: 'noauth' } }),
    );
}
