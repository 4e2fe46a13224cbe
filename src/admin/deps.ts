import type { Policy } from '../auth/policy.js';
import type { JobRepository, PodRepository, RoutingRepository } from '../tricircle/index.js';

/** What the Admin API's routes need, built once per process. */
export interface AdminDeps {
  policy: Policy;
  pods: PodRepository;
  routings: RoutingRepository;
  jobs: JobRepository;
  paginationMaxLimit: number;
}
