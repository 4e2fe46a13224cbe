import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { formatSeconds, isUniqueViolation } from '../db/index.js';
import { ApiError } from '../http/errors.js';
import { route } from '../http/routes.js';
import { context } from './api/context.js';
import type { NeutronDb } from './core/store.js';

// Neutron's agents extension, read-only: the L2 agent records of compute hosts. This Neutron
// has no agent report RPC; the local role records an agent when a port is bound with a
// `tunnel_ip` in its binding:profile (compute's own host, or xjob's shadow ports for other
// regions' hosts), as upstream Tricircle records its shadow agents (reference §4.4).

export const OVS_AGENT_TYPE = 'Open vSwitch agent';
const OVS_BINARY = 'neutron-openvswitch-agent';

/** The agent type serving a port of this binding:vif_type, if any. */
export const agentTypeOfVif = (vifType: unknown): string | undefined => (vifType === 'ovs' ? OVS_AGENT_TYPE : undefined);

interface AgentRow {
  id: string;
  agent_type: string;
  binary: string;
  topic: string;
  host: string;
  admin_state_up: number;
  configurations: string;
  created_at: string;
  heartbeat_timestamp: string;
}

export type Agent = Record<string, unknown> & { id: string; host: string; configurations: Record<string, unknown> };

function render(row: AgentRow): Agent {
  return {
    id: row.id,
    agent_type: row.agent_type,
    binary: row.binary,
    topic: row.topic,
    host: row.host,
    admin_state_up: Number(row.admin_state_up) === 1,
    // No heartbeats here: a recorded agent is as alive as the bindings that named it.
    alive: true,
    availability_zone: null,
    configurations: JSON.parse(row.configurations) as Record<string, unknown>,
    description: null,
    created_at: row.created_at,
    started_at: row.created_at,
    heartbeat_timestamp: row.heartbeat_timestamp,
    resources_synced: null,
  };
}

/** What an OVS agent with VxLAN tunnels and L2 population reports about itself. */
function ovsConfigurations(tunnelIp: string): Record<string, unknown> {
  return { tunneling_ip: tunnelIp, tunnel_types: ['vxlan'], l2_population: true, bridge_mappings: {}, devices: 0, extensions: [] };
}

const FILTERS = ['id', 'host', 'agent_type', 'binary', 'topic'] as const;

export class Agents {
  constructor(private readonly db: NeutronDb) {}

  async list(filters: Partial<Record<(typeof FILTERS)[number], string[]>> = {}): Promise<Agent[]> {
    let query = this.db.selectFrom('agents').selectAll();
    for (const attr of FILTERS) {
      const values = filters[attr];
      if (values?.length) query = query.where(attr, 'in', values);
    }
    const rows = (await query.orderBy('host').orderBy('agent_type').execute()) as AgentRow[];
    return rows.map(render);
  }

  async get(id: string): Promise<Agent> {
    const found = await this.list({ id: [id] });
    if (!found.length) throw new ApiError('ResourceNotFound', `Agent ${id} could not be found.`);
    return found[0]!;
  }

  /** The agent of this type on this host, if one is recorded. */
  async find(host: string, agentType: string): Promise<Agent | undefined> {
    return (await this.list({ host: [host], agent_type: [agentType] }))[0];
  }

  /** Records (or refreshes the tunnel IP of) the OVS agent of `host`; safe when several servers race. */
  async ensureOvs(host: string, tunnelIp: string): Promise<Agent> {
    const now = formatSeconds(new Date());
    const configurations = JSON.stringify(ovsConfigurations(tunnelIp));
    const existing = await this.find(host, OVS_AGENT_TYPE);
    if (!existing) {
      try {
        await this.db
          .insertInto('agents')
          .values({
            id: randomUUID(),
            agent_type: OVS_AGENT_TYPE,
            binary: OVS_BINARY,
            topic: 'N/A',
            host,
            admin_state_up: 1,
            configurations,
            created_at: now,
            heartbeat_timestamp: now,
          })
          .execute();
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
    } else if (existing.configurations.tunneling_ip !== tunnelIp) {
      await this.db
        .updateTable('agents')
        .set({ configurations, heartbeat_timestamp: now })
        .where('host', '=', host)
        .where('agent_type', '=', OVS_AGENT_TYPE)
        .execute();
    }
    return (await this.find(host, OVS_AGENT_TYPE))!;
  }
}

/** `?host=a&host=b` as a list; the other query parameters (fields, ...) are not filters here. */
function filtersOf(request: FastifyRequest): Partial<Record<(typeof FILTERS)[number], string[]>> {
  const query = request.query as Record<string, string | string[] | undefined>;
  const filters: Partial<Record<(typeof FILTERS)[number], string[]>> = {};
  for (const attr of FILTERS) {
    const value = query[attr];
    if (value !== undefined) filters[attr] = Array.isArray(value) ? value : [value];
  }
  return filters;
}

function adminOnly(request: FastifyRequest): void {
  if (!context(request).isAdmin) throw new ApiError('PolicyNotAuthorized', 'rule:get_agent is disallowed by policy');
}

/** GET /v2.0/agents and /v2.0/agents/{id}, for admins (Neutron's policy). */
export function agentRoutes(app: FastifyInstance, agents: Agents): void {
  route(app, '/v2.0/agents', {
    GET: async (request) => {
      adminOnly(request);
      return { agents: await agents.list(filtersOf(request)) };
    },
  });
  route(app, '/v2.0/agents/:id', {
    GET: async (request) => {
      adminOnly(request);
      return { agent: await agents.get((request.params as { id: string }).id) };
    },
  });
}
