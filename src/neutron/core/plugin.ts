import type { RequestContext } from '../../auth/index.js';
import type { TagOperations } from './tags.js';

// The interface between the generic API controller and whatever implements Neutron's
// operations: NeutronCore, or a plugin (central, local) that wraps it and adds behaviour.
// Records are plain objects keyed by API attribute names.

export type Resource = Record<string, unknown>;

export interface Sort {
  key: string;
  dir: 'asc' | 'desc';
}

export interface ListQuery {
  /** Attribute -> accepted values (a repeated parameter means any of them), already converted. */
  filters: Record<string, unknown[]>;
  /** ?tags= (all), ?tags-any=, ?not-tags=, ?not-tags-any= */
  tags: { all: string[]; any: string[]; notAll: string[]; notAny: string[] };
  sorts: Sort[];
  limit: number | null;
  marker: string | null;
  pageReverse: boolean;
}

export interface Page {
  items: Resource[];
  /** More items follow the page in the direction read. */
  more: boolean;
}

export interface ResourceOperations {
  list(ctx: RequestContext, query: ListQuery): Promise<Page>;
  get(ctx: RequestContext, id: string): Promise<Resource>;
  /** Creates every item or none (a bulk create is one transaction). */
  create(ctx: RequestContext, items: Resource[]): Promise<Resource[]>;
  update(ctx: RequestContext, id: string, changes: Resource): Promise<Resource>;
  delete(ctx: RequestContext, id: string): Promise<void>;
  /** PUT /v2.0/<collection>/<id>/<action>, e.g. routers' add_router_interface. */
  actions?: Record<string, (ctx: RequestContext, id: string, body: Resource) => Promise<Resource>>;
  /** The tags API (standard-attr-tag) for resources that carry tags; see withTags. */
  tags?: TagOperations;
}

/** Operations by collection name ("networks", "subnets", ...). */
export type NeutronPlugin = Record<string, ResourceOperations>;

/**
 * A plugin's version of some core operations: the core's (class instances, so not
 * spreadable), with `replaced` taking their place.
 */
export function wrapOperations(ops: ResourceOperations, replaced: Partial<ResourceOperations>): ResourceOperations {
  return {
    list: (ctx, query) => ops.list(ctx, query),
    get: (ctx, id) => ops.get(ctx, id),
    create: (ctx, items) => ops.create(ctx, items),
    update: (ctx, id, changes) => ops.update(ctx, id, changes),
    delete: (ctx, id) => ops.delete(ctx, id),
    ...(ops.actions ? { actions: ops.actions } : {}),
    ...(ops.tags ? { tags: ops.tags } : {}),
    ...replaced,
  };
}
