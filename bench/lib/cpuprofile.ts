import { readFileSync } from 'node:fs';
import { fmt, table } from './stats.js';

// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time by
// package / source folder, and the hottest functions.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: an npm package, a folder of ours, node itself, or a V8 pseudo-frame. */
function categoryOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName.startsWith('(')) return functionName; // (idle) (program) (garbage collector)
    return '(native)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:'))
    return (
      'node:' +
      url
        .slice(5)
        .split('/')[0]!
        .replace(/^internal$/, 'internal')
    );
  const ours = /\/(src|bench|bin)\/(?:([^/]+)\/)?/.exec(url);
  if (ours) return ours[2] ? `${ours[1]}/${ours[2]}` : ours[1]!;
  return url;
}

export interface ProfileSummary {
  totalMs: number;
  /** Busy time: everything but (idle). */
  busyMs: number;
  byCategory: Array<{ category: string; ms: number }>;
  byFunction: Array<{ name: string; where: string; ms: number }>;
}

export function summarizeProfile(path: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const categories = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const category = categoryOf(frame);
    total += us;
    if (category === '(idle)') idle += us;
    categories.set(category, (categories.get(category) ?? 0) + us);
    // tsx compiles a source file to one line, so the column is what tells its functions apart there.
    const where = frame.url ? `${frame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${frame.lineNumber + 1}:${frame.columnNumber + 1}` : '';
    const key = `${frame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  return {
    totalMs: total / 1000,
    busyMs: (total - idle) / 1000,
    byCategory: [...categories].map(([category, us]) => ({ category, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
    byFunction: [...functions.values()].map((f) => ({ name: f.name, where: f.where, ms: f.us / 1000 })).sort((a, b) => b.ms - a.ms),
  };
}

/** The summary as two tables (shares are of busy time, i.e. excluding idle). */
export function formatProfile(summary: ProfileSummary, top = 15): string {
  const share = (ms: number) => `${fmt((ms / summary.busyMs) * 100, 1)}%`;
  const categories = summary.byCategory
    .filter((c) => c.category !== '(idle)')
    .slice(0, top)
    .map((c) => [c.category, fmt(c.ms), share(c.ms)]);
  const functions = summary.byFunction
    .filter((f) => f.name !== '(idle)')
    .slice(0, top)
    .map((f) => [f.name, f.where, fmt(f.ms), share(f.ms)]);
  return [
    `busy ${fmt(summary.busyMs)} ms of ${fmt(summary.totalMs)} ms profiled`,
    '',
    table([{ header: 'self time by package/folder', align: 'left' }, { header: 'ms' }, { header: 'share' }], categories),
    '',
    table([{ header: 'hottest functions (self)', align: 'left' }, { header: 'where', align: 'left' }, { header: 'ms' }, { header: 'share' }], functions),
  ].join('\n');
}
