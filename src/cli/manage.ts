import type { Command } from 'commander';
import { showConfig } from '../config/index.js';
import { MIGRATION_NAMES, currentVersion, migrateToLatest, openDb, parseConnection } from '../db/index.js';
import { collect, loadFromFlags } from './runtime.js';

function openConfiguredDb(files: string[] | undefined) {
  const { config } = loadFromFlags(files);
  return openDb(parseConnection(config.database.connection, config.DEFAULT.state_path), 1);
}

export function registerManage(program: Command): void {
  const db = program.command('db').description('Manage the Tricircle database schema');
  db.command('sync')
    .description('Apply pending migrations (to the newest, or to --version)')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .option('--version <name>', `migration to stop at (${MIGRATION_NAMES.join(', ')})`)
    .action(async (opts: { configFile?: string[]; version?: string }) => {
      if (opts.version !== undefined && !MIGRATION_NAMES.includes(opts.version)) {
        throw new Error(`unknown migration '${opts.version}' (known: ${MIGRATION_NAMES.join(', ')})`);
      }
      const handle = openConfiguredDb(opts.configFile);
      try {
        const applied = await migrateToLatest(handle, opts.version);
        console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
        console.log(`version: ${await currentVersion(handle)}`);
      } finally {
        await handle.close();
      }
    });
  db.command('version')
    .description('Print the newest applied migration')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .action(async (opts: { configFile?: string[] }) => {
      const handle = openConfiguredDb(opts.configFile);
      try {
        console.log((await currentVersion(handle)) ?? 'none');
      } finally {
        await handle.close();
      }
    });

  program
    .command('config')
    .description('Configuration')
    .command('show')
    .description('Print the effective configuration and where each value came from (secrets masked)')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .action((opts: { configFile?: string[] }) => {
      const loaded = loadFromFlags(opts.configFile);
      process.stdout.write(showConfig(loaded));
      for (const option of loaded.unknown) process.stderr.write(`warning: unknown option ${option} ignored\n`);
    });
}
