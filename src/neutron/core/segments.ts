import { ConfigError, type Config } from '../../config/index.js';
import { ApiError } from '../../http/errors.js';
import { insertOrConflict, type Executor } from './store.js';

// ML2-style type drivers: which segment (local, flat, VLAN, VXLAN) a network gets. A
// segment in use is a row in segment_allocations, whose key makes each VLAN or VNI
// allocatable once across every server sharing the database: allocation inserts and
// retries, it never reads-then-writes.

export type NetworkType = 'local' | 'flat' | 'vlan' | 'vxlan';
export const NETWORK_TYPES: readonly NetworkType[] = ['local', 'flat', 'vlan', 'vxlan'];

export interface Segment {
  network_type: NetworkType;
  physical_network: string | null;
  segmentation_id: number | null;
}

interface Range {
  physnet: string;
  min: number;
  max: number;
}

const VLAN_MAX = 4094;
const VNI_MAX = 2 ** 24 - 1;
const RANDOM_TRIES = 8;

function parseRange(text: string, option: string, max: number, withPhysnet: boolean): Range | { physnet: string } {
  const parts = text.split(':');
  const bad = () => new ConfigError(`Invalid value for option [tricircle] ${option}: '${text}'`);
  if (withPhysnet && parts.length === 1 && parts[0]) return { physnet: parts[0] };
  const [physnet, lo, hi] = withPhysnet ? parts : ['', ...parts];
  if (parts.length !== (withPhysnet ? 3 : 2) || !/^\d+$/.test(lo ?? '') || !/^\d+$/.test(hi ?? '')) throw bad();
  const [min, max2] = [Number(lo), Number(hi)];
  if (min < 1 || max2 > max || min > max2) throw bad();
  return { physnet: physnet!, min, max: max2 };
}

const badRequest = (message: string) => new ApiError('InvalidInput', `Invalid input for operation: ${message}.`);

export class SegmentAllocator {
  private readonly typeDrivers: Set<string>;
  private readonly tenantTypes: NetworkType[];
  private readonly vlanRanges: Range[] = [];
  private readonly vlanPhysnets = new Set<string>();
  private readonly vniRanges: Range[];
  private readonly flatNetworks: string[];
  readonly physnetMtu: number;

  constructor(config: Config) {
    const t = config.tricircle;
    for (const type of [...t.type_drivers, ...t.tenant_network_types]) {
      if (!NETWORK_TYPES.includes(type as NetworkType))
        throw new ConfigError(`Invalid value for option [tricircle] type_drivers or tenant_network_types: unknown network type '${type}'`);
    }
    this.typeDrivers = new Set(t.type_drivers);
    this.tenantTypes = t.tenant_network_types as NetworkType[];
    for (const text of t.network_vlan_ranges) {
      const range = parseRange(text, 'network_vlan_ranges', VLAN_MAX, true);
      this.vlanPhysnets.add(range.physnet);
      if ('min' in range) this.vlanRanges.push(range);
    }
    this.vniRanges = t.vni_ranges.map((text) => parseRange(text, 'vni_ranges', VNI_MAX, false) as Range);
    this.flatNetworks = t.flat_networks;
    this.physnetMtu = t.global_physnet_mtu;
  }

  /** The MTU a network of this type gets: VXLAN carries a 50-byte header. */
  mtu(type: NetworkType): number {
    return type === 'vxlan' ? this.physnetMtu - 50 : this.physnetMtu;
  }

  /** A tenant network's segment: the first tenant type with a free segment. */
  async allocateTenant(db: Executor, networkId: string): Promise<Segment> {
    for (const type of this.tenantTypes) {
      if (type === 'local') return { network_type: 'local', physical_network: null, segmentation_id: null };
      const ranges = type === 'vlan' ? this.vlanRanges : type === 'vxlan' ? this.vniRanges : [];
      for (const range of ranges) {
        const id = await this.allocateInRange(db, type, range, networkId);
        if (id !== null) return { network_type: type, physical_network: type === 'vlan' ? range.physnet : null, segmentation_id: id };
      }
    }
    throw new ApiError('NoNetworkAvailable', 'Unable to create the network. No tenant network is available for allocation.');
  }

  /** An admin's provider network: checks the request against the type driver and reserves it. */
  async allocateProvider(db: Executor, networkId: string, requested: Segment): Promise<Segment> {
    const { network_type: type, physical_network: physnet, segmentation_id: segId } = requested;
    if (!this.typeDrivers.has(type)) throw badRequest(`network_type value '${type}' not supported`);
    switch (type) {
      case 'local':
        if (physnet !== null || segId !== null) throw badRequest('local provider networks take neither physical_network nor segmentation_id');
        return requested;
      case 'flat':
        if (segId !== null) throw badRequest('segmentation_id prohibited for flat provider network');
        if (physnet === null) throw badRequest('physical_network required for flat provider network');
        if (!this.flatNetworks.includes('*') && !this.flatNetworks.includes(physnet)) {
          throw badRequest(`physical_network '${physnet}' unknown for flat provider network`);
        }
        if (!(await this.reserve(db, 'flat', physnet, 0, networkId))) {
          throw new ApiError('PhysicalNetworkInUse', `Unable to create the flat network. Physical network ${physnet} is in use.`);
        }
        return requested;
      case 'vlan': {
        if (physnet === null) throw badRequest('physical_network required for VLAN provider network');
        if (!this.vlanPhysnets.has(physnet)) throw badRequest(`physical_network '${physnet}' unknown for VLAN provider network`);
        if (segId === null) {
          for (const range of this.vlanRanges.filter((r) => r.physnet === physnet)) {
            const id = await this.allocateInRange(db, 'vlan', range, networkId);
            if (id !== null) return { ...requested, segmentation_id: id };
          }
          throw new ApiError('NoNetworkAvailable', 'Unable to create the network. No tenant network is available for allocation.');
        }
        if (segId < 1 || segId > VLAN_MAX) throw badRequest(`segmentation_id out of range (1 through ${VLAN_MAX})`);
        if (!(await this.reserve(db, 'vlan', physnet, segId, networkId))) {
          throw new ApiError('SegmentationIdInUse', `Unable to create the network. The VLAN ${segId} on physical network ${physnet} is in use.`);
        }
        return requested;
      }
      case 'vxlan': {
        if (physnet !== null) throw badRequest('provider:physical_network specified for vxlan network');
        if (segId === null) {
          for (const range of this.vniRanges) {
            const id = await this.allocateInRange(db, 'vxlan', range, networkId);
            if (id !== null) return { ...requested, segmentation_id: id };
          }
          throw new ApiError('NoNetworkAvailable', 'Unable to create the network. No tenant network is available for allocation.');
        }
        if (segId < 1 || segId > VNI_MAX) throw badRequest(`segmentation_id out of range (1 through ${VNI_MAX})`);
        if (!(await this.reserve(db, 'vxlan', '', segId, networkId))) {
          throw new ApiError('SegmentationIdInUse', `Unable to create the network. The tunnel ID ${segId} is in use.`);
        }
        return requested;
      }
    }
  }

  /** Frees every segment a network held. */
  async release(db: Executor, networkId: string): Promise<void> {
    await db.deleteFrom('segment_allocations').where('network_id', '=', networkId).execute();
  }

  private async reserve(db: Executor, type: string, physnet: string, id: number, networkId: string): Promise<boolean> {
    const insert = () =>
      db.insertInto('segment_allocations').values({ network_type: type, physical_network: physnet, segmentation_id: id, network_id: networkId }).execute();
    return insertOrConflict(db, insert);
  }

  /**
   * A free id in the range: random tries first (fast while the range is sparse), then every
   * gap in ascending order. A gap can be taken by a transaction this one cannot see yet, so
   * each is tried in turn rather than the lowest alone; only a range with no gap left is full.
   */
  private async allocateInRange(db: Executor, type: NetworkType, range: Range, networkId: string): Promise<number | null> {
    const physnet = type === 'vlan' ? range.physnet : '';
    const size = range.max - range.min + 1;
    for (let i = 0; i < Math.min(RANDOM_TRIES, size); i++) {
      const candidate = range.min + Math.floor(Math.random() * size);
      if (await this.reserve(db, type, physnet, candidate, networkId)) return candidate;
    }
    const used = await db
      .selectFrom('segment_allocations')
      .select('segmentation_id')
      .where('network_type', '=', type)
      .where('physical_network', '=', physnet)
      .where('segmentation_id', '>=', range.min)
      .where('segmentation_id', '<=', range.max)
      .orderBy('segmentation_id')
      .execute();
    const taken = new Set((used as Array<{ segmentation_id: number }>).map((row) => Number(row.segmentation_id)));
    for (let candidate = range.min; candidate <= range.max; candidate++) {
      if (!taken.has(candidate) && (await this.reserve(db, type, physnet, candidate, networkId))) return candidate;
    }
    return null;
  }
}
