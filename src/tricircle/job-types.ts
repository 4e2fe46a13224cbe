// The job types XJob knows, with the resource keys that identify what a job works on.
// Key order matters: a job's resource_id is the values joined by '#' in this order.
// `owner` says how POST /v1.0/jobs checks that the resource belongs to the job's project:
// through a routing of that resource type, or by the resource naming the project itself.

export type JobOwnerCheck = { routing: string; key: string } | { projectKey: string };

export interface JobTypeSpec {
  resource: readonly string[];
  owner: JobOwnerCheck;
}

export const JOB_TYPES = {
  configure_route: { resource: ['router_id'], owner: { routing: 'router', key: 'router_id' } },
  router_setup: { resource: ['pod_id', 'router_id', 'network_id'], owner: { routing: 'router', key: 'router_id' } },
  port_delete: { resource: ['pod_id', 'port_id'], owner: { routing: 'port', key: 'port_id' } },
  seg_rule_setup: { resource: ['project_id'], owner: { projectKey: 'project_id' } },
  update_network: { resource: ['pod_id', 'network_id'], owner: { routing: 'network', key: 'network_id' } },
  subnet_update: { resource: ['pod_id', 'subnet_id'], owner: { routing: 'subnet', key: 'subnet_id' } },
  shadow_port_setup: { resource: ['pod_id', 'network_id'], owner: { routing: 'network', key: 'network_id' } },
  trunk_sync: { resource: ['pod_id', 'trunk_id'], owner: { routing: 'trunk', key: 'trunk_id' } },
  sfc_sync: { resource: ['pod_id', 'portchain_id', 'network_id'], owner: { routing: 'port_chain', key: 'portchain_id' } },
  resource_recycle: { resource: ['project_id'], owner: { projectKey: 'project_id' } },
  qos_create: { resource: ['pod_id', 'policy_id', 'res_type', 'res_id'], owner: { routing: 'qos_policy', key: 'policy_id' } },
  qos_update: { resource: ['pod_id', 'policy_id'], owner: { routing: 'qos_policy', key: 'policy_id' } },
  qos_delete: { resource: ['pod_id', 'policy_id'], owner: { routing: 'qos_policy', key: 'policy_id' } },
  sync_qos_rule: { resource: ['rule_id', 'policy_id'], owner: { routing: 'qos_policy', key: 'policy_id' } },
} as const satisfies Record<string, JobTypeSpec>;

export type JobType = keyof typeof JOB_TYPES;

export function isJobType(type: string): type is JobType {
  return Object.hasOwn(JOB_TYPES, type);
}

export function resourceIdOf(type: JobType, resource: Record<string, string>): string {
  return JOB_TYPES[type].resource.map((key) => resource[key]).join('#');
}

export function resourceOf(type: string, resourceId: string): Record<string, string> {
  const keys: readonly string[] = isJobType(type) ? JOB_TYPES[type].resource : [];
  const values = resourceId.split('#');
  return Object.fromEntries(keys.map((key, i) => [key, values[i] ?? '']));
}
