export { parseConnection, openDb, type Db, type DialectName, type Connection } from './connect.js';
export { migrateToLatest, currentVersion, MIGRATION_NAMES } from './migrate.js';
export { isUniqueViolation, isForeignKeyViolation, isDatabaseUnavailable } from './errors.js';
export type * from './schema.js';
export { systemClock, formatSeconds, formatMicros, issueTimestamp, toSeconds, type Clock } from './time.js';
export { writeTransaction, insertUnlessTaken, againOnLostRace } from './transactions.js';
