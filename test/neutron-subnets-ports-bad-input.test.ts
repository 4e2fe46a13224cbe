import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestDatabase } from './support/engines.js';
import { ADMIN, MEMBER, OTHER, call, neutronClient, startNeutronApi, type Headers, type RunningNeutronApi } from './support/neutron-server.js';

// Bad input for subnets, subnet pools and ports, one table per resource: each request gets
// the status, type (and where it matters the message) the real Neutron (Zed) gives, and
// writes nothing: no row of any addressing table changes.

const ZERO = '00000000-0000-0000-0000-000000000000';
const TABLES = ['subnets', 'subnetpools', 'ip_availability_ranges', 'ports', 'ip_allocations', 'port_security_groups'];

interface Fixture {
  net: string;
  net2: string;
  hidden: string;
  sub: string;
  sub2: string;
  slaac: string;
  pool: string;
  port: string;
}

type Case = [name: string, status: number, type: string, method: string, path: string, body?: unknown, headers?: Headers, message?: string];

const subnetCases = (f: Fixture): Case[] => {
  const S = (attrs: Record<string, unknown>) => ({ subnet: { network_id: f.net, ip_version: 4, ...attrs } });
  const post = (name: string, status: number, type: string, attrs: Record<string, unknown>, message?: string): Case => [
    name,
    status,
    type,
    'POST',
    '/v2.0/subnets',
    S(attrs),
    undefined,
    message,
  ];
  return [
    post('cidr with /33', 400, 'InvalidInput', { cidr: '10.9.0.0/33' }, 'Invalid input for operation: 10.9.0.0/33 is not in a CIDR format.'),
    post('cidr not a cidr', 400, 'InvalidInput', { cidr: 'abc' }),
    post('cidr of the wrong type', 400, 'InvalidInput', { cidr: 5 }),
    post('cidr of the other family', 400, 'InvalidInput', { cidr: '10.10.0.0/24', ip_version: 6 }),
    post('host cidr with DHCP', 400, 'InvalidInput', { cidr: '10.9.0.0' }),
    post('overlapping cidr', 400, 'InvalidInput', { cidr: '10.12.0.128/25' }),
    post('no ip_version', 400, 'HTTPBadRequest', { ip_version: undefined, cidr: '10.11.0.0/24' }),
    post('ip_version 5', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', ip_version: 5 }, 'Invalid input for ip_version. Reason: 5 is not in valid_values.'),
    post('ip_version text', 400, 'InvalidInput', { cidr: '10.11.0.0/24', ip_version: 'x' }),
    post('no cidr and no pool', 400, 'BadRequest', {}, 'Bad subnets request: a subnetpool must be specified in the absence of a cidr.'),
    post(
      'pool beyond the cidr',
      400,
      'OutOfBoundsAllocationPool',
      { cidr: '10.11.0.0/24', allocation_pools: [{ start: '10.11.0.10', end: '10.11.1.20' }] },
      'The allocation pool 10.11.0.10-10.11.1.20 spans beyond the subnet cidr 10.11.0.0/24.',
    ),
    post('pool on the network address', 400, 'OutOfBoundsAllocationPool', {
      cidr: '10.11.0.0/24',
      allocation_pools: [{ start: '10.11.0.0', end: '10.11.0.9' }],
    }),
    post(
      'overlapping pools',
      409,
      'OverlappingAllocationPools',
      {
        cidr: '10.11.0.0/24',
        allocation_pools: [
          { start: '10.11.0.10', end: '10.11.0.20' },
          { start: '10.11.0.15', end: '10.11.0.30' },
        ],
      },
      'Found overlapping allocation pools: 10.11.0.10-10.11.0.20 10.11.0.15-10.11.0.30 for subnet 10.11.0.0/24.',
    ),
    post(
      'reversed pool',
      400,
      'InvalidAllocationPool',
      { cidr: '10.11.0.0/24', allocation_pools: [{ start: '10.11.0.30', end: '10.11.0.20' }] },
      "The allocation pool {'start': '10.11.0.30', 'end': '10.11.0.20'} is not valid.",
    ),
    post('pool of the other family', 400, 'InvalidAllocationPool', { cidr: '10.11.0.0/24', allocation_pools: [{ start: 'fd00::1', end: 'fd00::5' }] }),
    post('pool without end', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', allocation_pools: [{ start: '10.11.0.1' }] }),
    post('pool not a list', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', allocation_pools: 'x' }),
    post(
      'gateway inside a pool',
      409,
      'GatewayConflictWithAllocationPools',
      { cidr: '10.11.0.0/24', gateway_ip: '10.11.0.15', allocation_pools: [{ start: '10.11.0.10', end: '10.11.0.20' }] },
      'Gateway ip 10.11.0.15 conflicts with allocation pool 10.11.0.10-10.11.0.20.',
    ),
    post('default gateway inside a pool', 409, 'GatewayConflictWithAllocationPools', {
      cidr: '10.11.0.0/24',
      allocation_pools: [{ start: '10.11.0.1', end: '10.11.0.9' }],
    }),
    post('gateway not an address', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', gateway_ip: 'bad' }),
    post('gateway with a leading zero', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', gateway_ip: '10.11.0.01' }),
    post('gateway on the broadcast address', 400, 'InvalidInput', { cidr: '10.11.0.0/24', gateway_ip: '10.11.0.255' }),
    post('duplicate nameserver', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', dns_nameservers: ['1.1.1.1', '1.1.1.1'] }),
    post('too many nameservers', 400, 'DNSNameServersExhausted', {
      cidr: '10.11.0.0/24',
      dns_nameservers: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4', '1.1.1.5', '1.1.1.6'],
    }),
    post('route without nexthop', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', host_routes: [{ destination: '10.0.0.0/8' }] }),
    post('route with host bits', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', host_routes: [{ destination: '10.0.0.1/8', nexthop: '10.11.0.3' }] }),
    post('route of the other family', 400, 'InvalidInput', { cidr: '10.11.0.0/24', host_routes: [{ destination: 'fd00::/8', nexthop: '10.11.0.3' }] }),
    post('unknown attribute', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', bogus: 1 }, "Unrecognized attribute(s) 'bogus'"),
    post('read-only attribute', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', id: ZERO }),
    post('name of the wrong type', 400, 'HTTPBadRequest', { cidr: '10.11.0.0/24', name: 5 }),
    post('enable_dhcp not a boolean', 400, 'InvalidInput', { cidr: '10.11.0.0/24', enable_dhcp: 'maybe' }),
    post('IPv6 modes that differ', 400, 'InvalidInput', { cidr: 'fd00:3::/64', ip_version: 6, ipv6_address_mode: 'slaac', ipv6_ra_mode: 'dhcpv6-stateful' }),
    post('IPv6 mode on IPv4', 400, 'InvalidInput', { cidr: '10.17.0.0/24', ipv6_address_mode: 'slaac' }),
    post('SLAAC on a /120', 400, 'InvalidInput', { cidr: 'fd00:4::/120', ip_version: 6, ipv6_address_mode: 'slaac' }),
    post('cidr and prefixlen', 400, 'BadRequest', { cidr: '10.11.0.0/24', prefixlen: 24 }),
    post('unknown pool', 404, 'SubnetPoolNotFound', { subnetpool_id: ZERO }),
    post('unknown segment', 404, 'SegmentNotFound', { cidr: '10.30.0.0/24', segment_id: ZERO }),
    ['unknown network', 404, 'NetworkNotFound', 'POST', '/v2.0/subnets', S({ network_id: ZERO, cidr: '10.11.0.0/24' })],
    ["another project's network", 404, 'NetworkNotFound', 'POST', '/v2.0/subnets', S({ network_id: f.hidden, cidr: '10.11.0.0/24' }), OTHER],
    ['malformed JSON', 400, 'HTTPBadRequest', 'POST', '/v2.0/subnets', '{"subnet": '],
    ['update of the cidr', 400, 'HTTPBadRequest', 'PUT', `/v2.0/subnets/${f.sub}`, { subnet: { cidr: '10.1.0.0/24' } }],
    [
      'update: pool beyond the cidr',
      400,
      'OutOfBoundsAllocationPool',
      'PUT',
      `/v2.0/subnets/${f.sub}`,
      { subnet: { allocation_pools: [{ start: '10.12.0.9', end: '10.12.1.0' }] } },
    ],
    ['update: gateway into the pool', 409, 'GatewayConflictWithAllocationPools', 'PUT', `/v2.0/subnets/${f.sub}`, { subnet: { gateway_ip: '10.12.0.50' } }],
    [
      'update: pool over the gateway',
      409,
      'GatewayConflictWithAllocationPools',
      'PUT',
      `/v2.0/subnets/${f.sub}`,
      { subnet: { allocation_pools: [{ start: '10.12.0.1', end: '10.12.0.5' }] } },
    ],
    ["update of another project's subnet", 404, 'SubnetNotFound', 'PUT', `/v2.0/subnets/${f.sub2}`, { subnet: { name: 'x' } }, OTHER],
    ['delete with addresses in use', 409, 'SubnetInUse', 'DELETE', `/v2.0/subnets/${f.sub}`],
    ["delete of another project's subnet", 404, 'SubnetNotFound', 'DELETE', `/v2.0/subnets/${f.sub2}`, undefined, OTHER],
    ['filter on an unknown attribute', 400, 'HTTPBadRequest', 'GET', '/v2.0/subnets?bogus=1'],
    ['sort on a list attribute', 400, 'HTTPBadRequest', 'GET', '/v2.0/subnets?sort_key=dns_nameservers&sort_dir=asc'],
  ];
};

const poolCases = (f: Fixture): Case[] => {
  const post = (name: string, status: number, type: string, attrs: Record<string, unknown>, headers?: Headers): Case => [
    name,
    status,
    type,
    'POST',
    '/v2.0/subnetpools',
    { subnetpool: { name: 'bad', ...attrs } },
    headers,
  ];
  return [
    post('no prefixes', 400, 'HTTPBadRequest', {}),
    post('empty prefixes', 400, 'EmptySubnetPoolPrefixList', { prefixes: [] }),
    post('prefixes not a list', 400, 'HTTPBadRequest', { prefixes: '10.1.0.0/16' }),
    post('prefix not a cidr', 400, 'HTTPBadRequest', { prefixes: ['x'] }),
    post('mixed families', 400, 'PrefixVersionMismatch', { prefixes: ['10.1.0.0/16', 'fd00::/48'] }),
    post('max_prefixlen 33', 400, 'IllegalSubnetPoolPrefixBounds', { prefixes: ['10.1.0.0/16'], max_prefixlen: 33 }),
    post('min above max', 400, 'IllegalSubnetPoolPrefixBounds', { prefixes: ['10.1.0.0/16'], min_prefixlen: 26, max_prefixlen: 24 }),
    post('negative prefix length', 400, 'HTTPBadRequest', { prefixes: ['10.1.0.0/16'], min_prefixlen: -1 }),
    post('prefix length text', 400, 'InvalidInput', { prefixes: ['10.1.0.0/16'], min_prefixlen: 'a' }),
    post('blank name', 400, 'HTTPBadRequest', { name: '  ', prefixes: ['10.1.0.0/16'] }),
    post('shared by a member', 403, 'PolicyNotAuthorized', { prefixes: ['10.1.0.0/16'], shared: true }, MEMBER),
    post('read-only ip_version', 400, 'HTTPBadRequest', { prefixes: ['10.1.0.0/16'], ip_version: 4 }),
    ['update shrinking prefixes', 400, 'IllegalSubnetPoolPrefixUpdate', 'PUT', `/v2.0/subnetpools/${f.pool}`, { subnetpool: { prefixes: ['10.200.0.0/17'] } }],
    ['update of shared', 400, 'HTTPBadRequest', 'PUT', `/v2.0/subnetpools/${f.pool}`, { subnetpool: { shared: true } }],
    ['delete in use', 400, 'SubnetPoolDeleteError', 'DELETE', `/v2.0/subnetpools/${f.pool}`],
    ["another project's pool", 404, 'SubnetPoolNotFound', 'DELETE', `/v2.0/subnetpools/${f.pool}`, undefined, OTHER],
  ];
};

const portCases = (f: Fixture): Case[] => {
  const post = (name: string, status: number, type: string, attrs: Record<string, unknown>, headers?: Headers, message?: string): Case => [
    name,
    status,
    type,
    'POST',
    '/v2.0/ports',
    { port: { network_id: f.net, ...attrs } },
    headers,
    message,
  ];
  return [
    post('MAC already used', 409, 'MacAddressInUse', { mac_address: 'fa:16:3e:01:02:03' }),
    post('MAC not a MAC', 400, 'HTTPBadRequest', { mac_address: 'zz' }, undefined, "Invalid input for mac_address. Reason: 'zz' is not a valid MAC address."),
    post('MAC all zeros', 400, 'HTTPBadRequest', { mac_address: '00:00:00:00:00:00' }),
    post('address already used', 409, 'IpAddressAlreadyAllocated', { fixed_ips: [{ ip_address: '10.12.0.22' }] }),
    post('address on no subnet', 400, 'InvalidIpForNetwork', { fixed_ips: [{ ip_address: '10.99.0.22' }] }),
    post('address off its subnet', 400, 'InvalidIpForSubnet', { fixed_ips: [{ subnet_id: f.sub, ip_address: '10.13.0.22' }] }),
    post('broadcast address', 400, 'InvalidIpForSubnet', { fixed_ips: [{ subnet_id: f.sub, ip_address: '10.12.0.255' }] }),
    post('unknown subnet', 404, 'SubnetNotFound', { fixed_ips: [{ subnet_id: ZERO }] }),
    post("another network's subnet", 400, 'InvalidInput', { fixed_ips: [{ subnet_id: f.sub2 }] }),
    post('fixed IP with neither key', 400, 'InvalidInput', { fixed_ips: [{}] }),
    post('duplicate fixed IP', 400, 'HTTPBadRequest', { fixed_ips: [{ ip_address: '10.12.0.33' }, { ip_address: '10.12.0.33' }] }),
    post('fixed_ips not a list', 400, 'HTTPBadRequest', { fixed_ips: 'x' }),
    post('fixed IP not an address', 400, 'HTTPBadRequest', { fixed_ips: [{ ip_address: '10.12.0' }] }),
    post('address on a SLAAC subnet', 400, 'AllocationOnAutoAddressSubnet', { fixed_ips: [{ ip_address: 'fd00:2::5' }] }),
    post('address pairs without port security', 409, 'AddressPairAndPortSecurityRequired', {
      port_security_enabled: false,
      allowed_address_pairs: [{ ip_address: '10.1.1.1' }],
    }),
    post('groups without port security', 400, 'PortSecurityAndIPRequiredForSecurityGroups', { port_security_enabled: false, security_groups: [ZERO] }),
    post('unknown security group', 404, 'SecurityGroupNotFound', { security_groups: [ZERO] }),
    post('security group not a UUID', 400, 'HTTPBadRequest', { security_groups: ['x'] }),
    post('address pair without ip_address', 400, 'AllowedAddressPairsMissingIP', { allowed_address_pairs: [{ mac_address: 'fa:16:3e:00:00:01' }] }),
    post('duplicate address pair', 400, 'DuplicateAddressPairInRequest', { allowed_address_pairs: [{ ip_address: '10.1.1.1' }, { ip_address: '10.1.1.1' }] }),
    post('DHCP option without value', 400, 'InvalidInput', { extra_dhcp_opts: [{ opt_name: 'x' }] }),
    post('unknown vnic_type', 400, 'HTTPBadRequest', { 'binding:vnic_type': 'bogus' }),
    post('binding:profile not a dict', 400, 'HTTPBadRequest', { 'binding:profile': 'x' }),
    post('read-only status', 400, 'HTTPBadRequest', { status: 'ACTIVE' }),
    post('read-only vif_type', 400, 'HTTPBadRequest', { 'binding:vif_type': 'ovs' }),
    post('admin_state_up not a boolean', 400, 'InvalidInput', { admin_state_up: 'x' }),
    post('unknown attribute', 400, 'HTTPBadRequest', { bogus: 1 }),
    post('unknown network', 404, 'NetworkNotFound', { network_id: ZERO }),
    post("another project's network", 404, 'NetworkNotFound', { network_id: f.hidden }, OTHER),
    post('host binding by a member', 403, 'PolicyNotAuthorized', { network_id: f.hidden, 'binding:host_id': 'h' }, MEMBER),
    ['no network_id', 400, 'HTTPBadRequest', 'POST', '/v2.0/ports', { port: {} }],
    [
      'bulk with one bad port',
      409,
      'MacAddressInUse',
      'POST',
      '/v2.0/ports',
      { ports: [{ network_id: f.net }, { network_id: f.net, mac_address: 'fa:16:3e:01:02:03' }] },
    ],
    ['update to a used address', 409, 'IpAddressAlreadyAllocated', 'PUT', `/v2.0/ports/${f.port}`, { port: { fixed_ips: [{ ip_address: '10.12.0.22' }] } }],
    ['update of network_id', 400, 'HTTPBadRequest', 'PUT', `/v2.0/ports/${f.port}`, { port: { network_id: f.net2 } }],
    ["another project's port", 404, 'PortNotFound', 'PUT', `/v2.0/ports/${f.port}`, { port: { name: 'x' } }, OTHER],
    ['delete of a network with ports', 409, 'NetworkInUse', 'DELETE', `/v2.0/networks/${f.net}`],
    ['fixed_ips filter without a key', 400, 'InvalidInput', 'GET', '/v2.0/ports?fixed_ips=10.12.0.1'],
    ['filter on address pairs', 400, 'HTTPBadRequest', 'GET', '/v2.0/ports?allowed_address_pairs=x'],
  ];
};

for (const engine of await engines()) {
  describe(`Neutron subnets, subnet pools and ports: bad input on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let server: RunningNeutronApi;
    let api: ReturnType<typeof neutronClient>;
    const f = {} as Fixture;

    const counts = async () => {
      const result: Record<string, number> = {};
      for (const table of TABLES) {
        const row = await server.db.kysely
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow();
        result[table] = Number(row.n);
      }
      return result;
    };
    const created = async (path: string, body: unknown, headers: Headers = ADMIN) => {
      const reply = await api.post(path, body, headers);
      assert.equal(reply.status, 201, reply.text);
      return Object.values(reply.body as Record<string, { id: string }>)[0]!.id;
    };

    before(async () => {
      database = await engine.create();
      server = await startNeutronApi(database.connection);
      api = neutronClient(server.url);
      f.net = (await api.network()).id;
      f.net2 = (await api.network()).id;
      f.hidden = (await api.network({}, MEMBER)).id;
      f.sub = await created('/v2.0/subnets', { subnet: { network_id: f.net, ip_version: 4, cidr: '10.12.0.0/24' } });
      f.slaac = await created('/v2.0/subnets', { subnet: { network_id: f.net, ip_version: 6, cidr: 'fd00:2::/64', ipv6_address_mode: 'slaac' } });
      f.sub2 = await created('/v2.0/subnets', { subnet: { network_id: f.hidden, ip_version: 4, cidr: '10.13.0.0/24' } }, MEMBER);
      f.pool = await created('/v2.0/subnetpools', { subnetpool: { name: 'p', prefixes: ['10.200.0.0/16'], default_prefixlen: 24 } });
      await created('/v2.0/subnets', { subnet: { network_id: f.net2, ip_version: 4, subnetpool_id: f.pool } });
      f.port = await created('/v2.0/ports', { port: { network_id: f.net, mac_address: 'fa:16:3e:01:02:03' } });
      await created('/v2.0/ports', { port: { network_id: f.net, fixed_ips: [{ ip_address: '10.12.0.22' }] } });
      await created('/v2.0/ports', { port: { network_id: f.hidden } }, MEMBER);
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    for (const [resource, table] of [
      ['subnets', subnetCases],
      ['subnet pools', poolCases],
      ['ports', portCases],
    ] as const) {
      it(`answers bad ${resource} as Neutron does and writes nothing`, async () => {
        for (const [name, status, type, method, path, body, headers, message] of table(f)) {
          const before = await counts();
          const reply = await call(server.url, method, path, body, headers ?? ADMIN);
          assert.equal(reply.status, status, `${name}: ${reply.text}`);
          assert.equal(reply.body?.NeutronError?.type, type, `${name}: ${reply.text}`);
          if (message !== undefined) assert.equal(reply.body.NeutronError.message, message, name);
          assert.deepEqual(await counts(), before, `${name} wrote something`);
        }
      });
    }
  });
}
