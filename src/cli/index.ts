import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerCompute } from './compute.js';
import { registerIdentity } from './identity.js';
import { registerManage } from './manage.js';
import { registerServe } from './serve.js';
import { registerStatus } from './status.js';
import { registerTopology } from './topology.js';

const program = new Command('tricircle').description('Multi-region OpenStack networking: one central Neutron for many regions').exitOverride();

registerServe(program);
registerManage(program);
registerAdminCommands(program);
registerStatus(program);
registerTopology(program);
registerCompute(program);
registerIdentity(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // Anything else is a message for the operator, not a stack trace.
  const prefix = err instanceof ConfigError ? 'configuration error' : 'error';
  process.stderr.write(`tricircle: ${prefix}: ${(err as Error).message}\n`);
  process.exit(1);
}
