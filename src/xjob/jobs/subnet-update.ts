import { regionPools, type Pool } from '../../neutron/local/index.js';
import { NOT_SPECIFIED_POD } from '../../tricircle/index.js';
import type { JobRunContext } from '../handler.js';
import { centralApi, unlessGone } from './regions.js';
import { copyPodIds, fanOut, podRegion } from './update-network.js';

// subnet_update {pod_id, subnet_id} (reference §5.4): a region's copy of a subnet takes the
// central description, enable_dhcp, host_routes, dns_nameservers and allocation pools, the
// pools recomputed around the region's own gateway (§3.13). Never the name or the gateway.
// With NOT_SPECIFIED_POD it registers one job per region holding a copy instead.

export async function subnetUpdate(ctx: JobRunContext): Promise<void> {
  const { pod_id: podId, subnet_id: subnetId } = ctx.resource as { pod_id: string; subnet_id: string };
  const subnet = await (await centralApi(ctx)).find('subnets', subnetId);
  if (!subnet) return;
  const networkId = String(subnet.network_id);
  if (podId === NOT_SPECIFIED_POD)
    return fanOut(ctx, 'subnet_update', await copyPodIds(ctx, subnetId, ['subnet', 'shadow_subnet'], networkId, [subnetId]), { subnet_id: subnetId });
  const region = await podRegion(ctx, podId);
  // Listed by network, not read by id: a GET or an id filter would copy from central a subnet the region does not hold.
  const copy = (await region.neutron.list('subnets', { network_id: networkId })).find((s) => s.id === subnetId);
  if (!copy) {
    ctx.logger.info({ region: region.name, subnet: subnetId }, 'the region holds no copy of the subnet: nothing to update');
    return;
  }
  const centralGateway = (subnet.gateway_ip as string | null) ?? null;
  const regionGateway = (copy.gateway_ip as string | null) ?? null;
  const pools = subnet.allocation_pools as Pool[];
  await unlessGone(
    region.neutron.update('subnets', subnetId, {
      description: subnet.description,
      enable_dhcp: subnet.enable_dhcp,
      allocation_pools: regionGateway === null ? pools : regionPools(pools, centralGateway, regionGateway),
      host_routes: subnet.host_routes,
      dns_nameservers: subnet.dns_nameservers,
    }),
  );
}
