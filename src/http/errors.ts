// The one error catalog: every error a client can see has a stable type name and an HTTP
// status here. Each API renders these in its own wire format (Admin API: errors-admin.ts).

export const ERROR_CATALOG = {
  InvalidInput: { status: 400, description: 'The request body, a query parameter or a path id is malformed or invalid.' },
  NotAuthenticated: { status: 401, description: 'No token, or one that Keystone does not accept.' },
  PolicyNotAuthorized: { status: 403, description: 'The caller is authenticated but policy forbids the operation.' },
  ResourceNotFound: { status: 404, description: 'No such path, or no such object (also for objects the caller may not see).' },
  MethodNotAllowed: { status: 405, description: 'The path exists but not with this HTTP method.' },
  Conflict: { status: 409, description: 'The request conflicts with the current state (duplicate, object in use).' },
  RequestEntityTooLarge: { status: 413, description: 'The body is larger than [DEFAULT] max_request_body_size.' },
  UnsupportedMediaType: { status: 415, description: 'The body is not application/json.' },
  ValidationFailed: { status: 422, description: 'A well-formed request whose values cannot be accepted (e.g. a pod without region_name).' },
  ServiceUnavailable: { status: 503, description: 'A service this one depends on (Keystone, the database) cannot be reached.' },
  InternalError: { status: 500, description: 'A fault of the server itself; the log has the details under the request id.' },

  // Neutron's own exception types, by the names its clients know.
  HTTPBadRequest: { status: 400, description: 'Neutron: a body or query that does not match the resource definition.' },
  BadRequest: { status: 400, description: 'Neutron: a request that is well-formed but not acceptable (e.g. a bad limit).' },
  NetworkNotFound: { status: 404, description: 'Neutron: no such network visible to the caller.' },
  NetworkInUse: { status: 409, description: 'Neutron: the network still has ports other than its own service ports.' },
  NoNetworkAvailable: { status: 503, description: 'Neutron: no segment (VLAN, VNI) is left in the configured ranges.' },
  OverQuota: { status: 409, description: "Neutron: the project's quota for the resource would be exceeded." },
  AvailabilityZoneNotFound: { status: 404, description: 'Neutron: an availability_zone_hints entry names no zone.' },
  SegmentationIdInUse: { status: 409, description: 'Neutron: the requested VLAN or VNI is already used by another network.' },
  PhysicalNetworkInUse: { status: 409, description: 'Neutron: the requested flat physical network already carries a network.' },
  TagResourceNotFound: { status: 404, description: 'Neutron: the resource whose tags are asked for does not exist or is not visible.' },
  TagNotFound: { status: 404, description: 'Neutron: the resource does not carry this tag.' },
  TenantQuotaNotFound: { status: 404, description: 'Neutron: the project has no quota of its own to delete.' },
  AdminRequired: { status: 403, description: "Neutron: only an admin may read another project's quota details." },
} as const;

export type ErrorType = keyof typeof ERROR_CATALOG;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = ERROR_CATALOG[type].status;
  }
}

export const badRequest = (message: string) => new ApiError('InvalidInput', message);
export const notFound = (message: string) => new ApiError('ResourceNotFound', message);
export const conflict = (message: string) => new ApiError('Conflict', message);
export const forbidden = (message: string) => new ApiError('PolicyNotAuthorized', message);
