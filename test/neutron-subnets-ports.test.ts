import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestDatabase } from './support/engines.js';
import { ADMIN, MEMBER, OTHER, neutronClient, startNeutronApi, type Headers, type RunningNeutronApi } from './support/neutron-server.js';

// Subnets and ports over real HTTP on every engine, as the real Neutron (Zed) answers:
// defaults, explicit addressing, IPv6 (stateful and SLAAC), updates, in-use checks,
// visibility, the ports' fixed IPs, MACs, bindings, port security and filters. Subnet pools:
// neutron-subnetpools; bad input: neutron-subnets-ports-bad-input; concurrency:
// neutron-ipam-concurrency.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const error = (reply: { status: number; body: any }) => [reply.status, reply.body?.NeutronError?.type];
const addresses = (port: Record<string, any>) => (port.fixed_ips as Array<{ ip_address: string }>).map((f) => f.ip_address);

for (const engine of await engines()) {
  describe(`Neutron subnets and ports on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let server: RunningNeutronApi;
    let api: ReturnType<typeof neutronClient>;
    const subnet = async (attrs: Record<string, unknown>, headers: Headers = ADMIN) => {
      const reply = await api.post('/v2.0/subnets', { subnet: { ip_version: 4, ...attrs } }, headers);
      assert.equal(reply.status, 201, reply.text);
      return reply.body.subnet as Record<string, any>;
    };
    const port = async (attrs: Record<string, unknown>, headers: Headers = ADMIN) => {
      const reply = await api.post('/v2.0/ports', { port: attrs }, headers);
      assert.equal(reply.status, 201, reply.text);
      return reply.body.port as Record<string, any>;
    };

    before(async () => {
      database = await engine.create();
      server = await startNeutronApi(database.connection);
      api = neutronClient(server.url);
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    describe('subnets', () => {
      it("creates an IPv4 subnet with Neutron's defaults and lists it on its network", async () => {
        const net = await api.network({ name: 's-defaults' });
        const s = await subnet({ network_id: net.id, cidr: '10.0.0.5/24', name: 'first' });
        assert.match(s.id, UUID);
        assert.deepEqual(Object.keys(s).sort(), [
          'allocation_pools',
          'cidr',
          'created_at',
          'description',
          'dns_nameservers',
          'enable_dhcp',
          'gateway_ip',
          'host_routes',
          'id',
          'ip_version',
          'ipv6_address_mode',
          'ipv6_ra_mode',
          'name',
          'network_id',
          'project_id',
          'revision_number',
          'segment_id',
          'subnetpool_id',
          'tags',
          'tenant_id',
          'updated_at',
        ]);
        assert.equal(s.cidr, '10.0.0.0/24');
        assert.equal(s.gateway_ip, '10.0.0.1');
        assert.deepEqual(s.allocation_pools, [{ start: '10.0.0.2', end: '10.0.0.254' }]);
        assert.equal(s.enable_dhcp, true);
        assert.deepEqual([s.dns_nameservers, s.host_routes, s.subnetpool_id, s.ipv6_ra_mode, s.segment_id], [[], [], null, null, null]);
        assert.equal(s.revision_number, 0);
        assert.deepEqual((await api.get(`/v2.0/subnets/${s.id}`)).body.subnet, s);
        assert.deepEqual((await api.get(`/v2.0/networks/${net.id}`)).body.network.subnets, [s.id]);
        // The same cidr is fine on another network, not on this one.
        await subnet({ network_id: (await api.network()).id, cidr: '10.0.0.0/24' });
        const overlap = await api.post('/v2.0/subnets', { subnet: { network_id: net.id, ip_version: 4, cidr: '10.0.0.128/25' } });
        assert.deepEqual(error(overlap), [400, 'InvalidInput']);
        assert.equal(
          overlap.body.NeutronError.message,
          `Invalid input for operation: Requested subnet with cidr: 10.0.0.128/25 for network: ${net.id} overlaps with another subnet.`,
        );
      });

      it('takes explicit pools, gateway, DNS servers and host routes, and IPv6 in both address modes', async () => {
        const net = await api.network();
        const s = await subnet({
          network_id: net.id,
          cidr: '10.1.0.0/24',
          gateway_ip: null,
          allocation_pools: [
            { start: '10.1.0.100', end: '10.1.0.100' },
            { start: '10.1.0.10', end: '10.1.0.20' },
          ],
          dns_nameservers: ['8.8.8.8', '1.1.1.1'],
          host_routes: [{ destination: '10.9.0.0/16', nexthop: '10.1.0.3' }],
        });
        assert.equal(s.gateway_ip, null);
        assert.deepEqual(s.allocation_pools, [
          { start: '10.1.0.10', end: '10.1.0.20' },
          { start: '10.1.0.100', end: '10.1.0.100' },
        ]);
        assert.deepEqual(s.dns_nameservers, ['8.8.8.8', '1.1.1.1']);
        assert.deepEqual(s.host_routes, [{ destination: '10.9.0.0/16', nexthop: '10.1.0.3' }]);
        // A gateway outside the cidr is allowed; the pools are then the whole usable range.
        const outside = await subnet({ network_id: net.id, cidr: '10.2.0.0/24', gateway_ip: '10.3.0.1' });
        assert.deepEqual(outside.allocation_pools, [{ start: '10.2.0.1', end: '10.2.0.254' }]);
        const v6 = await subnet({ network_id: net.id, ip_version: 6, cidr: 'FD00:1:0::/64' });
        assert.deepEqual([v6.cidr, v6.gateway_ip], ['fd00:1::/64', 'fd00:1::']);
        assert.deepEqual(v6.allocation_pools, [{ start: 'fd00:1::1', end: 'fd00:1::ffff:ffff:ffff:ffff' }]);
        const slaac = await subnet({ network_id: net.id, ip_version: 6, cidr: 'fd00:2::/64', ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' });
        assert.deepEqual([slaac.ipv6_ra_mode, slaac.ipv6_address_mode], ['slaac', 'slaac']);
      });

      it('updates name, DNS, routes, DHCP, gateway and pools with the same checks, and allocates from the new pools', async () => {
        const net = await api.network();
        const s = await subnet({ network_id: net.id, cidr: '10.4.0.0/24' });
        const update = (changes: Record<string, unknown>) => api.put(`/v2.0/subnets/${s.id}`, { subnet: changes });
        const changed = await update({ name: 'renamed', dns_nameservers: ['9.9.9.9'], host_routes: [], enable_dhcp: false, description: 'd' });
        assert.equal(changed.status, 200);
        assert.deepEqual([changed.body.subnet.name, changed.body.subnet.dns_nameservers, changed.body.subnet.enable_dhcp], ['renamed', ['9.9.9.9'], false]);
        assert.equal(changed.body.subnet.revision_number, 1);
        assert.deepEqual(error(await update({ gateway_ip: '10.4.0.50' })), [409, 'GatewayConflictWithAllocationPools']);
        assert.deepEqual(error(await update({ allocation_pools: [{ start: '10.4.0.10', end: '10.4.1.10' }] })), [400, 'OutOfBoundsAllocationPool']);
        assert.deepEqual(error(await update({ cidr: '10.5.0.0/24' })), [400, 'HTTPBadRequest']);
        const pooled = await update({ allocation_pools: [{ start: '10.4.0.200', end: '10.4.0.210' }], gateway_ip: '10.4.0.254' });
        assert.equal(pooled.status, 200, pooled.text);
        assert.deepEqual(pooled.body.subnet.allocation_pools, [{ start: '10.4.0.200', end: '10.4.0.210' }]);
        assert.equal(pooled.body.subnet.gateway_ip, '10.4.0.254');
        assert.deepEqual(addresses(await port({ network_id: net.id })), ['10.4.0.200']);
      });

      it('refuses to delete a subnet while ports other than DHCP ports hold addresses on it', async () => {
        const net = await api.network();
        const s = await subnet({ network_id: net.id, cidr: '10.6.0.0/24' });
        const user = await port({ network_id: net.id });
        const dhcp = await port({ network_id: net.id, device_owner: 'network:dhcp' });
        const refused = await api.del(`/v2.0/subnets/${s.id}`);
        assert.deepEqual(error(refused), [409, 'SubnetInUse']);
        assert.equal(
          refused.body.NeutronError.message,
          `Unable to complete operation on subnet ${s.id}: One or more ports have an IP allocation from this subnet.`,
        );
        assert.equal((await api.get(`/v2.0/subnets/${s.id}`)).status, 200);
        assert.equal((await api.del(`/v2.0/ports/${user.id}`)).status, 204);
        assert.equal((await api.del(`/v2.0/subnets/${s.id}`)).status, 204);
        assert.deepEqual((await api.get(`/v2.0/ports/${dhcp.id}`)).body.port.fixed_ips, []);
        assert.deepEqual((await api.get(`/v2.0/networks/${net.id}`)).body.network.subnets, []);
      });

      it("shows subnets of the networks a project may see, and hides the others' (404, not 403)", async () => {
        const mine = await api.network({ name: 'p2-net' }, MEMBER);
        const s = await subnet({ network_id: mine.id, cidr: '10.7.0.0/24' }, MEMBER);
        assert.equal(s.project_id, 'p2');
        assert.deepEqual(error(await api.get(`/v2.0/subnets/${s.id}`, OTHER)), [404, 'SubnetNotFound']);
        assert.ok(!(await api.get('/v2.0/subnets', OTHER)).body.subnets.some((x: { id: string }) => x.id === s.id));
        assert.deepEqual(error(await api.put(`/v2.0/subnets/${s.id}`, { subnet: { name: 'x' } }, OTHER)), [404, 'SubnetNotFound']);
        assert.deepEqual(error(await api.del(`/v2.0/subnets/${s.id}`, OTHER)), [404, 'SubnetNotFound']);
        const onTheirs = await api.post('/v2.0/subnets', { subnet: { network_id: mine.id, ip_version: 4, cidr: '10.8.0.0/24' } }, OTHER);
        assert.deepEqual(error(onTheirs), [404, 'NetworkNotFound']);
        // A shared network's subnets are everyone's to see, the owner's to change.
        const shared = await api.network({ shared: true });
        const public4 = await subnet({ network_id: shared.id, cidr: '10.9.0.0/24' });
        assert.equal((await api.get(`/v2.0/subnets/${public4.id}`, OTHER)).status, 200);
        assert.deepEqual(error(await api.put(`/v2.0/subnets/${public4.id}`, { subnet: { name: 'x' } }, OTHER)), [403, 'PolicyNotAuthorized']);
        const addOn = await api.post('/v2.0/subnets', { subnet: { network_id: shared.id, ip_version: 4, cidr: '10.10.0.0/24' } }, OTHER);
        assert.deepEqual(error(addOn), [403, 'PolicyNotAuthorized']);
      });

      it("accepts a segment of the subnet's network as segment_id", async () => {
        const net = await api.network();
        const segment = await server.db.kysely.selectFrom('network_segments').select('id').where('network_id', '=', net.id).executeTakeFirstOrThrow();
        const s = await subnet({ network_id: net.id, cidr: '10.11.0.0/24', segment_id: segment.id });
        assert.equal(s.segment_id, segment.id);
        assert.deepEqual(
          (await api.get(`/v2.0/subnets?segment_id=${segment.id}`)).body.subnets.map((x: { id: string }) => x.id),
          [s.id],
        );
      });
    });

    describe('ports', () => {
      let net: Record<string, any>;
      let v4: Record<string, any>;
      let v6: Record<string, any>;
      let slaac: Record<string, any>;

      before(async () => {
        net = await api.network({ name: 'ports' });
        v4 = await subnet({ network_id: net.id, cidr: '10.20.0.0/24', allocation_pools: [{ start: '10.20.0.2', end: '10.20.0.100' }] });
        v6 = await subnet({ network_id: net.id, ip_version: 6, cidr: 'fd00:20::/64' });
        slaac = await subnet({ network_id: net.id, ip_version: 6, cidr: 'fd00:21::/64', ipv6_address_mode: 'slaac', ipv6_ra_mode: 'slaac' });
      });

      it('gets one IPv4 address, one stateful IPv6 address and an EUI-64 address by default', async () => {
        const p = await port({ network_id: net.id, name: 'p1', device_id: 'vm-1', device_owner: 'compute:nova' });
        assert.deepEqual(Object.keys(p).sort(), [
          'admin_state_up',
          'allowed_address_pairs',
          'binding:host_id',
          'binding:profile',
          'binding:vif_details',
          'binding:vif_type',
          'binding:vnic_type',
          'created_at',
          'description',
          'device_id',
          'device_owner',
          'extra_dhcp_opts',
          'fixed_ips',
          'id',
          'mac_address',
          'name',
          'network_id',
          'port_security_enabled',
          'project_id',
          'revision_number',
          'security_groups',
          'status',
          'tags',
          'tenant_id',
          'updated_at',
        ]);
        assert.match(p.mac_address, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
        const [b3, b4, b5] = p.mac_address.split(':').slice(3);
        // IPv4 first; within a family the order is the subnets' (created in the same second here).
        assert.deepEqual(p.fixed_ips[0], { subnet_id: v4.id, ip_address: '10.20.0.2' });
        const byVersion6 = Object.fromEntries(p.fixed_ips.slice(1).map((f: { subnet_id: string; ip_address: string }) => [f.subnet_id, f.ip_address]));
        const eui = `fd00:21::f816:3eff:fe${b3}:${b4}${b5}`.replace(/:0+([0-9a-f])/g, ':$1');
        assert.deepEqual(byVersion6, { [v6.id]: 'fd00:20::1', [slaac.id]: eui });
        assert.deepEqual([p.status, p.port_security_enabled, p.revision_number], ['DOWN', true, 1]);
        assert.deepEqual([p['binding:vif_type'], p['binding:vnic_type'], p['binding:host_id'], p['binding:profile']], ['unbound', 'normal', '', {}]);
        const groups = (await api.get('/v2.0/security-groups?name=default&tenant_id=admin')).body.security_groups;
        assert.deepEqual(p.security_groups, [groups[0].id]);
        assert.deepEqual((await api.get(`/v2.0/ports/${p.id}`)).body.port, p);
      });

      it('allocates by subnet, by subnet and address, by address only, outside the pools, or none', async () => {
        const bySubnet = await port({ network_id: net.id, fixed_ips: [{ subnet_id: v4.id }] });
        assert.equal(bySubnet.fixed_ips[0].subnet_id, v4.id);
        assert.equal(bySubnet.fixed_ips.length, 2, 'and the SLAAC address');
        const both = await port({ network_id: net.id, fixed_ips: [{ subnet_id: v4.id, ip_address: '10.20.0.50' }] });
        assert.deepEqual(both.fixed_ips[0], { subnet_id: v4.id, ip_address: '10.20.0.50' });
        const byAddress = await port({ network_id: net.id, fixed_ips: [{ ip_address: 'fd00:20::0:abc' }] });
        assert.ok(byAddress.fixed_ips.some((f: object) => JSON.stringify(f) === JSON.stringify({ subnet_id: v6.id, ip_address: 'fd00:20::abc' })));
        const outside = await port({ network_id: net.id, fixed_ips: [{ ip_address: '10.20.0.200' }] });
        assert.equal(outside.fixed_ips[0].ip_address, '10.20.0.200');
        const none = await port({ network_id: net.id, fixed_ips: [] });
        assert.deepEqual(
          none.fixed_ips.map((f: { subnet_id: string }) => f.subnet_id),
          [slaac.id],
        );
        const taken = await api.post('/v2.0/ports', { port: { network_id: net.id, fixed_ips: [{ ip_address: '10.20.0.50' }] } });
        assert.deepEqual(error(taken), [409, 'IpAddressAlreadyAllocated']);
        assert.equal(taken.body.NeutronError.message, `IP address 10.20.0.50 already allocated in subnet ${v4.id}`);
      });

      it('reuses a freed address and re-allocates on an update of fixed_ips', async () => {
        const other = await api.network();
        const s = await subnet({ network_id: other.id, cidr: '10.21.0.0/24' });
        const [a, b] = [await port({ network_id: other.id }), await port({ network_id: other.id })];
        assert.deepEqual([addresses(a), addresses(b)], [['10.21.0.2'], ['10.21.0.3']]);
        assert.equal((await api.del(`/v2.0/ports/${a.id}`)).status, 204);
        const c = await port({ network_id: other.id });
        assert.deepEqual(addresses(c), ['10.21.0.2']);
        const moved = await api.put(`/v2.0/ports/${b.id}`, { port: { fixed_ips: [{ subnet_id: s.id, ip_address: '10.21.0.77' }] } });
        assert.equal(moved.status, 200, moved.text);
        assert.deepEqual(addresses(moved.body.port), ['10.21.0.77']);
        assert.equal(moved.body.port.revision_number, 2);
        // The address it left is free again; keeping an address and adding one by subnet works too.
        assert.deepEqual(addresses(await port({ network_id: other.id, fixed_ips: [{ ip_address: '10.21.0.3' }] })), ['10.21.0.3']);
        const grown = await api.put(`/v2.0/ports/${b.id}`, { port: { fixed_ips: [{ ip_address: '10.21.0.77' }, { subnet_id: s.id }] } });
        assert.deepEqual(addresses(grown.body.port), ['10.21.0.4', '10.21.0.77']);
        const emptied = await api.put(`/v2.0/ports/${b.id}`, { port: { fixed_ips: [] } });
        assert.deepEqual(emptied.body.port.fixed_ips, []);
        const conflict = await api.put(`/v2.0/ports/${b.id}`, { port: { fixed_ips: [{ ip_address: '10.21.0.2' }] } });
        assert.deepEqual(error(conflict), [409, 'IpAddressAlreadyAllocated']);
      });

      it('takes a given MAC in any notation once per network, and random ones from base_mac', async () => {
        const p = await port({ network_id: net.id, mac_address: 'FA-16-3E-AA-BB-01', fixed_ips: [] });
        assert.equal(p.mac_address, 'fa:16:3e:aa:bb:01');
        const again = await api.post('/v2.0/ports', { port: { network_id: net.id, mac_address: 'fa:16:3e:aa:bb:01' } });
        assert.deepEqual(error(again), [409, 'MacAddressInUse']);
        assert.equal(again.body.NeutronError.message, `Unable to complete operation for network ${net.id}. The mac address fa:16:3e:aa:bb:01 is in use.`);
        await port({ network_id: (await api.network()).id, mac_address: 'fa:16:3e:aa:bb:01' });
        const found = await api.get('/v2.0/ports?mac_address=FA:16:3E:AA:BB:01&fields=id&fields=mac_address');
        assert.equal(found.body.ports.length, 2);
      });

      it('filters on fixed_ips, device and network attributes', async () => {
        const p = await port({ network_id: net.id, device_id: 'vm-filter', device_owner: 'compute:az1', fixed_ips: [{ ip_address: '10.20.0.90' }] });
        const ids = async (query: string) => (await api.get(`/v2.0/ports?${query}`)).body.ports.map((x: { id: string }) => x.id);
        assert.deepEqual(await ids('fixed_ips=ip_address%3D10.20.0.90'), [p.id]);
        assert.deepEqual(await ids(`fixed_ips=ip_address%3D10.20.0.90&fixed_ips=subnet_id%3D${v4.id}`), [p.id]);
        assert.deepEqual(await ids(`fixed_ips=ip_address%3D10.20.0.90&fixed_ips=subnet_id%3D${v6.id}`), []);
        assert.ok((await ids(`fixed_ips=subnet_id%3D${v4.id}`)).includes(p.id));
        assert.deepEqual(await ids('device_id=vm-filter'), [p.id]);
        assert.deepEqual(await ids('device_owner=compute:az1&device_id=vm-filter'), [p.id]);
        assert.ok((await ids(`network_id=${net.id}`)).includes(p.id));
        assert.ok((await ids(`security_groups=${p.security_groups[0]}`)).includes(p.id));
        assert.deepEqual(await ids('fixed_ips=ip_address_substr%3D10.20.0.9&device_id=vm-filter'), [p.id]);
        const bad = await api.get('/v2.0/ports?fixed_ips=10.20.0.90');
        assert.deepEqual(error(bad), [400, 'InvalidInput']);
      });

      it('binds to a host the way ML2/OVS would, for admins only', async () => {
        const bound = await port({ network_id: net.id, fixed_ips: [], 'binding:host_id': 'compute-1', 'binding:profile': { a: 1 } });
        assert.equal(bound['binding:vif_type'], 'ovs');
        assert.deepEqual(bound['binding:vif_details'], {
          connectivity: 'l2',
          port_filter: true,
          ovs_hybrid_plug: false,
          datapath_type: 'system',
          bridge_name: 'br-int',
        });
        assert.deepEqual(bound['binding:profile'], { a: 1 });
        const unbound = await api.put(`/v2.0/ports/${bound.id}`, { port: { 'binding:host_id': '' } });
        assert.equal(unbound.body.port['binding:vif_type'], 'unbound');
        const direct = await port({ network_id: net.id, fixed_ips: [], 'binding:host_id': 'compute-1', 'binding:vnic_type': 'direct' });
        assert.equal(direct['binding:vif_type'], 'binding_failed');
        const shared = await api.network({ shared: true });
        const asMember = await port({ network_id: shared.id }, MEMBER);
        assert.equal(asMember['binding:host_id'], undefined);
        assert.equal(asMember['binding:vnic_type'], 'normal');
        const refused = await api.post('/v2.0/ports', { port: { network_id: shared.id, 'binding:host_id': 'h' } }, MEMBER);
        assert.deepEqual(error(refused), [403, 'PolicyNotAuthorized']);
      });

      it('applies port security: groups, address pairs, DHCP options and trusted service ports', async () => {
        const open = await port({ network_id: net.id, fixed_ips: [], port_security_enabled: false });
        assert.deepEqual([open.port_security_enabled, open.security_groups], [false, []]);
        const insecure = await api.network({ port_security_enabled: false });
        assert.equal((await port({ network_id: insecure.id })).port_security_enabled, false);
        const pairs = await port({
          network_id: net.id,
          fixed_ips: [],
          allowed_address_pairs: [{ ip_address: '10.30.0.0/16' }, { ip_address: '10.31.0.1', mac_address: 'fa:16:3e:00:00:01' }],
          extra_dhcp_opts: [{ opt_name: 'bootfile-name', opt_value: 'pxelinux.0' }],
        });
        assert.deepEqual(pairs.allowed_address_pairs, [
          { ip_address: '10.30.0.0/16', mac_address: pairs.mac_address },
          { ip_address: '10.31.0.1', mac_address: 'fa:16:3e:00:00:01' },
        ]);
        assert.deepEqual(pairs.extra_dhcp_opts, [{ opt_name: 'bootfile-name', opt_value: 'pxelinux.0', ip_version: 4 }]);
        const disable = await api.put(`/v2.0/ports/${pairs.id}`, { port: { port_security_enabled: false } });
        assert.deepEqual(error(disable), [409, 'AddressPairAndPortSecurityRequired']);
        const dhcp = await port({ network_id: net.id, device_owner: 'network:dhcp' });
        assert.deepEqual([dhcp.status, dhcp.port_security_enabled, dhcp.security_groups], ['ACTIVE', false, []]);
      });

      it('creates in bulk in one transaction and counts the quota', async () => {
        const bulk = await api.post('/v2.0/ports', { ports: [{ network_id: net.id, name: 'b1' }, { port: { network_id: net.id, name: 'b2' } }] });
        assert.equal(bulk.status, 201);
        assert.deepEqual(
          bulk.body.ports.map((p: { name: string }) => p.name),
          ['b1', 'b2'],
        );
        const before = (await api.get(`/v2.0/ports?network_id=${net.id}&fields=id`)).body.ports.length;
        const broken = await api.post('/v2.0/ports', {
          ports: [
            { network_id: net.id, name: 'b3' },
            { network_id: net.id, name: 'b4', fixed_ips: [{ ip_address: '10.20.0.2' }] },
          ],
        });
        assert.deepEqual(error(broken), [409, 'IpAddressAlreadyAllocated']);
        assert.equal((await api.get(`/v2.0/ports?network_id=${net.id}&fields=id`)).body.ports.length, before);
        const quota = { 'x-user-id': 'q', 'x-project-id': 'port-quota', 'x-roles': 'member' };
        const own = await api.network({}, quota);
        await subnet({ network_id: own.id, cidr: '10.40.0.0/24' }, quota);
        assert.equal((await api.put('/v2.0/quotas/port-quota', { quota: { port: 1 } })).status, 200);
        await port({ network_id: own.id }, quota);
        const over = await api.post('/v2.0/ports', { port: { network_id: own.id } }, quota);
        assert.deepEqual(error(over), [409, 'OverQuota']);
        assert.equal((await api.get(`/v2.0/ports?network_id=${own.id}`, quota)).body.ports.length, 1);
      });

      it("shows a port to its project and its network's owner only", async () => {
        const shared = await api.network({ shared: true });
        await subnet({ network_id: shared.id, cidr: '10.50.0.0/24' });
        const p = await port({ network_id: shared.id }, MEMBER);
        assert.equal((await api.get(`/v2.0/ports/${p.id}`)).status, 200);
        assert.deepEqual(error(await api.get(`/v2.0/ports/${p.id}`, OTHER)), [404, 'PortNotFound']);
        assert.deepEqual(error(await api.del(`/v2.0/ports/${p.id}`, OTHER)), [404, 'PortNotFound']);
        const pick = await api.post('/v2.0/ports', { port: { network_id: shared.id, fixed_ips: [{ ip_address: '10.50.0.9' }] } }, OTHER);
        assert.deepEqual(error(pick), [403, 'PolicyNotAuthorized']);
        const hidden = await api.network({}, MEMBER);
        assert.deepEqual(error(await api.post('/v2.0/ports', { port: { network_id: hidden.id } }, OTHER)), [404, 'NetworkNotFound']);
      });

      it('deletes DHCP ports with their network and refuses while other ports remain', async () => {
        const n = await api.network();
        await subnet({ network_id: n.id, cidr: '10.60.0.0/24' });
        const dhcp = await port({ network_id: n.id, device_owner: 'network:dhcp' });
        const user = await port({ network_id: n.id });
        const refused = await api.del(`/v2.0/networks/${n.id}`);
        assert.deepEqual(error(refused), [409, 'NetworkInUse']);
        assert.equal(
          refused.body.NeutronError.message,
          `Unable to complete operation on network ${n.id}. There are one or more ports still in use on the network, id for these ports is: ${user.id}.`,
        );
        assert.equal((await api.del(`/v2.0/ports/${user.id}`)).status, 204);
        assert.equal((await api.del(`/v2.0/networks/${n.id}`)).status, 204);
        assert.deepEqual(error(await api.get(`/v2.0/ports/${dhcp.id}`)), [404, 'PortNotFound']);
      });

      it('answers IpAddressGenerationFailure when the subnets run out, and gives SLAAC addresses to existing ports', async () => {
        const n = await api.network();
        await subnet({ network_id: n.id, cidr: '10.70.0.0/29', allocation_pools: [{ start: '10.70.0.2', end: '10.70.0.3' }] });
        const first = await port({ network_id: n.id });
        await port({ network_id: n.id });
        const full = await api.post('/v2.0/ports', { port: { network_id: n.id } });
        assert.deepEqual(error(full), [409, 'IpAddressGenerationFailure']);
        assert.equal(full.body.NeutronError.message, `No more IP addresses available on network ${n.id}.`);
        const auto = await subnet({ network_id: n.id, ip_version: 6, cidr: 'fd00:70::/64', ipv6_address_mode: 'slaac' });
        const after = (await api.get(`/v2.0/ports/${first.id}`)).body.port;
        assert.deepEqual(
          after.fixed_ips.map((f: { subnet_id: string }) => f.subnet_id),
          [first.fixed_ips[0].subnet_id, auto.id],
        );
      });
    });
  });
}
