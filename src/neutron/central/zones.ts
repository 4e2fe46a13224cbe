import { ApiError } from '../../http/errors.js';
import { localRegionOf, regionsOfHints, type Pod, type PodRepository } from '../../tricircle/index.js';
import type { AvailabilityZones } from '../core/deps.js';
import type { Resource } from '../core/plugin.js';

// Availability zones of the central role are its pods (reference §3.1): a hint names a
// region or an AZ; routers and networks are local or not by their hints.

const hintsOf = (resource: Resource) => (resource.availability_zone_hints as string[] | undefined) ?? [];

export class PodZones implements AvailabilityZones {
  constructor(private readonly pods: PodRepository) {}

  /** The regions' pods (the central pod, which has no AZ, is not one). */
  regionPods(): Promise<Pod[]> {
    return this.pods.regionPods();
  }

  async validate(hints: string[]): Promise<void> {
    if (hints.length === 0) return;
    const pods = await this.regionPods();
    const unknown = hints.find((hint) => !pods.some((pod) => pod.region_name === hint || pod.az_name === hint));
    if (unknown !== undefined) throw new ApiError('AvailabilityZoneNotFound', `AvailabilityZone ${unknown} could not be found.`);
  }

  networkZones(network: Resource): string[] {
    return hintsOf(network);
  }

  async list() {
    const names = [...new Set((await this.regionPods()).map((pod) => pod.az_name))].sort();
    return names.flatMap((name) => (['network', 'router'] as const).map((resource) => ({ name, resource, state: 'available' as const })));
  }

  /** The pod of a region name, or of the one region an AZ name stands for; undefined otherwise. */
  podOf(regionOrAz: string): Promise<Pod | undefined> {
    return this.pods.podOf(regionOrAz);
  }

  /** The central pod (the one without an AZ). */
  async topPod(): Promise<Pod> {
    const top = await this.pods.topPod();
    if (!top) throw new ApiError('ServiceUnavailable', 'No central pod is registered: POST /v1.0/pods {"pod": {"region_name": "CentralRegion"}} first.');
    return top;
  }

  /** A local router: exactly one hint, and it is a region name. */
  async isLocalRouter(router: Resource): Promise<boolean> {
    return (await this.routerRegion(router)) !== null;
  }

  /** The region of a local router, or null for a non-local one. */
  async routerRegion(router: Resource): Promise<string | null> {
    return localRegionOf(hintsOf(router), await this.regionPods());
  }

  /** A local network: of type local, or with exactly one hint that is a region name. */
  async isLocalNetwork(network: Resource): Promise<boolean> {
    if (network['provider:network_type'] === 'local') return true;
    const hints = hintsOf(network);
    return localRegionOf(hints, await this.regionPods()) !== null;
  }

  /**
   * Whether a network may be attached to a router (upstream's
   * validate_router_net_location_match): RouterNetworkLocationMismatch otherwise.
   */
  async checkLocation(router: Resource, network: Resource): Promise<void> {
    const routerHints = hintsOf(router);
    if (routerHints.length === 0) return;
    const pods = await this.regionPods();
    const local = localRegionOf(routerHints, pods) !== null;
    const routerRegions = regionsOfHints(routerHints, pods);
    const networkHints = hintsOf(network);
    const mismatch = () =>
      new ApiError(
        'RouterNetworkLocationMismatch',
        `router located in ${routerRegions.join(', ')}, but network ${String(network.id)} located in ${networkHints.length ? networkHints.join(', ') : 'All Region'}`,
      );
    if (networkHints.length === 0) {
      if (local) return;
      throw mismatch();
    }
    const networkRegions = regionsOfHints(networkHints, pods);
    if (local ? !routerRegions.every((r) => networkRegions.includes(r)) : networkRegions.some((r) => !routerRegions.includes(r))) throw mismatch();
  }
}
