import { createComputeApi } from '../../src/compute/index.js';
import type { SectionName } from '../../src/config/index.js';
import type { Db } from '../../src/db/index.js';
import { serveOnLoopback, testRuntime } from './runtime.js';

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
  const { config, db, logger } = await testRuntime(connection, { ...overrides, compute: { neutron_url: neutronUrl, ...overrides.compute } });
  const app = createComputeApi({ config, db, logger });
  return { ...(await serveOnLoopback(app, db)), db };
}
