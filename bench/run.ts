// `npm run bench -- <suite> [flags]`: runs bench/<suite>.ts. Benchmarks are not tests: they
// print figures (and write them as JSON) for the issue notes, and fail only when they cannot run.
//
// Adding a suite: write bench/<name>.ts exporting `about` and `run(argv)`, and add its line below.

import { isUsageError } from './lib/usage.js';

export interface Suite {
  /** One line for the list of suites. */
  about: string;
  /** Runs the suite with the arguments after its name; resolves when done and cleaned up. */
  run(argv: string[]): Promise<void>;
}

const SUITES: Record<string, () => Promise<Suite>> = {
  'admin-api': () => import('./admin-api.js'),
  boot: () => import('./boot.js'),
  converge: () => import('./converge.js'),
  neutron: () => import('./neutron.js'),
  stretch: () => import('./stretch.js'),
  up: () => import('./up.js'),
  xjob: () => import('./xjob.js'),
};

async function listSuites(): Promise<string> {
  const lines = await Promise.all(Object.entries(SUITES).map(async ([name, load]) => `  ${name.padEnd(12)} ${(await load()).about}`));
  return ['usage: npm run bench -- <suite> [flags]   (<suite> --help for its flags)', '', 'suites:', ...lines].join('\n');
}

const [name, ...rest] = process.argv.slice(2);
const load = name === undefined ? undefined : SUITES[name];
if (!load) {
  if (name !== undefined && name !== '--help' && name !== '-h') process.stderr.write(`bench: unknown suite '${name}'\n\n`);
  process.stdout.write(`${await listSuites()}\n`);
  process.exit(name === undefined || name === '--help' || name === '-h' ? 0 : 2);
}

try {
  await (await load()).run(rest);
} catch (err) {
  if (isUsageError(err)) {
    process.stderr.write(`bench ${name}: ${(err as Error).message} (see: npm run bench -- ${name} --help)\n`);
    process.exit(2);
  }
  process.stderr.write(`bench ${name}: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
