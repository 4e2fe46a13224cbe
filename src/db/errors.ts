// Constraint violations as each driver reports them, so callers can turn a lost race into
// the right API error instead of a 500.

interface DriverError {
  code?: string;
  errno?: number;
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as DriverError;
  return (
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e?.code === '23505' ||
    e?.code === 'ER_DUP_ENTRY' ||
    e?.errno === 1062
  );
}

export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as DriverError;
  return e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || e?.code === '23503' || e?.errno === 1451 || e?.errno === 1452;
}

// Connection-level failures: the database is down, restarting or unreachable, which is a
// 503 for the client (retry later), not a fault of the request.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  '57P01', // PostgreSQL: admin shutdown
  '57P03', // PostgreSQL: cannot connect now
  'SQLITE_BUSY',
]);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as DriverError & { message?: string };
  return (
    (e?.code !== undefined && UNAVAILABLE_CODES.has(e.code)) || /Connection terminated|connection is in closed state|Pool is closed/i.test(e?.message ?? '')
  );
}
