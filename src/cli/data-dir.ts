import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';

// The data directory of `tricircle up`: one `up` at a time (a pid lock), wiping it for
// --reset, and refusing databases this version cannot serve before anything opens them.

const LOCK_FILE = 'up.pid';

/** The files `up` writes there: the SQLite databases (with their journals) and the client files. */
const OWN_FILE = /^(?:(?:tricircle|Region\w+-(?:neutron|compute))\.sqlite(?:-wal|-shm|-journal)?|clouds\.yaml|(?:admin|demo)-openrc\.sh)$/;

/** A pid file younger than this with no pid in it is another `up` between creating and writing it. */
const UNWRITTEN_LOCK_GRACE_MS = 2000;

/** The lock file's text, or undefined when there is none. */
function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Its holder's pid; 'unwritten' for a fresh empty file (another `up` about to write its pid); undefined when unusable. */
function holderOf(path: string, text: string): number | 'unwritten' | undefined {
  if (/^\d+$/.test(text.trim())) return Number(text.trim());
  try {
    return text.trim() === '' && Date.now() - statSync(path).mtimeMs < UNWRITTEN_LOCK_GRACE_MS ? 'unwritten' : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Moves a dead holder's pid file aside. When what was moved is no longer that file (another
 * `up` took the lock over first and wrote its own), it is put back; the caller then tries again.
 */
function takeOver(path: string, stale: string): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  if (readFileSync(aside, 'utf8') !== stale) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone holds the lock again already; the moved file was a newer stale one or theirs.
    }
  }
  unlinkSync(aside);
}

/**
 * Creates `dir` and locks it for this process (DIR/up.pid holding our pid, created
 * exclusively); a lock whose process is gone is taken over. Throws when another live `up`
 * holds it. The lock is released when this process exits.
 */
export function lockDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      process.once('exit', () => {
        if (readLock(path) === `${process.pid}\n`) unlinkSync(path);
      });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = readLock(path);
    if (text === undefined) continue;
    const holder = holderOf(path, text);
    // Our own pid in it is an earlier process's that had it (a container restarted with the same pid).
    if (holder === 'unwritten' || (holder !== undefined && holder !== process.pid && isAlive(holder))) {
      const who = holder === 'unwritten' ? 'another tricircle up that is starting' : `another tricircle up (pid ${holder})`;
      throw new Error(`the data directory ${dir} is in use by ${who}; stop it first, or give another --data-dir`);
    }
    takeOver(path, text);
  }
  throw new Error(`cannot lock the data directory ${dir}: ${path} keeps changing; is another tricircle up starting?`);
}

/** --reset: removes the databases and client files `up` wrote in `dir` (not the lock, and nothing else). */
export function resetDataDir(dir: string): string[] {
  const removed = readdirSync(dir).filter((name) => OWN_FILE.test(name));
  for (const name of removed) rmSync(join(dir, name), { force: true });
  return removed;
}

/**
 * Refuses a database file this version must not migrate: unreadable or corrupted, or from a
 * newer version (a migration this code does not know). Opens it read-only; an absent file is fine.
 */
export function checkDatabase(file: string, knownMigrations: readonly string[]): void {
  if (!existsSync(file)) return;
  let applied: string[];
  let db: SqliteDatabase.Database | undefined;
  try {
    db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
    const integrity = db.pragma('quick_check', { simple: true }) as string;
    if (integrity !== 'ok') throw new Error(integrity);
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tricircle_migrations'").get() !== undefined;
    applied = hasTable ? (db.prepare('SELECT name FROM tricircle_migrations ORDER BY name').pluck().all() as string[]) : [];
  } catch (err) {
    throw new Error(`${file} is not a readable SQLite database (${(err as Error).message}); move it away, or start from nothing with --reset`);
  } finally {
    db?.close();
  }
  const unknown = applied.filter((name) => !knownMigrations.includes(name));
  if (unknown.length) {
    throw new Error(
      `${file} has a newer schema than this tricircle knows (migration ${unknown.join(', ')}); ` +
        'run the tricircle version that wrote it, or start from nothing with --reset',
    );
  }
}
