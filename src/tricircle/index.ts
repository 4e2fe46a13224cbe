export { PodRepository, localRegionOf, regionsOfHints, type Pod, type PodFilters } from './pods.js';
export { RoutingRepository, ROUTING_FILTERS, API_RESOURCE_TYPES, type Routing, type RoutingFields, type RoutingFilters, type Page } from './routings.js';
export { JobRepository, JOB_STATUSES, type Job, type JobStatus, type JobFilters, type JobKey, type JobWaker, type JobContext } from './jobs.js';
export { JobRuns, RUNNING_LOCK, type RunOutcome, type FinishResult, type JobBacklog } from './job-runs.js';
export { JOB_TYPES, isJobType, resourceIdOf, resourceOf, type JobType, type JobTypeSpec } from './job-types.js';
export * from './names.js';
export { RoutingMap, ROUTING_LOCK_EXPIRE, type RoutingKey, type LockedResource, type GetOrCreateOptions } from './routing-map.js';
