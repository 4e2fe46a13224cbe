import { setTimeout as sleep } from 'node:timers/promises';
import { formatSeconds, insertUnlessTaken, systemClock, type Clock, type Db } from '../db/index.js';
import { ApiError } from '../http/errors.js';
import type { Routing } from './routings.js';

// The central role's and xjob's own use of resource_routings: which region holds a copy of
// which central resource, and the lock that makes "get or create the copy" safe for any
// number of callers across processes (reference §10.6). The Admin API's CRUD of the same
// rows is RoutingRepository.

export interface RoutingKey {
  topId: string;
  podId: string;
  resourceType: string;
}

export interface LockedResource {
  /** The bottom id (or, for central resources Tricircle creates, the central id). */
  id: string;
  /** True when this call created (or adopted) it. */
  isNew: boolean;
}

export interface GetOrCreateOptions extends RoutingKey {
  projectId: string | null;
  /** The resource already existing without a row pointing at it (found by its name): a crashed creator's. */
  find: () => Promise<string | null>;
  /** Creates the resource and returns its id. */
  create: () => Promise<string>;
}

/** Seconds after which a routing row without a bottom id is a crashed creator's lock, to take over. */
export const ROUTING_LOCK_EXPIRE = 60;
const LOCK_WAIT_MS = 100;
const LOCK_WAIT_TRIES = 100;

export class RoutingMap {
  constructor(
    readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  private get kysely() {
    return this.db.kysely;
  }

  /** The bottom id of one mapping, or null (no row, or a row still locked by its creator). */
  async bottomId(key: RoutingKey): Promise<string | null> {
    const row = await this.kysely
      .selectFrom('resource_routings')
      .select('bottom_id')
      .where('top_id', '=', key.topId)
      .where('pod_id', '=', key.podId)
      .where('resource_type', '=', key.resourceType)
      .executeTakeFirst();
    return row?.bottom_id ?? null;
  }

  /** Every complete mapping of a central resource of these types, in pod order. */
  async mappings(topId: string, resourceTypes: readonly string[]): Promise<Routing[]> {
    const rows = await this.kysely
      .selectFrom('resource_routings')
      .selectAll()
      .where('top_id', '=', topId)
      .where('resource_type', 'in', [...resourceTypes])
      .where('bottom_id', 'is not', null)
      .orderBy('pod_id')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ ...row, id: Number(row.id) }));
  }

  /** The pods holding a copy of a central resource of these types (each once). */
  async podsOf(topId: string, resourceTypes: readonly string[]): Promise<string[]> {
    return [...new Set((await this.mappings(topId, resourceTypes)).map((r) => r.pod_id))];
  }

  /** The mapping whose copy has this id in the pod (bottom to top), or undefined. */
  async byBottomId(bottomId: string, podId: string, resourceType: string): Promise<Routing | undefined> {
    const row = await this.kysely
      .selectFrom('resource_routings')
      .selectAll()
      .where('bottom_id', '=', bottomId)
      .where('pod_id', '=', podId)
      .where('resource_type', '=', resourceType)
      .executeTakeFirst();
    return row && { ...row, id: Number(row.id) };
  }

  /** Records a mapping unless the key has one already (it is never changed here). */
  async record(key: RoutingKey & { bottomId: string; projectId: string | null }): Promise<void> {
    await insertUnlessTaken(this.kysely, 'resource_routings', {
      top_id: key.topId,
      pod_id: key.podId,
      resource_type: key.resourceType,
      bottom_id: key.bottomId,
      project_id: key.projectId,
      created_at: formatSeconds(this.clock.now()),
      updated_at: null,
    });
  }

  /** Deletes the mappings matching every given field. */
  async remove(where: Partial<{ topId: string; podId: string; resourceTypes: readonly string[]; bottomId: string }>): Promise<void> {
    let query = this.kysely.deleteFrom('resource_routings');
    if (where.topId !== undefined) query = query.where('top_id', '=', where.topId);
    if (where.podId !== undefined) query = query.where('pod_id', '=', where.podId);
    if (where.resourceTypes !== undefined) query = query.where('resource_type', 'in', [...where.resourceTypes]);
    if (where.bottomId !== undefined) query = query.where('bottom_id', '=', where.bottomId);
    await query.execute();
  }

  /**
   * Gets or creates the resource a routing key stands for, at most once across every caller.
   * The caller that inserts the row without a bottom id holds the lock and creates; others
   * wait for the bottom id. A row left without one for ROUTING_LOCK_EXPIRE seconds is a
   * crashed creator's: the next caller takes it over and adopts the resource if the crashed
   * one had made it (`find`), or creates it. A failed create frees the lock.
   */
  async getOrCreate(options: GetOrCreateOptions): Promise<LockedResource> {
    const key = { topId: options.topId, podId: options.podId, resourceType: options.resourceType };
    for (let tries = 0; ; tries++) {
      const stamp = formatSeconds(this.clock.now());
      const locked = await insertUnlessTaken(this.kysely, 'resource_routings', {
        top_id: key.topId,
        pod_id: key.podId,
        resource_type: key.resourceType,
        bottom_id: null,
        project_id: options.projectId,
        created_at: stamp,
        updated_at: stamp,
      });
      if (locked) return { id: await this.createUnderLock(key, options, null), isNew: true };
      const row = await this.row(key);
      if (row?.bottom_id) return { id: row.bottom_id, isNew: false };
      if (row && this.expired(row.updated_at ?? row.created_at)) {
        // Take the crashed creator's lock over: only one caller's update matches the old stamp.
        const taken = await this.kysely
          .updateTable('resource_routings')
          .set({ updated_at: stamp })
          .where('id', '=', row.id)
          .where('bottom_id', 'is', null)
          .where('updated_at', '=', row.updated_at ?? row.created_at)
          .executeTakeFirst();
        if (Number(taken.numUpdatedRows) === 1) return { id: await this.createUnderLock(key, options, await options.find()), isNew: true };
      }
      if (tries >= LOCK_WAIT_TRIES) {
        throw new ApiError('RoutingCreateFail', `Failed to create ${key.resourceType} routing entry for ${key.topId}: another creator holds it.`);
      }
      await sleep(LOCK_WAIT_MS);
    }
  }

  private async createUnderLock(key: RoutingKey, options: GetOrCreateOptions, existing: string | null): Promise<string> {
    let id: string;
    try {
      id = existing ?? (await options.create());
    } catch (err) {
      await this.lockRow(key).execute();
      throw err;
    }
    await this.kysely
      .updateTable('resource_routings')
      .set({ bottom_id: id, updated_at: formatSeconds(this.clock.now()) })
      .where('top_id', '=', key.topId)
      .where('pod_id', '=', key.podId)
      .where('resource_type', '=', key.resourceType)
      .execute();
    return id;
  }

  /** Deletes the row only while it is still a lock (no bottom id). */
  private lockRow(key: RoutingKey) {
    return this.kysely
      .deleteFrom('resource_routings')
      .where('top_id', '=', key.topId)
      .where('pod_id', '=', key.podId)
      .where('resource_type', '=', key.resourceType)
      .where('bottom_id', 'is', null);
  }

  private row(key: RoutingKey) {
    return this.kysely
      .selectFrom('resource_routings')
      .selectAll()
      .where('top_id', '=', key.topId)
      .where('pod_id', '=', key.podId)
      .where('resource_type', '=', key.resourceType)
      .executeTakeFirst();
  }

  private expired(stamp: string | null): boolean {
    if (stamp === null) return true;
    const at = Date.parse(`${stamp.replace(' ', 'T')}Z`);
    return Number.isNaN(at) || this.clock.now().getTime() - at > ROUTING_LOCK_EXPIRE * 1000;
  }
}
