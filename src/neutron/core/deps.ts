import type { Resource } from './plugin.js';
import type { SegmentAllocator } from './segments.js';
import type { Executor, NeutronDb } from './store.js';

/** Availability zones: which exist, and which a resource is in. The central role supplies its own. */
export interface AvailabilityZones {
  /** Throws AvailabilityZoneNotFound for a hint that names no zone. */
  validate(hints: string[], resource: 'network' | 'router'): Promise<void>;
  networkZones(network: Resource): string[];
  list(): Promise<Array<{ name: string; resource: 'network' | 'router'; state: 'available' }>>;
}

/** Quota enforcement inside the creating transaction. */
export interface Quotas {
  /** Throws OverQuota when any of these projects is now over its limit for the resource. */
  check(tx: Executor, projectIds: string[], resource: string): Promise<void>;
}

export interface CoreDeps {
  db: NeutronDb;
  segments: SegmentAllocator;
  availabilityZones: AvailabilityZones;
  quotas: Quotas;
}
