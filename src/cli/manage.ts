import { type Command, Option } from 'commander';
import { showConfig } from '../config/index.js';
import { collect, loadFromFlags } from './runtime.js';

// The database layer (Kysely and the drivers) takes longer to load than the rest of the CLI
// together: it is imported by the db commands when they run, not when they are registered.

async function openConfiguredDb(files: string[] | undefined) {
  const { openDb, parseConnection } = await import('../db/index.js');
  const { config } = loadFromFlags(files);
  return openDb(parseConnection(config.database.connection, config.DEFAULT.state_path), 1);
}

export function registerManage(program: Command): void {
  const db = program.command('db').description('Manage the Tricircle database schema');
  // The names of the migrations are filled in on the way to a db command (see the hook below).
  const versionOption = new Option('--version <name>', 'migration to stop at');
  db.command('sync')
    .description('Apply pending migrations (to the newest, or to --version)')
    .option('--config-file <path>', 'INI file; repeat for more, later files win', collect)
    .addOption(versionOption)
    .action(async (opts: { configFile?: string[]; version?: string }) => {
      const { MIGRATION_NAMES, currentVersion, migrateToLatest } = await import('../db/index.js');
      if (opts.version !== undefined && !MIGRATION_NAMES.includes(opts.version)) {
        throw new Error(`unknown migration '${opts.version}' (known: ${MIGRATION_NAMES.join(', ')})`);
      }
      const handle = await openConfiguredDb(opts.configFile);
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
      const { currentVersion } = await import('../db/index.js');
      const handle = await openConfiguredDb(opts.configFile);
      try {
        console.log((await currentVersion(handle)) ?? 'none');
      } finally {
        await handle.close();
      }
    });
  // Runs before `db` parses its arguments, so before any db help is printed, including
  // `tricircle db help sync`, which bypasses a hook on `db` itself.
  program.hook('preSubcommand', async (_program, subcommand) => {
    if (subcommand !== db) return;
    const { MIGRATION_NAMES } = await import('../db/index.js');
    versionOption.description = `migration to stop at (${MIGRATION_NAMES.join(', ')})`;
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
