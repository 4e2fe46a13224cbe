/** A mistake in a suite's flags: reported as one line, without a stack. */
export class UsageError extends Error {}

/** Is `err` a bad-flag error (ours, or node:util parseArgs's)? */
export function isUsageError(err: unknown): boolean {
  return err instanceof UsageError || (typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS_'));
}
