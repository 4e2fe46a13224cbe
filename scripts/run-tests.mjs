#!/usr/bin/env node
// `npm test`: lint and type-check, then every *.test.ts under src/ and test/ with node's test runner.
// Files run in parallel (they are mostly waiting on databases and HTTP); each file starts
// its own servers once. Pass file paths to run only those.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const requested = process.argv.slice(2);
const files = requested.length ? requested : [...findTests('src'), ...findTests('test')].sort();

// The whole run starts with the static checks: lint, formatting and types.
if (!requested.length) {
  for (const [name, args] of [
    ['eslint', ['eslint', '.']],
    ['prettier', ['prettier', '--check', '--log-level', 'warn', '.']],
    ['tsc', ['tsc', '-p', 'tsconfig.json']],
  ]) {
    const check = spawnSync('npx', args, { stdio: 'inherit' });
    if (check.status !== 0) {
      console.error(`${name} failed: fix the above before the tests run`);
      process.exit(check.status ?? 1);
    }
  }
}

const concurrency = process.env.TRICIRCLE_TEST_CONCURRENCY ?? '4';
const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
