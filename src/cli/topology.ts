import { type Command, Option } from 'commander';
import { addCloudOptions, connectCloud, NeutronReader, type AdminClient, type CloudOptions } from './admin-client.js';

// `tricircle topology`: a project's central networks and routers and the regions each one
// exists in, read from the central Neutron and the routing rows. Text for people, JSON for
// scripts, Graphviz DOT for drawing.

type Json = Record<string, unknown>;

/** The routing rows that place a central network or router in a region. */
const NETWORK_TYPES = ['network', 'shadow_network'];
const ROUTER_TYPES = ['router', 'ns_router'];

/** One routing row: the resource's copy in a region. */
export interface Placement {
  region: string;
  resource_type: string;
  bottom_id: string;
}

export interface TopologyNetwork {
  id: string;
  name: string;
  project_id: string;
  external: boolean;
  cidrs: string[];
  /** The regions it has a copy in, sorted. */
  regions: string[];
  placements: Placement[];
}

export interface TopologyRouter {
  id: string;
  name: string;
  regions: string[];
  placements: Placement[];
  /** Networks it has an interface on. */
  interfaces: string[];
  gateway: string | null;
}

export interface Topology {
  project_id: string;
  /** Known when Keystone named it (the token's project, or --project given by name). */
  project_name: string | null;
  routers: TopologyRouter[];
  /** The project's networks, and other projects' ones its routers use (external networks). */
  networks: TopologyNetwork[];
}

const FORMATS = ['text', 'json', 'dot'] as const;
type Format = (typeof FORMATS)[number];
type TopologyOptions = CloudOptions & { project?: string; format: Format };

// Ids per filtered request: repeated filters keep the URL short enough for any server.
const IDS_PER_REQUEST = 50;
// Routing lookups in flight at once.
const PARALLEL_LOOKUPS = 8;

async function inBatches<T, R>(items: T[], size: number, each: (batch: T[]) => Promise<R[]>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await each(items.slice(i, i + size))));
  return results;
}

/** Items of a collection whose `key` is one of `values` (Neutron reads a repeated filter as any of). */
function listWhere(neutron: NeutronReader, collection: string, key: string, values: string[], extra = ''): Promise<Json[]> {
  return inBatches([...new Set(values)], IDS_PER_REQUEST, (batch) => {
    const query = new URLSearchParams(batch.map((value) => [key, value]));
    return neutron.list(collection, `${query}${extra}`);
  });
}

/** The routing rows of each central id of these types, as placements by id. */
async function placements(admin: AdminClient, ids: string[], types: string[], regionOf: Map<string, string>): Promise<Map<string, Placement[]>> {
  const rows = await inBatches(ids, PARALLEL_LOOKUPS, (batch) => Promise.all(batch.map((id) => admin.list('routings', { top_id: id }))));
  const byId = new Map<string, Placement[]>();
  rows.forEach((page, i) => {
    const found = page.items
      .filter((row) => types.includes(String(row.resource_type)))
      .map((row) => ({
        region: regionOf.get(String(row.pod_id)) ?? String(row.pod_id),
        resource_type: String(row.resource_type),
        bottom_id: String(row.bottom_id),
      }))
      .sort((a, b) => a.region.localeCompare(b.region) || a.resource_type.localeCompare(b.resource_type));
    byId.set(ids[i]!, found);
  });
  return byId;
}

const regionsOf = (found: Placement[]) => [...new Set(found.map((p) => p.region))].sort();
const byName = (a: { name: string; id: string }, b: { name: string; id: string }) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id);

const gatewayOf = (router: Json) => ((router.external_gateway_info as Json | null)?.network_id as string | undefined) ?? null;

/** The project's networks and routers in the central Neutron, the routers' interface ports, the networks they use, and their subnets. */
async function centralView(central: NeutronReader, projectId: string) {
  const ofProject = `project_id=${encodeURIComponent(projectId)}`;
  const [ownNetworks, routers] = await Promise.all([central.list('networks', ofProject), central.list('routers', ofProject)]);
  // Central's reserved ports (interface_<region>_<subnet>) are router interfaces too; only the routers' own count.
  const routerIds = routers.map((router) => String(router.id));
  const interfacePorts = await listWhere(central, 'ports', 'device_id', routerIds, '&device_owner=network%3Arouter_interface');
  // Networks of other projects the routers use: an external network, a shared one.
  const own = new Set(ownNetworks.map((network) => String(network.id)));
  const used = [...interfacePorts.map((port) => String(port.network_id)), ...routers.map(gatewayOf).filter((id): id is string => id !== null)];
  const foreignIds = used.filter((id) => !own.has(id));
  const networks = [...ownNetworks, ...(await listWhere(central, 'networks', 'id', foreignIds))];
  const networkIds = networks.map((network) => String(network.id));
  const subnets = await listWhere(central, 'subnets', 'network_id', networkIds);
  return { networks, routers, interfacePorts, subnets };
}

export async function readTopology(opts: TopologyOptions): Promise<Topology> {
  const cloud = await connectCloud(opts, opts.neutronEndpoint ?? new Map());
  const { admin, neutronEndpoints } = cloud;
  const project = opts.project === undefined ? cloud.project : await cloud.findProject(opts.project);
  if (!project) throw new Error("the token's project is unknown (an unscoped token, or a token without $OS_AUTH_URL to ask Keystone): give --project");
  const pods = (await admin.list('pods', {})).items;
  const centralPod = pods.find((pod) => !pod.az_name);
  if (!centralPod) throw new Error('no central pod is registered (a pod without --az-name): tricircle pod create --region-name CentralRegion');
  const centralRegion = String(centralPod.region_name);
  const endpoint = neutronEndpoints.get(centralRegion);
  if (!endpoint)
    throw new Error(`no Neutron endpoint for the central region ${centralRegion}: none in the Keystone catalog; give --neutron-endpoint ${centralRegion}=URL`);
  const central = new NeutronReader(centralRegion, endpoint, admin.headers, opts.timeout);

  const { networks, routers, interfacePorts, subnets } = await centralView(central, project.id);
  const networkIds = networks.map((network) => String(network.id));
  const routerIds = routers.map((router) => String(router.id));
  const regionOf = new Map(pods.map((pod) => [String(pod.pod_id), String(pod.region_name)]));
  const [networkPlaces, routerPlaces] = await Promise.all([
    placements(admin, networkIds, NETWORK_TYPES, regionOf),
    placements(admin, routerIds, ROUTER_TYPES, regionOf),
  ]);
  return {
    project_id: project.id,
    project_name: project.name,
    routers: routers
      .map((router) => {
        const id = String(router.id);
        const found = routerPlaces.get(id) ?? [];
        const interfaces = [...new Set(interfacePorts.filter((port) => port.device_id === id).map((port) => String(port.network_id)))].sort();
        return { id, name: String(router.name ?? ''), regions: regionsOf(found), placements: found, interfaces, gateway: gatewayOf(router) };
      })
      .sort(byName),
    networks: networks
      .map((network) => {
        const id = String(network.id);
        const found = networkPlaces.get(id) ?? [];
        const cidrs = subnets.filter((subnet) => subnet.network_id === id).map((subnet) => String(subnet.cidr));
        return {
          id,
          name: String(network.name ?? ''),
          project_id: String(network.project_id ?? network.tenant_id ?? ''),
          external: network['router:external'] === true,
          cidrs: cidrs.sort(),
          regions: regionsOf(found),
          placements: found,
        };
      })
      .sort(byName),
  };
}

/** A region with the kinds of copy it holds when that is not the plain one: "RegionTwo (router, ns_router)". */
function regionLabels(found: Placement[], plain: string): string[] {
  return regionsOf(found).map((region) => {
    const kinds = found.filter((p) => p.region === region).map((p) => p.resource_type);
    return kinds.length === 1 && kinds[0] === plain ? region : `${region} (${kinds.join(', ')})`;
  });
}

const describeNetwork = (network: TopologyNetwork) =>
  `${network.name || '(no name)'} ${network.id}${network.cidrs.length ? ` ${network.cidrs.join(', ')}` : ''}${network.external ? ' [external]' : ''}`;

/** Tree lines under a node: `├── ` / `└── ` for the children, `│   ` / `    ` before their own children. */
function tree(children: Array<{ label: string; children: string[] }>, indent = ''): string[] {
  return children.flatMap((child, i) => {
    const last = i === children.length - 1;
    const leaves = child.children.map((leaf, j) => `${indent}${last ? '    ' : '│   '}${j === child.children.length - 1 ? '└── ' : '├── '}${leaf}`);
    return [`${indent}${last ? '└── ' : '├── '}${child.label}`, ...leaves];
  });
}

export function topologyText(topology: Topology): string {
  const networks = new Map(topology.networks.map((network) => [network.id, network]));
  const regionsOrNone = (labels: string[]) => (labels.length ? labels : ['(in no region yet)']);
  const networkNode = (role: string, id: string) => {
    const network = networks.get(id);
    return network
      ? { label: `${role} ${describeNetwork(network)}`, children: regionsOrNone(regionLabels(network.placements, 'network')) }
      : { label: `${role} ${id}`, children: ['(not visible)'] };
  };
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const project = topology.project_name ? `${topology.project_name} ${topology.project_id}` : topology.project_id;
  const lines = [`project ${project}: ${count(topology.routers.length, 'router')}, ${count(topology.networks.length, 'network')}`];
  for (const router of topology.routers) {
    const regions = regionLabels(router.placements, 'router');
    lines.push(`router ${router.name || '(no name)'} ${router.id} in ${regions.length ? regions.join(', ') : 'no region yet'}`);
    // By name (topology.networks' order), then any network the caller cannot see.
    const interfaces = [
      ...topology.networks.map((network) => network.id).filter((id) => router.interfaces.includes(id)),
      ...router.interfaces.filter((id) => !networks.has(id)),
    ];
    const children = interfaces.map((id) => networkNode('interface', id));
    if (router.gateway) children.push(networkNode('gateway', router.gateway));
    lines.push(...tree(children));
  }
  const attached = new Set(topology.routers.flatMap((router) => [...router.interfaces, ...(router.gateway ? [router.gateway] : [])]));
  const loose = topology.networks.filter((network) => !attached.has(network.id));
  if (loose.length) {
    lines.push('networks on no router');
    lines.push(...tree(loose.map((network) => networkNode('network', network.id))));
  }
  return `${lines.join('\n')}\n`;
}

const quote = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * Graphviz: routers as boxes, networks as ellipses (external ones doubled), an edge per
 * interface and a dashed one per gateway; each node's label names the regions it is in.
 */
export function topologyDot(topology: Topology): string {
  const label = (...lines: string[]) => quote(lines.filter(Boolean).join('\n')).replace(/\n/g, '\\n');
  const lines = [`graph topology {`, `  label=${quote(`project ${topology.project_name ?? topology.project_id}`)};`, '  labelloc=t;'];
  for (const network of topology.networks) {
    const regions = regionLabels(network.placements, 'network').join(', ') || 'no region';
    const shape = network.external ? 'doubleoctagon' : 'ellipse';
    lines.push(`  ${quote(network.id)} [shape=${shape}, label=${label(network.name || network.id, network.cidrs.join(', '), regions)}];`);
  }
  for (const router of topology.routers) {
    const regions = regionLabels(router.placements, 'router').join(', ') || 'no region';
    lines.push(`  ${quote(router.id)} [shape=box, label=${label(router.name || router.id, regions)}];`);
    for (const network of router.interfaces) lines.push(`  ${quote(router.id)} -- ${quote(network)} [label="interface"];`);
    if (router.gateway) lines.push(`  ${quote(router.id)} -- ${quote(router.gateway)} [label="gateway", style=dashed];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

const TOPOLOGY_HELP = `
The project's networks and routers come from the central Neutron (the central pod's region in
the Keystone catalog, or --neutron-endpoint CentralRegion=URL); the regions from the routing
rows (network and shadow_network for networks, router and ns_router for routers). Networks of
other projects that the routers use (external networks) are shown too.
Formats: text (a tree: router, its interface and gateway networks, their regions), json, and
dot (Graphviz: routers as boxes, networks as ellipses, edges for interfaces and dashed ones for
gateways, each node labelled with its regions), e.g.
  tricircle topology --format dot | dot -Tsvg > topology.svg
`;

export function registerTopology(program: Command): void {
  const command = program.command('topology').description("A project's networks and routers, and the regions each one exists in");
  addCloudOptions(command)
    .option('--project <project>', "the project to show, by id (or by name, when Keystone is used) (default: the token's project)")
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('text'))
    .addHelpText('after', TOPOLOGY_HELP)
    .action(async (opts: TopologyOptions) => {
      const topology = await readTopology(opts);
      const print = { text: topologyText, json: (t: Topology) => `${JSON.stringify(t, null, 2)}\n`, dot: topologyDot }[opts.format];
      process.stdout.write(print(topology));
    });
}
