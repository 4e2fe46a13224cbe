// Every configuration option, declared once: the loader validates against this table,
// `tricircle config show` prints it and docs/configuration.md is generated from it.

export type OptionType =
  | { kind: 'string' }
  | { kind: 'int'; min?: number; max?: number }
  | { kind: 'float'; min?: number; max?: number }
  | { kind: 'bool' }
  | { kind: 'enum'; choices: readonly string[] }
  | { kind: 'list' };

export interface OptionSpec {
  type: OptionType;
  /** Default as the INI text would spell it; `null` means unset. */
  default: string | null;
  help: string;
  secret?: boolean;
}

const str = { kind: 'string' } as const;
const port = { kind: 'int', min: 0, max: 65535 } as const;

export const OPTIONS = {
  DEFAULT: {
    bind_host: { type: str, default: '0.0.0.0', help: 'Address the Admin API listens on.' },
    bind_port: { type: port, default: '19999', help: 'Port the Admin API listens on.' },
    auth_strategy: {
      type: { kind: 'enum', choices: ['keystone', 'noauth'] },
      default: 'keystone',
      help:
        'keystone: validate X-Auth-Token against Keystone. noauth: trust the X-User-Id, ' +
        'X-Project-Id and X-Roles headers (development and the all-in-one only).',
    },
    noauth_default_project: {
      type: str,
      default: 'admin',
      help: 'With auth_strategy = noauth, the project of a request that sends no identity headers; it acts as admin.',
    },
    state_path: {
      type: str,
      default: '.tricircle',
      help: 'Directory for local state, such as the embedded SQLite database.',
    },
    pagination_max_limit: {
      type: { kind: 'int', min: 1 },
      default: '2000',
      help: 'Largest page a list returns, and the page size when the request gives no limit.',
    },
    max_request_body_size: {
      type: { kind: 'int', min: 1024 },
      default: '114688',
      help: 'Largest request body accepted, in bytes; larger bodies get 413.',
    },
    graceful_shutdown_timeout: {
      type: { kind: 'int', min: 0 },
      default: '60',
      help: 'Seconds after SIGTERM to let in-flight requests and running jobs finish; jobs still running then are aborted and left NEW for another worker.',
    },
    log_level: {
      type: { kind: 'enum', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
      default: 'info',
      help: 'Lowest level written to the JSON log on standard output.',
    },
    transport_url: {
      type: str,
      default: null,
      secret: true,
      help:
        'Message broker that wakes xjob workers in other processes, as oslo.messaging spells it: ' +
        'rabbit://user:pass@host:5672/ (several brokers: comma-separated host parts). Unset: workers ' +
        'in the same process are woken directly and the rest find jobs by polling the database.',
    },
    control_exchange: {
      type: str,
      default: 'tricircle',
      help: 'RabbitMQ exchange the wake-ups go through; every process of one deployment must agree on it.',
    },
    periodic_interval: {
      type: { kind: 'float', min: 1 },
      default: '60',
      help: 'Seconds between the periodic redos of failed jobs in each xjob process.',
    },
    periodic_fuzzy_delay: {
      type: { kind: 'float', min: 0 },
      default: '60',
      help: 'The first periodic redo starts after a random delay up to this many seconds, so that processes started together do not redo in step.',
    },
  },
  database: {
    connection: {
      type: str,
      default: null,
      secret: true,
      help:
        'Database URL: sqlite:///path (relative to the working directory), postgresql://user:pass@host/db ' +
        'or mysql://user:pass@host/db (MariaDB). Unset: sqlite under state_path.',
    },
    max_pool_size: {
      type: { kind: 'int', min: 1 },
      default: '10',
      help: 'Connections kept open per process (PostgreSQL and MariaDB).',
    },
  },
  keystone_authtoken: {
    www_authenticate_uri: {
      type: str,
      default: null,
      help: 'Keystone URL named in the WWW-Authenticate header of a 401; defaults to auth_url.',
    },
    auth_url: {
      type: str,
      default: 'http://127.0.0.1:5000/v3',
      help: 'Keystone v3 endpoint used to validate tokens.',
    },
    username: { type: str, default: 'tricircle', help: 'Service user that validates tokens.' },
    password: { type: str, default: null, secret: true, help: 'Password of the service user.' },
    project_name: { type: str, default: 'service', help: 'Project of the service user.' },
    user_domain_name: { type: str, default: 'Default', help: 'Domain of the service user.' },
    project_domain_name: { type: str, default: 'Default', help: 'Domain of the service project.' },
    token_cache_time: {
      type: { kind: 'int', min: 0 },
      default: '300',
      help: 'Seconds a validated token is trusted before asking Keystone again (never past its expiry).',
    },
    token_cache_size: {
      type: { kind: 'int', min: 0 },
      default: '10000',
      help: 'Most validated tokens kept in memory; the oldest are evicted first.',
    },
    http_connect_timeout: {
      type: { kind: 'float', min: 0.1 },
      default: '10',
      help: 'Seconds to wait for Keystone before answering 503.',
    },
  },
  oslo_policy: {
    policy_file: {
      type: str,
      default: null,
      help: 'YAML or JSON file whose rules override the built-in defaults (docs/policy.md).',
    },
  },
  neutron: {
    bind_host: { type: str, default: '0.0.0.0', help: 'Address the Neutron API (tricircle neutron-server) listens on.' },
    bind_port: { type: port, default: '20001', help: 'Port of the Neutron API; 20001 for the central Neutron, 9696 is usual for a local one.' },
    base_mac: {
      type: str,
      default: 'fa:16:3e:00:00:00',
      help: 'MAC addresses of ports start with the non-zero bytes of this value; the rest are random.',
    },
  },
  tricircle: {
    type_drivers: {
      type: { kind: 'list' },
      default: 'local,flat,vlan,vxlan',
      help: 'Network types this Neutron can create: any of local, flat, vlan, vxlan.',
    },
    tenant_network_types: {
      type: { kind: 'list' },
      default: 'vxlan,local',
      help: 'Types a tenant network gets, tried in this order until one has a free segment.',
    },
    network_vlan_ranges: {
      type: { kind: 'list' },
      default: '',
      help: 'physnet:min:max VLAN ranges for tenant networks (a bare physnet allows provider networks only).',
    },
    vni_ranges: { type: { kind: 'list' }, default: '1001:2000', help: 'min:max VXLAN VNI ranges for tenant networks.' },
    flat_networks: {
      type: { kind: 'list' },
      default: '*',
      help: 'Physical networks that flat networks may use; * means any.',
    },
    availability_zones: {
      type: { kind: 'list' },
      default: 'nova',
      help: 'Availability zones this Neutron offers for availability_zone_hints (the central role uses its pods instead).',
    },
    global_physnet_mtu: {
      type: { kind: 'int', min: 68 },
      default: '1500',
      help: 'MTU of the physical networks; VXLAN networks get 50 bytes less.',
    },
    bridge_network_type: {
      type: { kind: 'enum', choices: ['vlan', 'vxlan'] },
      default: 'vxlan',
      help: "Type of the central role's per-project bridge networks that join a non-local router's copies in the regions; it must be a tenant network type.",
    },
    default_region_for_external_network: {
      type: str,
      default: 'RegionOne',
      help: 'Region an external network created without availability_zone_hints is pinned to (central role).',
    },
    central_neutron_url: {
      type: str,
      default: null,
      help: 'URL of the central Neutron (with or without /v2.0) that a neutron-server with --role local mirrors resources from.',
    },
    local_region_name: {
      type: str,
      default: null,
      help: 'Region of a neutron-server with --role local: it names the per-region gateway port and the binding profile. --region overrides it.',
    },
  },
  QUOTAS: {
    quota_network: { type: { kind: 'int', min: -1 }, default: '100', help: 'Networks per project (-1: unlimited).' },
    quota_subnet: { type: { kind: 'int', min: -1 }, default: '100', help: 'Subnets per project (-1: unlimited).' },
    quota_subnetpool: { type: { kind: 'int', min: -1 }, default: '-1', help: 'Subnet pools per project (-1: unlimited).' },
    quota_port: { type: { kind: 'int', min: -1 }, default: '500', help: 'Ports per project (-1: unlimited).' },
    quota_router: { type: { kind: 'int', min: -1 }, default: '10', help: 'Routers per project (-1: unlimited).' },
    quota_floatingip: { type: { kind: 'int', min: -1 }, default: '50', help: 'Floating IPs per project (-1: unlimited).' },
    quota_security_group: { type: { kind: 'int', min: -1 }, default: '10', help: 'Security groups per project (-1: unlimited).' },
    quota_security_group_rule: { type: { kind: 'int', min: -1 }, default: '100', help: 'Security group rules per project (-1: unlimited).' },
  },
  xjob: {
    workers: {
      type: { kind: 'int', min: 1 },
      default: '8',
      help: 'Jobs of different resources one xjob process runs at the same time.',
    },
    worker_sleep_time: {
      type: { kind: 'float', min: 0.01 },
      default: '1',
      help: 'Seconds between polls of the database for NEW jobs no wake-up announced (a lost message, a dead worker).',
    },
    job_run_expire: {
      type: { kind: 'int', min: 1 },
      default: '180',
      help:
        'Seconds after which a RUNNING job whose worker stopped refreshing it is taken to belong to a dead ' +
        'worker and is taken over; a live run refreshes it every third of this.',
    },
    retry_attempts: {
      type: { kind: 'int', min: 1 },
      default: '5',
      help: 'Attempts a run gives a handler that fails transiently (region unreachable, timeout, 5xx, 409) before the job is FAIL.',
    },
    retry_base_delay: {
      type: { kind: 'float', min: 0 },
      default: '0.5',
      help: 'Seconds before the first retry; each retry waits a random time up to twice the last bound, up to retry_max_delay.',
    },
    retry_max_delay: {
      type: { kind: 'float', min: 0 },
      default: '30',
      help: 'Longest wait between two attempts of a handler, in seconds.',
    },
    handler_modules: {
      type: { kind: 'list' },
      default: '',
      help: 'Extra modules (file paths) whose exported `jobTypes` add job types and their handlers to the built-in ones (docs/xjob.md).',
    },
    bind_host: { type: str, default: '127.0.0.1', help: 'Address of the /metrics and /healthz endpoint of a tricircle xjob process.' },
    bind_port: {
      type: port,
      default: null,
      help: 'Port of the /metrics and /healthz endpoint of a tricircle xjob process; unset: no endpoint.',
    },
    redo_time_span: {
      type: { kind: 'int', min: 1 },
      default: '172800',
      help: 'The periodic redo runs again the FAIL jobs registered within this many seconds (NEW jobs are found by the poll, whatever their age).',
    },
  },
  client: {
    auth_url: {
      type: str,
      default: null,
      help:
        'Keystone v3 URL (with or without /v3) where xjob gets its admin token and, with auto_refresh_endpoint, ' +
        "the regions' Neutron endpoints. Unset: jobs that need a region fail, saying that this section is not set.",
    },
    admin_username: { type: str, default: null, help: 'User that xjob acts as in every region; it needs the admin role.' },
    admin_password: { type: str, default: null, secret: true, help: 'Password of admin_username.' },
    admin_tenant: { type: str, default: null, help: 'Project the admin token is scoped to (its name).' },
    admin_user_domain_name: { type: str, default: 'Default', help: 'Domain of admin_username.' },
    admin_tenant_domain_name: { type: str, default: 'Default', help: 'Domain of admin_tenant.' },
    top_region_name: {
      type: str,
      default: 'CentralRegion',
      help: 'Region of the central Neutron, as registered in Keystone and as the pod without an availability zone.',
    },
    auto_refresh_endpoint: {
      type: { kind: 'bool' },
      default: 'true',
      help:
        "When a region's Neutron endpoint is not in the cached_endpoints table, or its cached URL refuses " +
        "connections, read the public network endpoints from Keystone's catalog, update the table and try once more. " +
        'false: only the table is used. (Upstream Tricircle defaulted to false, but its deployments all set true.)',
    },
    neutron_timeout: {
      type: { kind: 'float', min: 0.1 },
      default: '60',
      help: "Seconds to wait for an answer from a region's Neutron, and from Keystone when asking it for a token or the endpoints.",
    },
    region_endpoints: {
      type: { kind: 'list' },
      default: '',
      help:
        "Region=URL entries giving regions' Neutron endpoints (the central one included) without Keystone's catalog; they win over " +
        'the cached_endpoints table. Without auth_url and the admin credentials, in a process with auth_strategy = noauth or with ' +
        'these entries, requests to regions carry admin identity headers instead of a token: for noauth regions (all-in-one, tests).',
    },
    bridge_cidr: {
      type: str,
      default: '100.0.0.0/9',
      help: 'Range of the bridge networks. A local Neutron gives a router port asking for an address in it the id of the central port owning that address.',
    },
    cross_pod_vxlan_mode: {
      type: { kind: 'enum', choices: ['p2p', 'l2gw', 'noop'] },
      default: 'p2p',
      help:
        "How VxLAN networks span regions. p2p: a local Neutron reports the tunnel IP of the bound host's agent to central, and xjob's " +
        'shadow_port_setup gives every other region of the network a shadow port of the VM port; noop: neither. l2gw is not supported (refused at start-up).',
    },
    max_shadow_port_bulk_size: {
      type: { kind: 'int', min: 1 },
      default: '100',
      help: 'Most shadow ports xjob creates in a region with one bulk request (shadow_port_setup); more are sent in several requests.',
    },
  },
  compute: {
    bind_host: { type: str, default: '0.0.0.0', help: 'Address the compute service (tricircle compute) listens on.' },
    bind_port: { type: port, default: '8774', help: 'Port of the compute service: the Nova v2.1 API at /v2.1 and the Glance v2 API at /v2 and /image/v2.' },
    region_name: { type: str, default: 'RegionOne', help: 'Region the compute service serves; --region overrides it.' },
    neutron_url: {
      type: str,
      default: null,
      help: "URL of the region's Neutron (with or without /v2.0), where servers get their ports. Required by tricircle compute.",
    },
    host: {
      type: str,
      default: null,
      help: 'The binding:host_id the compute service binds ports to. Unset: <region_name>-compute1.',
    },
    tunnel_ip: {
      type: str,
      default: '127.0.0.1',
      help: "VxLAN tunnel endpoint of the compute host. Sent in binding:profile when binding a port; the region's Neutron records it as the host's Open vSwitch agent.",
    },
    default_availability_zone: {
      type: str,
      default: 'nova',
      help: 'The one availability zone of the compute service; ports get device_owner compute:<zone>.',
    },
  },
  identity: {
    bind_host: { type: str, default: '127.0.0.1', help: 'Address the identity service (tricircle identity, and the one of tricircle up) listens on.' },
    bind_port: { type: port, default: '5000', help: 'Port of the identity service: Keystone v3 at /v3.' },
    admin_password: {
      type: str,
      default: 'admin',
      secret: true,
      help: "Password of the identity service's user admin (project admin; roles admin, member, reader).",
    },
    demo_password: { type: str, default: 'demo', secret: true, help: "Password of the identity service's user demo (project demo; roles member, reader)." },
    token_expiration: { type: { kind: 'int', min: 1 }, default: '3600', help: 'Seconds a token of the identity service stays valid.' },
    region: { type: str, default: 'CentralRegion', help: "Region of the identity service's own endpoint in its catalog." },
    endpoints: {
      type: { kind: 'list' },
      default: '',
      help:
        'The catalog of tricircle identity, as type:Region=URL entries (type one of identity, network, compute, image, tricircle), ' +
        'e.g. network:RegionOne=http://127.0.0.1:20002. Every region without an identity entry gets this service itself. tricircle up builds its own.',
    },
  },
} as const satisfies Record<string, Record<string, OptionSpec>>;

export type Sections = typeof OPTIONS;
export type SectionName = keyof Sections;

type ValueOf<T extends OptionType> = T extends { kind: 'int' | 'float' }
  ? number
  : T extends { kind: 'bool' }
    ? boolean
    : T extends { kind: 'list' }
      ? string[]
      : string;

type ValueOfSpec<S extends OptionSpec> = S['default'] extends null ? ValueOf<S['type']> | null : ValueOf<S['type']>;

/** The typed, validated configuration. */
export type Config = {
  [S in SectionName]: { [O in keyof Sections[S]]: ValueOfSpec<Sections[S][O] & OptionSpec> };
};
