import { announce } from './machine.js';

/** A mistake in a suite's flags: reported as one line, without a stack. */
export class UsageError extends Error {}

/** Is `err` a bad-flag error (ours, or node:util parseArgs's)? */
export function isUsageError(err: unknown): boolean {
  return err instanceof UsageError || (typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS_'));
}

/** The number given to --name, at least `min`. */
export function numberFlag(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}, not '${text}'`);
  return n;
}

/** The whole number given to --name, at least `min`. */
export function integerFlag(name: string, text: string, min: number): number {
  const n = numberFlag(name, text, min);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, not '${text}'`);
  return n;
}

/** A comma-separated flag value, as its non-empty items. */
export function listFlag(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * A suite's `run`: its flags parsed by `parse`, --help answered with `usage`, the heading
 * announced with `settings`, then `body`.
 */
export function suiteRunner<T extends { help: boolean }>(
  name: string,
  usage: string,
  parse: (argv: string[]) => T,
  settings: (opts: T) => string,
  body: (opts: T) => Promise<void>,
): (argv: string[]) => Promise<void> {
  return async (argv) => {
    const opts = parse(argv);
    if (opts.help) {
      process.stdout.write(usage);
      return;
    }
    announce(name, settings(opts));
    await body(opts);
  };
}
