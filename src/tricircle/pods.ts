import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { isUniqueViolation, type Db } from '../db/index.js';
import { ApiError, conflict, notFound } from '../http/errors.js';

/** A region registered with Tricircle. The one pod with an empty az_name is the central region. */
export interface Pod {
  pod_id: string;
  region_name: string;
  pod_az_name: string;
  dc_name: string;
  az_name: string;
}

export type PodFilters = Partial<Record<keyof Pod, string[]>>;

/** The region names availability-zone hints stand for, in their order: a region itself, or every region of an AZ. */
export function regionsOfHints(hints: readonly string[], regionPods: readonly Pod[]): string[] {
  return [...new Set(hints.flatMap((hint) => regionPods.filter((pod) => pod.region_name === hint || pod.az_name === hint).map((pod) => pod.region_name)))];
}

/** The one region that hints pin a resource to (exactly one hint, a region name), or null (reference §3.1). */
export function localRegionOf(hints: readonly string[], regionPods: readonly Pod[]): string | null {
  return hints.length === 1 && regionPods.some((pod) => pod.region_name === hints[0]) ? hints[0]! : null;
}

const toPod = (row: { pod_id: string; region_name: string; pod_az_name: string | null; dc_name: string | null; az_name: string }): Pod => ({
  pod_id: row.pod_id,
  region_name: row.region_name,
  pod_az_name: row.pod_az_name ?? '',
  dc_name: row.dc_name ?? '',
  az_name: row.az_name,
});

export class PodRepository {
  constructor(private readonly db: Db) {}

  /**
   * Registers a pod. The checks (one central pod, region names unique and distinct from
   * the central region) run in one transaction with the pods table locked, so concurrent
   * registrations cannot both pass them.
   */
  async create(input: Omit<Pod, 'pod_id'>): Promise<Pod> {
    if (input.region_name === '') {
      throw new ApiError(
        'ValidationFailed',
        input.az_name === '' ? 'Valid region_name is required for top region' : 'Valid region_name is required for bottom region',
      );
    }
    const pod: Pod = { pod_id: randomUUID(), ...input, pod_az_name: input.az_name === '' ? '' : input.pod_az_name };
    try {
      return await this.db.kysely.transaction().execute(async (tx) => {
        if (this.db.dialect === 'postgres') await sql`LOCK TABLE pods IN SHARE ROW EXCLUSIVE MODE`.execute(tx);
        let topQuery = tx.selectFrom('pods').selectAll().where('az_name', '=', '');
        if (this.db.dialect === 'mysql') topQuery = topQuery.forUpdate();
        const top = await topQuery.executeTakeFirst();
        if (input.az_name === '' && top) throw conflict(`Top region already exists: ${top.region_name}`);
        if (input.az_name !== '' && top?.region_name === input.region_name) {
          throw conflict(`Pod region name ${input.region_name} is the top region's name`);
        }
        await tx.insertInto('pods').values(pod).execute();
        return pod;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`Pod with region_name ${input.region_name} already exists`);
      throw err;
    }
  }

  async get(podId: string): Promise<Pod> {
    const row = await this.db.kysely.selectFrom('pods').selectAll().where('pod_id', '=', podId).executeTakeFirst();
    if (!row) throw notFound(`Pod ${podId} could not be found`);
    return toPod(row);
  }

  /** The regions' pods: every pod but the central one, which has no AZ. */
  async regionPods(): Promise<Pod[]> {
    return (await this.list()).filter((pod) => pod.az_name !== '');
  }

  /** The central pod (the one without an AZ), if registered. */
  async topPod(): Promise<Pod | undefined> {
    return (await this.list({ az_name: [''] }))[0];
  }

  /** The pod of a region name, or of the one region an AZ name stands for; undefined otherwise. */
  async podOf(regionOrAz: string): Promise<Pod | undefined> {
    const pods = await this.regionPods();
    const inAz = pods.filter((pod) => pod.az_name === regionOrAz);
    return pods.find((pod) => pod.region_name === regionOrAz) ?? (inAz.length === 1 ? inAz[0] : undefined);
  }

  async exists(podId: string): Promise<boolean> {
    const row = await this.db.kysely.selectFrom('pods').select('pod_id').where('pod_id', '=', podId).executeTakeFirst();
    return row !== undefined;
  }

  async list(filters: PodFilters = {}): Promise<Pod[]> {
    let query = this.db.kysely.selectFrom('pods').selectAll();
    for (const [field, values] of Object.entries(filters) as Array<[keyof Pod, string[]]>) {
      query = query.where(field, 'in', values);
    }
    const rows = await query.orderBy('region_name').execute();
    return rows.map(toPod);
  }

  /** Removes a pod and its cached endpoints and agents; refused while routings still point at it. */
  async delete(podId: string): Promise<void> {
    await this.db.kysely.transaction().execute(async (tx) => {
      const pod = await tx.selectFrom('pods').select('pod_id').where('pod_id', '=', podId).executeTakeFirst();
      if (!pod) throw notFound(`Pod ${podId} could not be found`);
      const used = await tx
        .selectFrom('resource_routings')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('pod_id', '=', podId)
        .executeTakeFirstOrThrow();
      if (Number(used.n) > 0) throw conflict(`Pod ${podId} is in use by ${used.n} resource routings; delete them first`);
      await tx.deleteFrom('cached_endpoints').where('pod_id', '=', podId).execute();
      await tx.deleteFrom('shadow_agents').where('pod_id', '=', podId).execute();
      await tx.deleteFrom('pods').where('pod_id', '=', podId).execute();
    });
  }
}
