import type { JobRunContext } from '../handler.js';
import { regionApi } from './regions.js';

/**
 * port_delete {pod_id, port_id} (reference §5.4): the region copy of a deleted central port
 * goes. Already gone, or its pod unregistered since, is done.
 */
export async function portDelete(ctx: JobRunContext): Promise<void> {
  const { pod_id: podId, port_id: portId } = ctx.resource;
  if (!(await ctx.services.pods.exists(podId!))) return;
  const pod = await ctx.services.pods.get(podId!);
  await (await regionApi(ctx, pod.region_name)).remove('ports', portId!);
}
