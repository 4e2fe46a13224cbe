// Undo stack for a benchmark: whatever a suite starts or creates (servers, databases, temp
// directories) registers how to undo it, and the stack runs, newest first, when the suite ends,
// fails, or is interrupted with Ctrl-C / SIGTERM.

type Task = { name: string; undo: () => unknown };

export class Cleanup {
  private tasks: Task[] = [];

  /** Registers an undo step; returns a function that runs it now (and only once). */
  add(name: string, undo: () => unknown): () => Promise<void> {
    const task: Task = { name, undo };
    this.tasks.push(task);
    return async () => {
      const index = this.tasks.indexOf(task);
      if (index === -1) return;
      this.tasks.splice(index, 1);
      await task.undo();
    };
  }

  /** Runs every step, newest first; a failing step is reported and the rest still run. */
  async run(): Promise<void> {
    while (this.tasks.length) {
      const task = this.tasks.pop()!;
      try {
        await task.undo();
      } catch (err) {
        process.stderr.write(`bench: cleanup '${task.name}' failed: ${(err as Error).message}\n`);
      }
    }
  }
}

/**
 * Runs `body` with a fresh undo stack and always unwinds it: on return, on a throw, and on
 * SIGINT/SIGTERM (then the process exits with 130/143 after cleaning up).
 */
export async function withCleanup<T>(body: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nbench: ${signal} received, cleaning up\n`);
    void cleanup.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(cleanup);
  } finally {
    await cleanup.run();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
