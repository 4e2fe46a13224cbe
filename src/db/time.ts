/** Where time comes from, so tests can pin it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** 'YYYY-MM-DD HH:MM:SS' in UTC, the form upstream Tricircle renders. */
export function formatSeconds(date: Date): string {
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  );
}

/** 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (JavaScript clocks give milliseconds; the rest pads). */
export function formatMicros(date: Date): string {
  return formatMicrosSinceEpoch(date.getTime() * 1000);
}

function formatMicrosSinceEpoch(micros: number): string {
  return `${formatSeconds(new Date(Math.floor(micros / 1000)))}.${pad(micros % 1_000_000, 6)}`;
}

let lastIssued = 0;

/**
 * Like formatMicros, but strictly increasing within this process, so that jobs registered
 * one after another never share a timestamp (the job engine orders and consumes by it).
 * For stamping rows only; bounds to compare against use formatMicros.
 */
export function issueTimestamp(date: Date): string {
  lastIssued = Math.max(date.getTime() * 1000, lastIssued + 1);
  return formatMicrosSinceEpoch(lastIssued);
}

/** The seconds part of a stored timestamp, as the APIs show it. */
export function toSeconds(stored: string | null): string | null {
  return stored === null ? null : stored.slice(0, 19);
}
