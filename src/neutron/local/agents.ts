import type { RequestContext } from '../../auth/index.js';
import { agentTypeOfVif, type Agents } from '../agents.js';
import type { Resource } from '../core/plugin.js';
import type { CentralNeutron } from './central.js';

// The L2 agents of the local role (reference §4.4): a binding whose profile carries a
// `tunnel_ip` records the OVS agent of its host (compute's own hosts, and xjob's shadow
// ports' remote hosts), and a binding on a VxLAN network tells central that agent's tunnel IP.

export type VxlanMode = 'p2p' | 'noop';

/** `[client] cross_pod_vxlan_mode`; l2gw is refused at start-up rather than half done. */
export function vxlanMode(mode: string): VxlanMode {
  if (mode === 'p2p' || mode === 'noop') return mode;
  throw new Error(`[client] cross_pod_vxlan_mode = ${mode} is not supported by this local Neutron: use p2p or noop`);
}

export class LocalAgents {
  constructor(
    /** Absent: this server keeps no agent records (and reports none). */
    private readonly agents: Agents | undefined,
    private readonly central: CentralNeutron,
    private readonly mode: VxlanMode,
  ) {}

  /**
   * Records the agent of `host` (the body's binding:host_id by default) when the body's profile
   * names its `tunnel_ip`, and returns the body without it: that IP belongs to the agent, not the port.
   */
  async record(item: Resource, host: unknown = item['binding:host_id']): Promise<Resource> {
    const profile = item['binding:profile'] as Resource | undefined;
    if (!profile || typeof profile !== 'object' || !('tunnel_ip' in profile)) return item;
    const { tunnel_ip: tunnelIp, ...rest } = profile;
    if (this.agents && typeof tunnelIp === 'string' && tunnelIp && typeof host === 'string' && host) await this.agents.ensureOvs(host, tunnelIp);
    return { ...item, 'binding:profile': rest };
  }

  /**
   * What central's binding:profile gets about the bound host's agent: {host, type, tunnel_ip} in
   * p2p mode when the network is VxLAN, else nothing. The type is central's (as its admin sees
   * it): a region's own copy of a network is not where its segment is decided.
   */
  async profileOf(ctx: RequestContext, port: Resource): Promise<Resource> {
    const type = agentTypeOfVif(port['binding:vif_type']);
    const host = port['binding:host_id'];
    if (!this.agents || this.mode === 'noop' || !type || typeof host !== 'string' || !host) return {};
    const tunnelIp = (await this.agents.find(host, type))?.configurations.tunneling_ip;
    if (typeof tunnelIp !== 'string') return {};
    const network = await this.central.admin().find(ctx, 'networks', 'network', String(port.network_id));
    return network?.['provider:network_type'] === 'vxlan' ? { host, type, tunnel_ip: tunnelIp } : {};
  }
}
