import type { Command } from 'commander';
import { collect, openRuntime } from './runtime.js';

/** `tricircle compute --region R`: the Nova and Glance subsets, until SIGTERM. */
async function serveCompute(files: string[] | undefined, region: string | undefined): Promise<void> {
  // Fastify and the API load only here, not on every CLI start.
  const [{ createComputeApi }, { closeOnSignal, listen }] = await Promise.all([import('../compute/index.js'), import('../http/index.js')]);
  const runtime = await openRuntime(files);
  const { logger, db } = runtime;
  // The flag wins over the files, which would win over an override.
  const config = region === undefined ? runtime.config : { ...runtime.config, compute: { ...runtime.config.compute, region_name: region } };
  const app = createComputeApi({ config, db, logger });
  const address = await listen({ name: 'compute', app, host: config.compute.bind_host, port: config.compute.bind_port, portOption: '[compute] bind_port' });
  process.stderr.write(`tricircle compute (${config.compute.region_name}) listening on ${address}/v2.1\n`);
  closeOnSignal([app], [() => db.close()], config.DEFAULT.graceful_shutdown_timeout, (m) => logger.info(m));
}

export function registerCompute(program: Command): void {
  program
    .command('compute')
    .description("Serve the Nova v2.1 subset (and Glance v2 images) that boots servers against the region's Neutron; no hypervisor")
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .option('--region <name>', 'Region served (overrides [compute] region_name)')
    .action(async (opts: { configFile?: string[]; region?: string }) => serveCompute(opts.configFile, opts.region));
}
