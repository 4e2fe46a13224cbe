import { randomBytes } from 'node:crypto';
import { ApiError } from '../../http/errors.js';
import type { Resource } from './plugin.js';
import type { Executor } from './store.js';

// The parts of a port beside its addresses: random MACs from [neutron] base_mac, the
// binding a host gets, and port security with what hangs on it (security groups and
// allowed address pairs), decided as ML2's port security extension decides them.

/** The project's default security group (created on first use); supplied by the security group module. */
export type DefaultSecurityGroup = (db: Executor, projectId: string) => Promise<string>;

/**
 * Random MACs: the first three bytes of base_mac always, the next ones too while they are
 * not zero (Neutron's rule), the rest random.
 */
export function macGenerator(baseMac: string): () => string {
  const base = baseMac.split(':').map((b) => parseInt(b, 16));
  if (base.length !== 6 || base.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) throw new Error(`[neutron] base_mac '${baseMac}' is not a MAC address`);
  let fixed = 3;
  while (fixed < 6 && base[fixed] !== 0) fixed++;
  return () => {
    const random = randomBytes(6);
    return base.map((b, i) => (i < fixed ? b : random[i]!).toString(16).padStart(2, '0')).join(':');
  };
}

/** Ports of network services (DHCP, routers): trusted, so no port security and no default group. */
export const isTrusted = (deviceOwner: string) => deviceOwner.startsWith('network:');

const OVS_DETAILS = { connectivity: 'l2', port_filter: true, ovs_hybrid_plug: false, datapath_type: 'system', bridge_name: 'br-int' };

/**
 * The binding a host gets. This server has no agents to ask, so a port with a host is bound
 * the way ML2/OVS binds a normal port (what Nova needs to plug it); other vNIC types have
 * no mechanism driver here and fail to bind, as in Neutron. Without a host: unbound.
 */
export function binding(host: string, vnicType: string): { vif_type: string; vif_details: Record<string, unknown> } {
  if (!host) return { vif_type: 'unbound', vif_details: {} };
  return vnicType === 'normal' ? { vif_type: 'ovs', vif_details: { ...OVS_DETAILS } } : { vif_type: 'binding_failed', vif_details: {} };
}

/** Address pairs without a MAC take the port's. */
export const withMacs = (pairs: Array<{ ip_address: string; mac_address?: string }>, mac: string) =>
  pairs.map((p) => ({ ip_address: p.ip_address, mac_address: p.mac_address ?? mac }));

/** _determine_port_security_and_has_ip on create: explicit, implied by security groups, else the network's. */
export function portSecurityOnCreate(item: Resource, network: Record<string, unknown>): boolean {
  if (isTrusted(item.device_owner as string)) return false;
  if (item.port_security_enabled !== undefined) return item.port_security_enabled as boolean;
  const hasIp = item.fixed_ips === undefined || (item.fixed_ips as unknown[]).length > 0;
  if (hasIp && item.security_groups !== undefined) return true;
  return Number(network.port_security_enabled) === 1;
}

/** Port security off leaves no room for address pairs or security groups. */
export function checkPortSecurity(enabled: boolean, pairs: unknown[] | undefined, groups: string[] | undefined): void {
  if (enabled) return;
  if (pairs && pairs.length) {
    throw new ApiError('AddressPairAndPortSecurityRequired', 'Port Security must be enabled in order to have allowed address pairs on a port.');
  }
  if (groups && groups.length) {
    throw new ApiError(
      'PortSecurityAndIPRequiredForSecurityGroups',
      'Port security must be enabled and port must have an IP address in order to use security groups.',
    );
  }
}

/** Security groups named for a port must be its project's. */
export async function checkSecurityGroups(db: Executor, projectId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const found = await db.selectFrom('securitygroups').select('id').where('id', 'in', ids).where('project_id', '=', projectId).execute();
  const missing = ids.find((id) => !found.some((f) => f.id === id));
  if (missing) throw new ApiError('SecurityGroupNotFound', `Security group ${missing} does not exist`);
}

export async function setSecurityGroups(db: Executor, portId: string, ids: string[], replace = true): Promise<void> {
  if (replace) await db.deleteFrom('port_security_groups').where('port_id', '=', portId).execute();
  if (ids.length) {
    await db
      .insertInto('port_security_groups')
      .values(ids.map((security_group_id) => ({ port_id: portId, security_group_id })))
      .execute();
  }
}
