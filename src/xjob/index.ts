export { XJobEngine, backoffDelay, type EngineOptions, type RetryPolicy } from './engine.js';
export {
  JobFailure,
  isTransient,
  failureMessage,
  type JobHandler,
  type JobHandlerSpec,
  type JobRunContext,
  type RegionClients,
  type RegionNeutron,
  type JobServices,
} from './handler.js';
export { JobMetrics } from './metrics.js';
export { RabbitWaker, RabbitListener, amqpUrls } from './rabbit.js';
export { startXJob, jobWaker, jobServices, type XJobService } from './service.js';
