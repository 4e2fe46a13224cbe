import { MysqlAdapter, type Kysely, type Transaction } from 'kysely';
import { isUniqueViolation } from './errors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Executor = Kysely<any> | Transaction<any>;

// Write transactions that race other servers (addresses, ports, job runs). READ COMMITTED,
// so every statement sees what other servers committed before it (PostgreSQL's default;
// MariaDB would otherwise keep the transaction's first snapshot and a compare-and-set
// retry could never see the row it lost to). A deadlock or serialization failure between
// servers re-runs the whole transaction: it is a lost race, not the client's fault.

// MariaDB's lock wait timeout (1205) is a race lost by waiting: the transaction is rolled back and re-run too.
const RETRYABLE = new Set(['40P01', '40001', 'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY_SNAPSHOT']);
const ATTEMPTS = 5;

function retryable(err: unknown): boolean {
  const e = err as { code?: string; errno?: number };
  return (e?.code !== undefined && RETRYABLE.has(e.code)) || e?.errno === 1213 || e?.errno === 1205;
}

/**
 * Runs `attempt` again (up to 5 times, after a short random wait) when it lost a race to
 * another server: a deadlock or a serialization failure, which the database rolled back.
 * MariaDB's default isolation locks the index gaps a statement scans or inserts into, so even
 * single statements on neighbouring keys can deadlock.
 */
export async function againOnLostRace<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= ATTEMPTS || !retryable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * n));
    }
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function writeTransaction<T>(db: Kysely<any>, fn: (tx: Transaction<any>) => Promise<T>): Promise<T> {
  return againOnLostRace(() => db.transaction().setIsolationLevel('read committed').execute(fn));
}

/**
 * Inserts a row unless one of its unique keys is taken; true when it went in. One statement,
 * no savepoint: PostgreSQL and SQLite skip the row (ON CONFLICT DO NOTHING), and MariaDB
 * rolls back only the failed statement, never the transaction. Hot paths (a port's MAC and
 * addresses) save the two savepoint round trips insertOrConflict costs.
 */
export async function insertUnlessTaken(db: Executor, table: string, row: Record<string, unknown>): Promise<boolean> {
  if (!(db.getExecutor().adapter instanceof MysqlAdapter)) {
    const result = await db
      .insertInto(table)
      .values(row)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }
  try {
    await db.insertInto(table).values(row).execute();
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}
