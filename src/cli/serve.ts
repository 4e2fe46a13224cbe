import type { Command } from 'commander';
import type { LoadOptions } from '../config/index.js';
import { collect, openRuntime } from './runtime.js';

/** Serves the Admin API until SIGTERM; `overrides` are the defaults of the calling command. */
async function serveAdminApi(files: string[] | undefined, overrides?: LoadOptions['overrides']): Promise<void> {
  // Fastify and the API are loaded only by the commands that serve, not by every CLI start.
  const [{ createAdminApi }, { closeOnSignal, listen }] = await Promise.all([import('../admin/index.js'), import('../http/index.js')]);
  const { config, logger, db } = await openRuntime(files, overrides);
  const app = createAdminApi({ config, db, logger });
  const address = await listen({ name: 'admin-api', app, host: config.DEFAULT.bind_host, port: config.DEFAULT.bind_port });
  // A line for people and scripts, beside the JSON log.
  process.stderr.write(`tricircle admin-api listening on ${address}/v1.0\n`);
  closeOnSignal([app], [() => db.close()], config.DEFAULT.graceful_shutdown_timeout, (m) => logger.info(m));
}

export function registerServe(program: Command): void {
  program
    .command('admin-api')
    .description('Serve the Admin API v1.0 (pods, routings, jobs)')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .action(async (opts: { configFile?: string[] }) => serveAdminApi(opts.configFile));

  program
    .command('up')
    .description('Run the all-in-one cloud on this machine (today: the Admin API on embedded SQLite, no auth)')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .action(async (opts: { configFile?: string[] }) =>
      // The all-in-one has no Keystone yet, so it trusts identity headers unless told otherwise.
      serveAdminApi(opts.configFile, { DEFAULT: { auth_strategy: 'noauth' } }),
    );
}
