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
