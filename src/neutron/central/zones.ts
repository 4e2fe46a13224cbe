import { ApiError } from '../../http/errors.js';
import type { Pod, PodRepository } from '../../tricircle/index.js';
import type { AvailabilityZones } from '../core/deps.js';
import type { Resource } from '../core/plugin.js';

// Availability zones of the central role are its pods (reference §3.1): a hint names a
// region or an AZ; routers and networks are local or not by their hints.

const hintsOf = (resource: Resource) => (resource.availability_zone_hints as string[] | undefined) ?? [];

export class PodZones implements AvailabilityZones {
  constructor(private readonly pods: PodRepository) {}

  /** The regions' pods (the central pod, which has no AZ, is not one). */
  async regionPods(): Promise<Pod[]> {
    return (await this.pods.list()).filter((pod) => pod.az_name !== '');
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

  /** The region names the hints stand for: a region itself, or every region of an AZ. */
  async regionsOf(hints: string[]): Promise<string[]> {
    if (hints.length === 0) return [];
    const pods = await this.regionPods();
    return [...new Set(pods.filter((pod) => hints.includes(pod.region_name) || hints.includes(pod.az_name)).map((pod) => pod.region_name))];
  }

  /** The pod of a region name, or of the one region an AZ name stands for; undefined otherwise. */
  async podOf(regionOrAz: string): Promise<Pod | undefined> {
    const pods = await this.regionPods();
    const byRegion = pods.find((pod) => pod.region_name === regionOrAz);
    if (byRegion) return byRegion;
    const inAz = pods.filter((pod) => pod.az_name === regionOrAz);
    return inAz.length === 1 ? inAz[0] : undefined;
  }

  /** The central pod (the one without an AZ). */
  async topPod(): Promise<Pod> {
    const top = (await this.pods.list()).find((pod) => pod.az_name === '');
    if (!top) throw new ApiError('ServiceUnavailable', 'No central pod is registered: POST /v1.0/pods {"pod": {"region_name": "CentralRegion"}} first.');
    return top;
  }

  /** A local router: exactly one hint, and it is a region name. */
  async isLocalRouter(router: Resource): Promise<boolean> {
    const hints = hintsOf(router);
    return hints.length === 1 && (await this.regionPods()).some((pod) => pod.region_name === hints[0]);
  }

  /** The region of a local router, or null for a non-local one. */
  async routerRegion(router: Resource): Promise<string | null> {
    return (await this.isLocalRouter(router)) ? hintsOf(router)[0]! : null;
  }

  /** A local network: of type local, or with exactly one hint that is a region name. */
  async isLocalNetwork(network: Resource): Promise<boolean> {
    if (network['provider:network_type'] === 'local') return true;
    const hints = hintsOf(network);
    return hints.length === 1 && (await this.regionPods()).some((pod) => pod.region_name === hints[0]);
  }

  /**
   * Whether a network may be attached to a router (upstream's
   * validate_router_net_location_match): RouterNetworkLocationMismatch otherwise.
   */
  async checkLocation(router: Resource, network: Resource): Promise<void> {
    const routerHints = hintsOf(router);
    if (routerHints.length === 0) return;
    const local = await this.isLocalRouter(router);
    const routerRegions = await this.regionsOf(routerHints);
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
    const networkRegions = await this.regionsOf(networkHints);
    if (local ? !routerRegions.every((r) => networkRegions.includes(r)) : networkRegions.some((r) => !routerRegions.includes(r))) throw mismatch();
  }
}
