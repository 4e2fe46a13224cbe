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
      help: 'Seconds to let in-flight requests finish after SIGTERM before closing anyway.',
    },
    log_level: {
      type: { kind: 'enum', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
      default: 'info',
      help: 'Lowest level written to the JSON log on standard output.',
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
  xjob: {
    job_run_expire: {
      type: { kind: 'int', min: 1 },
      default: '180',
      help: 'Seconds after which a RUNNING job is taken to belong to a dead worker and is taken over.',
    },
    redo_time_span: {
      type: { kind: 'int', min: 1 },
      default: '172800',
      help: 'Only FAIL and NEW jobs younger than this many seconds are redone periodically.',
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
