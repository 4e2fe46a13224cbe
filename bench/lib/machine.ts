import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

// How busy the whole machine is, so that a reader can tell a slow server from a busy machine
// (on a shared 2-core box, other processes' work shows up directly in the figures).

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on every Linux we run on

/** CPU seconds spent busy by all cores since boot (from /proc/stat); undefined off Linux. */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Node version, cores and the 1-minute load average, for the heading and the JSON. */
export function machineSummary(): { node: string; cores: number; cpuModel: string; loadAverage1m: number } {
  return { node: process.version, cores: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown cpu', loadAverage1m: loadavg()[0] ?? NaN };
}

/** Above this 1-minute load average the machine is busy before the suite starts. */
const NOISY_LOAD_AVERAGE = 0.5;

/** The suite's heading: the machine, then `settings`; and a warning when the machine is already busy. */
export function announce(suite: string, settings: string): void {
  const machine = machineSummary();
  process.stdout.write(
    `${suite} bench: node ${machine.node}, ${machine.cores} cores (${machine.cpuModel}), load average ${machine.loadAverage1m.toFixed(2)}; ${settings}\n`,
  );
  if (machine.loadAverage1m > NOISY_LOAD_AVERAGE)
    process.stdout.write('warning: the machine is already busy; figures will be noisier than on an idle machine\n');
}
