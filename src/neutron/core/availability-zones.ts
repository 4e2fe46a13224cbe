import { ApiError } from '../../http/errors.js';
import type { AvailabilityZones } from './deps.js';
import type { Resource } from './plugin.js';

/** A fixed set of zones from configuration, offered to networks and routers alike. */
export class ConfiguredAvailabilityZones implements AvailabilityZones {
  constructor(private readonly zones: string[]) {}

  async validate(hints: string[]): Promise<void> {
    const unknown = hints.find((hint) => !this.zones.includes(hint));
    if (unknown !== undefined) throw new ApiError('AvailabilityZoneNotFound', `AvailabilityZone ${unknown} could not be found.`);
  }

  networkZones(network: Resource): string[] {
    const hints = (network.availability_zone_hints as string[] | undefined) ?? [];
    return hints.length ? hints : this.zones;
  }

  async list() {
    return this.zones.flatMap((name) => (['network', 'router'] as const).map((resource) => ({ name, resource, state: 'available' as const })));
  }
}
