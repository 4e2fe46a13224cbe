import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig } from 'kysely';

// Every transaction we open writes. Kysely begins SQLite transactions deferred: the first
// read takes a snapshot and the first write then asks for the write lock. If another
// connection holds that lock or has committed since the snapshot, SQLite fails the write at
// once (SQLITE_BUSY / SQLITE_BUSY_SNAPSHOT) without calling the busy handler, since waiting
// cannot refresh a snapshot. BEGIN IMMEDIATE takes the write lock up front, where
// busy_timeout waits for the other process's transaction to end.
//
// better-sqlite3 waits synchronously, though: if another connection of the SAME process held
// the lock (several Db on one file, as tests and single-process deployments have), it could
// never commit while this one blocks the event loop. So write transactions on one file first
// queue on an in-process lock, and only one of them at a time reaches BEGIN IMMEDIATE.

class WriteLock {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  acquire(timeoutMs: number): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      // As busy_timeout would: a transaction waiting on one of its own process (a nested
      // write through a second Db on the file) fails as busy rather than hanging.
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(grant), 1);
        reject(Object.assign(new Error('database is locked (by another connection of this process)'), { code: 'SQLITE_BUSY' }));
      }, timeoutMs);
      this.waiters.push(grant);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }
}

const locksByFile = new Map<string, WriteLock>();

class ImmediateTransactionDriver extends SqliteDriver {
  private holding = false;

  constructor(
    config: SqliteDialectConfig,
    private readonly lock: WriteLock,
    private readonly busyTimeoutMs: number,
  ) {
    super(config);
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await this.lock.acquire(this.busyTimeoutMs);
    this.holding = true;
    try {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    } catch (err) {
      this.releaseLock();
      throw err;
    }
  }

  // The driver has one connection, released after every commit or rollback (and after a
  // transaction Kysely gave up on), so this is where the file's lock is handed on.
  override async releaseConnection(): Promise<void> {
    this.releaseLock();
    await super.releaseConnection();
  }

  private releaseLock(): void {
    if (!this.holding) return;
    this.holding = false;
    this.lock.release();
  }
}

/** Kysely's SQLite dialect with write transactions begun IMMEDIATE, one at a time per file in this process. */
export class ImmediateTransactionDialect extends SqliteDialect {
  private readonly lock: WriteLock;

  constructor(
    private readonly config: SqliteDialectConfig,
    file: string,
    private readonly busyTimeoutMs: number,
  ) {
    super(config);
    // Every ':memory:' database is its own; files are shared by path.
    if (file === ':memory:') this.lock = new WriteLock();
    else this.lock = locksByFile.get(file) ?? locksByFile.set(file, new WriteLock()).get(file)!;
  }

  override createDriver(): Driver {
    return new ImmediateTransactionDriver(this.config, this.lock, this.busyTimeoutMs);
  }
}
