// The vocabulary of resource definitions: how one attribute of a Neutron resource is
// validated, defaulted, filtered, sorted and shown. Definitions in this folder are data
// built from these pieces; the generic controller (../api) does the rest.

/** Thrown by a validator; the controller words it as Neutron does ("Invalid input for x. Reason: ..."). */
export class InvalidValue extends Error {}

/** A value that cannot be converted (Neutron's convert_to_*): worded "Invalid input for operation: ..." instead. */
export class InvalidConversion extends InvalidValue {}

/** Checks and converts one value as sent by a client; returns the converted value or throws InvalidValue. */
export type Validator = (value: unknown) => unknown;

export interface Attribute {
  /** Settable on create; an attribute without a default is then required. */
  post?: boolean;
  /** Settable on update. */
  put?: boolean;
  /** Value when a create omits it (a function is called per create). */
  default?: unknown;
  validate?: Validator;
  /** Converts a query-string filter value (always text) to the stored type; defaults to `validate`. */
  parseFilter?: (text: string) => unknown;
  /** Shown in responses (default true). */
  visible?: boolean;
  /** Usable as a list filter (default true for visible attributes). */
  filter?: boolean;
  /** Usable as sort_key (default false). */
  sort?: boolean;
  /** Only admins may set it, and only admins see it (Neutron's provider attributes). */
  adminOnly?: boolean;
  /** JSON type for the OpenAPI document (validators cannot be introspected); guessed from `default` when absent. */
  type?: AttributeType;
}

export type AttributeType = 'string' | 'boolean' | 'integer' | 'array' | 'object';

export interface ResourceDef {
  /** Singular body key: {"network": {...}}. */
  name: string;
  /** Collection: {"networks": [...]}, and the path unless `path` says otherwise. */
  collection: string;
  /** URL path under /v2.0 where it differs from the collection: security-groups for security_groups. */
  path?: string;
  /** The Neutron exception type for an unknown id: NetworkNotFound. */
  notFound: string;
  /** How that exception words it, e.g. `Network ${id} could not be found.` */
  notFoundMessage: (id: string) => string;
  attributes: Record<string, Attribute>;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const quote = (value: unknown) => `'${typeof value === 'string' ? value : JSON.stringify(value)}'`;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

export function string(max = 255): Validator {
  return (value) => {
    if (typeof value !== 'string') throw new InvalidValue(`${quote(value)} is not a valid string`);
    if (value.length > max) throw new InvalidValue(`${quote(value)} exceeds maximum length of ${max}`);
    return value;
  };
}

/** Neutron's convert_to_boolean (oslo's bool_from_string, strict): true/false, 0/1, and their spellings as text. */
export const boolean: Validator = (value) => {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (['1', 't', 'true', 'on', 'y', 'yes'].includes(lower)) return true;
    if (['0', 'f', 'false', 'off', 'n', 'no'].includes(lower)) return false;
  }
  throw new InvalidConversion(`${quote(value)} cannot be converted to boolean`);
};

export const uuid: Validator = (value) => {
  if (!isUuid(value)) throw new InvalidValue(`${quote(value)} is not a valid UUID`);
  return value.toLowerCase();
};

export function orNull(validator: Validator): Validator {
  return (value) => (value === null ? null : validator(value));
}

export function integer(min?: number, max?: number): Validator {
  return (value) => {
    const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new InvalidConversion(`${quote(value)} is not an integer`);
    if (min !== undefined && n < min) throw new InvalidValue(`${quote(value)} should be greater than or equal to ${min}`);
    if (max !== undefined && n > max) throw new InvalidValue(`${quote(value)} should be less than or equal to ${max}`);
    return n;
  };
}

export function oneOf<T>(values: readonly T[]): Validator {
  return (value) => {
    // Neutron's validate_values words it "<value> is not in valid_values", the value unquoted.
    if (!values.includes(value as T)) throw new InvalidValue(`${typeof value === 'string' ? value : JSON.stringify(value)} is not in valid_values`);
    return value;
  };
}

export function listOf(item: Validator): Validator {
  return (value) => {
    if (!Array.isArray(value)) throw new InvalidValue(`${quote(value)} is not a list`);
    return value.map(item);
  };
}

export const dict: Validator = (value) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidValue(`${quote(value)} is not a dictionary`);
  return value;
};

/** Standard attributes most resources carry (standard-attr-* extensions). */
export const STANDARD = {
  description: { post: true, put: true, default: '', validate: string(255) },
  tags: { filter: false, type: 'array' },
  created_at: { sort: true, type: 'string' },
  updated_at: { sort: true, type: 'string' },
  revision_number: { sort: true, type: 'integer' },
} satisfies Record<string, Attribute>;

/** project_id and its older name tenant_id, settable on create (another project's only by an admin). */
export const OWNER = {
  project_id: { post: true, validate: string(255), sort: true, type: 'string' },
  tenant_id: { post: true, validate: string(255), sort: true, type: 'string' },
} satisfies Record<string, Attribute>;

export const ID = { id: { sort: true, parseFilter: (text: string) => text, type: 'string' } } satisfies Record<string, Attribute>;

/**
 * A create's item as the API controller would hand it to the operations: the attributes the
 * definition accepts on create, the definition's defaults for the rest, `id` and
 * `project_id` kept. Not validated: for records Tricircle writes itself (copies of central
 * resources, reserved ports), some of whose values the API refuses from clients.
 */
export function createItem(def: ResourceDef, record: Record<string, unknown>): Record<string, unknown> {
  const item: Record<string, unknown> = { id: record.id, project_id: record.project_id };
  for (const [attr, spec] of Object.entries(def.attributes)) {
    if (!spec.post || attr === 'tenant_id' || attr === 'project_id') continue;
    if (record[attr] !== undefined) item[attr] = record[attr];
    else if ('default' in spec) item[attr] = typeof spec.default === 'function' ? (spec.default as () => unknown)() : structuredClone(spec.default);
  }
  return item;
}
