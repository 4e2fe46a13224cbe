import type { Generated } from 'kysely';

// Row shapes of the Tricircle database. Timestamps are UTC text, 'YYYY-MM-DD HH:MM:SS[.ffffff]',
// so that they compare and sort the same way on SQLite, PostgreSQL and MariaDB.

export interface PodsTable {
  pod_id: string;
  region_name: string;
  pod_az_name: string | null;
  dc_name: string | null;
  az_name: string;
}

export interface CachedEndpointsTable {
  service_id: string;
  pod_id: string;
  service_type: string;
  service_url: string;
}

export interface ResourceRoutingsTable {
  id: Generated<number>;
  top_id: string;
  bottom_id: string | null;
  pod_id: string;
  project_id: string | null;
  resource_type: string;
  created_at: string | null;
  updated_at: string | null;
}

export interface AsyncJobsTable {
  id: string;
  project_id: string | null;
  type: string;
  timestamp: string;
  status: string;
  resource_id: string;
  extra_id: string;
  /** The run that is consuming this NEW or FAIL job, if any. */
  run_id?: string | null;
  /** Why the job failed (FAIL only). */
  error?: string | null;
}

export interface AsyncJobLogsTable {
  id: string;
  project_id: string | null;
  resource_id: string;
  type: string;
  timestamp: string;
}

export interface ShadowAgentsTable {
  id: string;
  pod_id: string;
  host: string;
  type: string;
  tunnel_ip: string;
}

export interface RecycleResourcesTable {
  resource_id: string;
  resource_type: string;
  project_id: string;
}

export interface DeletingResourcesTable {
  resource_id: string;
  resource_type: string;
  deleted_at: string | null;
}

export interface TricircleTables {
  pods: PodsTable;
  cached_endpoints: CachedEndpointsTable;
  resource_routings: ResourceRoutingsTable;
  async_jobs: AsyncJobsTable;
  async_job_logs: AsyncJobLogsTable;
  shadow_agents: ShadowAgentsTable;
  recycle_resources: RecycleResourcesTable;
  deleting_resources: DeletingResourcesTable;
}
