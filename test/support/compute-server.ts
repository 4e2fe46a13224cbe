import { pino } from 'pino';
import { createComputeApi } from '../../src/compute/index.js';
import { loadConfig, type SectionName } from '../../src/config/index.js';
import { migrateToLatest, openDb, parseConnection, type Db } from '../../src/db/index.js';

export interface RunningComputeApi {
  url: string;
  db: Db;
  close(): Promise<void>;
}

/** A real compute API (noauth) on 127.0.0.1 and a free port, over a migrated database, using the Neutron at `neutronUrl`. */
export async function startComputeApi(
  connection: string,
  neutronUrl: string,
  overrides: Partial<Record<SectionName, Record<string, string>>> = {},
): Promise<RunningComputeApi> {
  const { config } = loadConfig({
    env: {},
    overrides: {
      ...overrides,
      DEFAULT: { auth_strategy: 'noauth', log_level: 'silent', ...overrides.DEFAULT },
      database: { connection },
      compute: { neutron_url: neutronUrl, ...overrides.compute },
    },
  });
  const db = openDb(parseConnection(connection, '.'), 4);
  await migrateToLatest(db);
  const app = createComputeApi({ config, db, logger: pino({ level: config.DEFAULT.log_level }) });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: address,
    db,
    close: async () => {
      await app.close();
      await db.close();
    },
  };
}
