import type { CoreDeps } from './deps.js';
import { FLOATINGIPS, FloatingIpOperations } from './floating-ips.js';
import type { DevicePorts } from './l3.js';
import { ROUTERS, RouterOperations } from './routers.js';
import { withTags } from './tags.js';

/** Routers and floating IPs (the l3 extensions), with the tags API, over the ports they make their ports with. */
export function l3Operations(deps: CoreDeps, ports: DevicePorts) {
  return {
    routers: withTags(new RouterOperations(deps, ports), deps.db, ROUTERS),
    floatingips: withTags(new FloatingIpOperations(deps, ports), deps.db, FLOATINGIPS),
  };
}
