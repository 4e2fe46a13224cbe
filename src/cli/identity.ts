import type { Command } from 'commander';
import { collect, openRuntime } from './runtime.js';

/** `tricircle identity`: the identity service alone, with the catalog of `[identity] endpoints`, until SIGTERM. */
async function serveIdentity(files: string[] | undefined): Promise<void> {
  // Fastify and the API load only here, not on every CLI start.
  const [{ createIdentityApi, parseCatalogEntries }, { closeOnSignal, listen }] = await Promise.all([
    import('../identity/index.js'),
    import('../http/index.js'),
  ]);
  const { config, logger, db } = await openRuntime(files);
  const entries = parseCatalogEntries(config.identity.endpoints);
  const app = createIdentityApi({ config, db, logger, catalog: () => entries });
  const address = await listen({ name: 'identity', app, host: config.identity.bind_host, port: config.identity.bind_port, portOption: '[identity] bind_port' });
  process.stderr.write(`tricircle identity listening on ${address}/v3\n`);
  closeOnSignal([app], [() => db.close()], config.DEFAULT.graceful_shutdown_timeout, (m) => logger.info(m));
}

export function registerIdentity(program: Command): void {
  program
    .command('identity')
    .description('Serve the Keystone v3 subset of the all-in-one (users admin and demo, tokens, catalog from [identity] endpoints); not for production')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .action(async (opts: { configFile?: string[] }) => serveIdentity(opts.configFile));
}
