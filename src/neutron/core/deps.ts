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

/** Quota enforcement inside the creating transaction, and the quotas API's operations. */
export interface Quotas {
  /** Throws OverQuota when any of these projects is now over its limit for the resource. */
  check(tx: Executor, projectIds: string[], resource: string): Promise<void>;
  /** Every resource's default limit (-1: unlimited). */
  defaults(): Record<string, number>;
  /** A project's limits: its own where set, the defaults elsewhere. */
  limits(db: Executor, projectId: string): Promise<Record<string, number>>;
  /** The projects that have limits of their own, with their limits. */
  overridden(db: Executor): Promise<Array<{ projectId: string; limits: Record<string, number> }>>;
  /** Sets some of a project's own limits (already validated resource names and values). */
  set(db: Executor, projectId: string, limits: Record<string, number>): Promise<void>;
  /** Drops a project's own limits; false when it had none. */
  reset(db: Executor, projectId: string): Promise<boolean>;
  /** How many of each resource the project has. */
  usage(db: Executor, projectId: string): Promise<Record<string, number>>;
}

export interface CoreDeps {
  db: NeutronDb;
  segments: SegmentAllocator;
  availabilityZones: AvailabilityZones;
  quotas: Quotas;
}
