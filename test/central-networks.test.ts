import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines } from './support/engines.js';
import { ADMIN, MEMBER } from './support/neutron-server.js';
import { ADMIN_TOKEN, ok, USER } from './support/region-cloud.js';
import { startTricircleCloud, type TricircleCloud } from './support/tricircle-cloud.js';

// The central role's networks and subnets end to end over real HTTP: availability-zone hints
// checked against the pods, external networks and their subnets copied at once into their
// region, updates reaching every region copy through update_network and subnet_update, deletes
// removing every copy, reserved port and routing row, and bad input changing nothing. SQLite
// only: the routing rows, jobs and deleting guard are single statements covered on every engine
// by their own tests; this file is about what the central role does with them.

type Json = Record<string, any>;

const [sqlite] = await engines();

/** A NeutronError reply: its status and type. */
async function refused(reply: Promise<{ status: number; body: any; text: string }>, status: number, type: string): Promise<void> {
  const r = await reply;
  assert.equal(r.status, status, r.text);
  assert.equal(r.body.NeutronError.type, type, r.text);
}

describe('central networks and subnets (sqlite)', () => {
  let cloud: TricircleCloud;
  const central = () => cloud.centralNeutron;
  /** A region's Neutron read as the admin without a token: its own rows only, nothing is copied by reading. */
  const local = (region: string) => cloud.regions[region]!.neutron;
  const subnetOn = async (networkId: string, cidr: string, headers = USER, extra: Json = {}) =>
    (await ok(central().post('/v2.0/subnets', { subnet: { network_id: networkId, ip_version: 4, cidr, ...extra } }, headers), 201)).subnet as Json;
  const portsNamed = async (name: string) => (await ok(central().get(`/v2.0/ports?name=${name}`))).ports as Json[];

  before(async () => {
    cloud = await startTricircleCloud({ engine: sqlite! });
  });
  after(() => cloud.close());

  it('checks hints against the pods: a region or an AZ name, shown as region names', async () => {
    const before = (await ok(central().get('/v2.0/networks'))).networks.length;
    await refused(central().post('/v2.0/networks', { network: { name: 'x', availability_zone_hints: ['az9'] } }, USER), 404, 'AvailabilityZoneNotFound');
    await refused(
      central().post('/v2.0/networks', { network: { name: 'x', availability_zone_hints: ['RegionTwo', 'Nowhere'] } }, USER),
      404,
      'AvailabilityZoneNotFound',
    );
    assert.equal((await ok(central().get('/v2.0/networks'))).networks.length, before, 'nothing created by a bad hint');

    const byAz = await central().network({ name: 'in-az1', availability_zone_hints: ['az1'] }, USER);
    const byRegion = await central().network({ name: 'in-region-two', availability_zone_hints: ['RegionTwo'] }, USER);
    assert.deepEqual(byAz.availability_zone_hints, ['RegionOne'], 'the AZ is shown as its region');
    for (const headers of [ADMIN, USER]) {
      assert.deepEqual((await ok(central().get(`/v2.0/networks/${byAz.id}`, headers))).network.availability_zone_hints, ['RegionOne']);
      const listed = (await ok(central().get(`/v2.0/networks?id=${byAz.id}&id=${byRegion.id}`, headers))).networks as Json[];
      assert.deepEqual(listed.map((n) => n.availability_zone_hints).sort(), [['RegionOne'], ['RegionTwo']]);
    }
    // The AZ's region may hold a member's network hinted with the AZ; another region may not.
    const subnet = await subnetOn(byAz.id, '10.72.1.0/24');
    await ok(local('RegionOne').get(`/v2.0/subnets/${subnet.id}`, USER));
    await ok(local('RegionTwo').get(`/v2.0/networks/${byAz.id}`, USER), 404);

    for (const id of [byAz.id, byRegion.id]) await ok(central().del(`/v2.0/networks/${id}`, USER), 204);
    assert.deepEqual((await ok(local('RegionOne').get('/v2.0/networks'))).networks, [], 'the copy went with the network');
  });

  it('copies an external network and its subnet into the hinted region at once, with the same ids and gateway', async () => {
    const ext = await central().network({ name: 'ext', 'router:external': true, availability_zone_hints: ['az2'] });
    const copy = (await ok(local('RegionTwo').get(`/v2.0/networks/${ext.id}`))).network;
    assert.equal(copy['router:external'], true);
    assert.deepEqual(
      [copy['provider:network_type'], copy['provider:segmentation_id']],
      [ext['provider:network_type'], ext['provider:segmentation_id']],
      "the region has central's segment",
    );
    await ok(local('RegionOne').get(`/v2.0/networks/${ext.id}`), 404);
    const subnet = await subnetOn(ext.id, '163.3.0.0/24', ADMIN, { enable_dhcp: false });
    const subnetCopy = (await ok(local('RegionTwo').get(`/v2.0/subnets/${subnet.id}`))).subnet;
    assert.deepEqual([subnetCopy.cidr, subnetCopy.gateway_ip, subnetCopy.allocation_pools], [subnet.cidr, '163.3.0.1', subnet.allocation_pools]);
    const rows = async (id: string) => (await cloud.routings(id)).map((r) => [r.pod_id, r.resource_type, r.bottom_id]);
    assert.deepEqual(await rows(ext.id), [[cloud.podIds.RegionTwo, 'network', ext.id]]);
    assert.deepEqual(await rows(subnet.id), [[cloud.podIds.RegionTwo, 'subnet', subnet.id]]);
    assert.deepEqual(await portsNamed(`snat_port_${subnet.id}`), [], 'external subnets get no reserved ports');

    // Without hints: the default region for external networks (RegionOne).
    const pinned = await central().network({ name: 'ext-default', 'router:external': true });
    assert.deepEqual(pinned.availability_zone_hints, ['RegionOne']);
    await ok(local('RegionOne').get(`/v2.0/networks/${pinned.id}`));

    await ok(central().del(`/v2.0/networks/${ext.id}`), 204);
    await ok(central().del(`/v2.0/networks/${pinned.id}`), 204);
    await ok(local('RegionTwo').get(`/v2.0/networks/${ext.id}`), 404);
    await ok(local('RegionTwo').get(`/v2.0/subnets/${subnet.id}`), 404);
    await ok(local('RegionOne').get(`/v2.0/networks/${pinned.id}`), 404);
    assert.deepEqual([...(await rows(ext.id)), ...(await rows(subnet.id)), ...(await rows(pinned.id))], []);
  });

  it('refuses an external network in an unknown region or a region that cannot copy it, leaving nothing behind', async () => {
    const before = (await ok(central().get('/v2.0/networks'))).networks.length;
    await refused(
      central().post('/v2.0/networks', { network: { name: 'e', 'router:external': true, availability_zone_hints: ['az7'] } }),
      404,
      'AvailabilityZoneNotFound',
    );
    await cloud.stopNeutron('RegionTwo');
    try {
      await refused(
        central().post('/v2.0/networks', { network: { name: 'e', 'router:external': true, availability_zone_hints: ['RegionTwo'] } }),
        502,
        'BottomPodOperationFailure',
      );
    } finally {
      await cloud.restartNeutron('RegionTwo');
    }
    assert.equal((await ok(central().get('/v2.0/networks'))).networks.length, before, 'the central network went again');
    assert.deepEqual(await ok(local('RegionTwo').get('/v2.0/networks')).then((b) => b.networks), []);

    // A subnet the region cannot copy goes again too.
    const ext = await central().network({ name: 'e', 'router:external': true, availability_zone_hints: ['RegionTwo'] });
    await cloud.stopNeutron('RegionTwo');
    try {
      const body = { subnet: { network_id: ext.id, ip_version: 4, cidr: '163.4.0.0/24', enable_dhcp: false } };
      await refused(central().post('/v2.0/subnets', body), 502, 'BottomPodOperationFailure');
    } finally {
      await cloud.restartNeutron('RegionTwo');
    }
    assert.deepEqual((await ok(central().get(`/v2.0/networks/${ext.id}`))).network.subnets, []);
    assert.deepEqual((await ok(local('RegionTwo').get(`/v2.0/subnets?network_id=${ext.id}`))).subnets, []);
    await ok(central().del(`/v2.0/networks/${ext.id}`), 204);
  });

  it('refuses an external flat network whose physical network the region already uses, with FlatNetworkInUse and nothing left', async () => {
    const flat = { 'provider:network_type': 'flat', 'provider:physical_network': 'extern' };
    // The region's own network on that physical network, made there directly.
    const taken = (await ok(local('RegionTwo').post('/v2.0/networks', { network: { name: 'region-own', ...flat } }), 201)).network;
    const before = (await ok(central().get('/v2.0/networks'))).networks.length;
    await refused(
      central().post('/v2.0/networks', { network: { name: 'ext-flat', 'router:external': true, availability_zone_hints: ['RegionTwo'], ...flat } }),
      409,
      'FlatNetworkInUse',
    );
    assert.equal((await ok(central().get('/v2.0/networks'))).networks.length, before);
    assert.deepEqual(
      ((await ok(local('RegionTwo').get('/v2.0/networks'))).networks as Json[]).map((n) => n.id),
      [taken.id],
    );
    await ok(local('RegionTwo').del(`/v2.0/networks/${taken.id}`), 204);
  });

  it('hides a network or subnet being deleted from every reader, so no region copies it back, and refuses a second delete', async () => {
    const network = await central().network({ name: 'guarded' }, USER);
    const subnet = await subnetOn(network.id, '10.73.1.0/24');
    // The mark a delete holds while it removes the region copies (left behind here as by a crashed deleter).
    const mark = (id: string, type: string) =>
      cloud.db.kysely
        .insertInto('deleting_resources')
        .values({ resource_id: id, resource_type: type, deleted_at: new Date().toISOString().slice(0, 19).replace('T', ' ') })
        .execute();
    await mark(network.id, 'network');
    await mark(subnet.id, 'subnet');
    await refused(central().get(`/v2.0/networks/${network.id}`, USER), 404, 'NetworkNotFound');
    await refused(central().get(`/v2.0/subnets/${subnet.id}`, USER), 404, 'SubnetNotFound');
    await refused(local('RegionOne').get(`/v2.0/networks/${network.id}`, USER), 404, 'NetworkNotFound');
    await refused(local('RegionOne').get(`/v2.0/subnets/${subnet.id}`, USER), 404, 'SubnetNotFound');
    await refused(central().del(`/v2.0/networks/${network.id}`, USER), 409, 'ResourceIsInDeleting');
    assert.deepEqual((await ok(local('RegionOne').get('/v2.0/networks'))).networks, [], 'nothing copied');

    await cloud.db.kysely.deleteFrom('deleting_resources').execute();
    await ok(central().get(`/v2.0/networks/${network.id}`, USER));
    await ok(central().del(`/v2.0/networks/${network.id}`, USER), 204);
    assert.deepEqual(await cloud.db.kysely.selectFrom('deleting_resources').selectAll().execute(), [], 'a delete removes its mark');
  });

  describe('a network stretched over both regions', () => {
    let network: Json;
    let subnet: Json;
    const servers: Record<string, string> = {};

    before(async () => {
      network = await central().network({ name: 'stretched' }, USER);
      subnet = await subnetOn(network.id, '10.70.1.0/24');
      for (const region of ['RegionOne', 'RegionTwo']) {
        servers[region] = (await ok(cloud.regions[region]!.nova.boot(`vm-${region}`, [{ uuid: network.id }]), 202)).server.id;
      }
      assert.deepEqual(await cloud.settle(), []);
    });

    it('pre-creates the reserved central ports of a subnet', async () => {
      const [snat] = await portsNamed(`snat_port_${subnet.id}`);
      const [dhcp] = await portsNamed(`dhcp_port_${subnet.id}`);
      assert.deepEqual([snat?.device_owner, dhcp?.device_owner, dhcp?.device_id], ['network:router_centralized_snat', 'network:dhcp', 'reserved_dhcp_port']);
      for (const name of [`snat_port_${subnet.id}`, `dhcp_port_${subnet.id}`]) {
        assert.deepEqual(
          (await cloud.routings(name)).map((r) => r.pod_id),
          [cloud.podIds.CentralRegion],
          `${name} is recorded under the central pod`,
        );
      }
      // Each region's DHCP port is the copy of central's.
      for (const region of ['RegionOne', 'RegionTwo']) {
        const ports = (await ok(local(region).get(`/v2.0/ports?network_id=${network.id}&device_owner=network:dhcp`))).ports as Json[];
        assert.deepEqual(
          ports.map((p) => p.id),
          [dhcp!.id],
        );
      }
    });

    it('refuses provider and router:external updates and changes nothing', async () => {
      const before = (await ok(central().get(`/v2.0/networks/${network.id}`))).network;
      await refused(central().put(`/v2.0/networks/${network.id}`, { network: { 'provider:segmentation_id': 42 } }), 400, 'HTTPBadRequest');
      await refused(central().put(`/v2.0/networks/${network.id}`, { network: { 'router:external': true, description: 'no' } }), 400, 'InvalidInput');
      const now = (await ok(central().get(`/v2.0/networks/${network.id}`))).network;
      assert.deepEqual([now['router:external'], now.description, now.revision_number], [false, '', before.revision_number]);
    });

    it('carries a network update to every region copy (not the name)', async () => {
      await ok(central().put(`/v2.0/networks/${network.id}`, { network: { name: 'renamed', description: 'stretched over two regions' } }, USER));
      assert.deepEqual(await cloud.settle(), []);
      for (const region of ['RegionOne', 'RegionTwo']) {
        const copy = (await ok(local(region).get(`/v2.0/networks/${network.id}`))).network;
        assert.deepEqual([copy.name, copy.description], ['stretched', 'stretched over two regions'], region);
      }
    });

    it("carries a subnet update to every region copy, pools around each region's own gateway (not the name or gateway)", async () => {
      const gateways: Record<string, string> = {};
      for (const region of ['RegionOne', 'RegionTwo']) gateways[region] = (await ok(local(region).get(`/v2.0/subnets/${subnet.id}`))).subnet.gateway_ip;
      assert.notEqual(gateways.RegionOne, gateways.RegionTwo, 'each region has its own gateway');
      const changes = {
        name: 'renamed',
        description: 'app tier',
        dns_nameservers: ['10.70.0.53'],
        host_routes: [{ destination: '192.168.0.0/16', nexthop: '10.70.1.254' }],
        allocation_pools: [{ start: '10.70.1.2', end: '10.70.1.200' }],
      };
      await ok(central().put(`/v2.0/subnets/${subnet.id}`, { subnet: changes }, USER));
      assert.deepEqual(await cloud.settle(), []);
      for (const region of ['RegionOne', 'RegionTwo']) {
        const copy = (await ok(local(region).get(`/v2.0/subnets/${subnet.id}`))).subnet;
        assert.deepEqual(
          [copy.name, copy.gateway_ip, copy.description, copy.dns_nameservers, copy.host_routes],
          [subnet.name, gateways[region], 'app tier', changes.dns_nameservers, changes.host_routes],
          region,
        );
        // The region's gateway leaves the pools, central's (10.70.1.1) comes back in, merged with its neighbour.
        const own = Number(gateways[region]!.split('.')[3]);
        assert.deepEqual(
          copy.allocation_pools,
          [
            { start: '10.70.1.1', end: `10.70.1.${own - 1}` },
            { start: `10.70.1.${own + 1}`, end: '10.70.1.200' },
          ],
          region,
        );
      }
    });

    it('refuses to delete a network or subnet in use, changing nothing anywhere', async () => {
      await refused(central().del(`/v2.0/networks/${network.id}`, USER), 409, 'NetworkInUse');
      await refused(central().del(`/v2.0/subnets/${subnet.id}`, USER), 409, 'SubnetInUse');
      for (const region of ['RegionOne', 'RegionTwo']) {
        await ok(local(region).get(`/v2.0/networks/${network.id}`));
        await ok(local(region).get(`/v2.0/subnets/${subnet.id}`));
      }
      assert.deepEqual((await cloud.routings(network.id)).map((r) => r.pod_id).sort(), [cloud.podIds.RegionOne, cloud.podIds.RegionTwo].sort());
      await ok(central().get(`/v2.0/networks/${network.id}`));
    });

    it('deletes the subnet and then the network in every region, with reserved ports and routing rows; a later read copies nothing back', async () => {
      for (const region of ['RegionOne', 'RegionTwo']) await ok(cloud.regions[region]!.nova.remove(servers[region]!), 204);
      assert.deepEqual(await cloud.settle(), []);
      assert.deepEqual(
        ((await ok(central().get(`/v2.0/ports?network_id=${network.id}`))).ports as Json[]).map((p) => p.name).sort(),
        [`dhcp_port_${subnet.id}`, `interface_RegionOne_${subnet.id}`, `interface_RegionTwo_${subnet.id}`, `snat_port_${subnet.id}`],
        'only the reserved ports are left',
      );

      await ok(central().del(`/v2.0/subnets/${subnet.id}`, USER), 204);
      for (const region of ['RegionOne', 'RegionTwo']) {
        await ok(local(region).get(`/v2.0/subnets/${subnet.id}`), 404);
        // With a token the region asks central, which no longer has it.
        await ok(local(region).get(`/v2.0/subnets/${subnet.id}`, ADMIN_TOKEN), 404);
        await ok(local(region).get(`/v2.0/networks/${network.id}`, ADMIN_TOKEN));
        assert.deepEqual((await ok(local(region).get(`/v2.0/subnets?network_id=${network.id}`))).subnets, [], `${region} copied nothing back`);
      }
      assert.deepEqual(await ok(central().get(`/v2.0/ports?network_id=${network.id}`)).then((b) => b.ports), []);
      assert.deepEqual(await cloud.routings(subnet.id), []);

      await ok(central().del(`/v2.0/networks/${network.id}`, USER), 204);
      for (const region of ['RegionOne', 'RegionTwo']) {
        await ok(local(region).get(`/v2.0/networks/${network.id}`, ADMIN_TOKEN), 404);
        assert.deepEqual((await ok(local(region).get('/v2.0/networks'))).networks, [], `${region} has no network left`);
      }
      assert.deepEqual(await cloud.routings(network.id), []);
      assert.deepEqual(await cloud.settle(), []);
    });
  });

  it('updates and deletes the copy a region made on a read, before any binding gave it a routing row; DHCP turned on and off', async () => {
    const network = await central().network({ name: 'read-only' }, USER);
    const subnet = await subnetOn(network.id, '10.71.1.0/24', USER, { enable_dhcp: false });
    // A member's GET in RegionTwo copies the network and subnet there (and makes the region's gateway port).
    await ok(local('RegionTwo').get(`/v2.0/networks/${network.id}`, USER));
    await ok(local('RegionTwo').get(`/v2.0/subnets/${subnet.id}`));
    await ok(central().put(`/v2.0/subnets/${subnet.id}`, { subnet: { description: 'seen' } }, USER));
    assert.deepEqual(await cloud.settle(), []);
    assert.equal((await ok(local('RegionTwo').get(`/v2.0/subnets/${subnet.id}`))).subnet.description, 'seen');

    // DHCP turned on: one central DHCP port, which the region copies; turned off, the port stays.
    assert.deepEqual(await portsNamed(`dhcp_port_${subnet.id}`), []);
    await ok(central().put(`/v2.0/subnets/${subnet.id}`, { subnet: { enable_dhcp: true } }, USER));
    assert.deepEqual(await cloud.settle(), []);
    const [dhcp, ...more] = await portsNamed(`dhcp_port_${subnet.id}`);
    assert.deepEqual(more, [], 'one DHCP port');
    assert.equal((await ok(local('RegionTwo').get(`/v2.0/subnets/${subnet.id}`))).subnet.enable_dhcp, true);
    const regionDhcp = (await ok(local('RegionTwo').get(`/v2.0/ports?network_id=${network.id}&device_owner=network:dhcp`))).ports as Json[];
    assert.deepEqual(
      regionDhcp.map((p) => [p.id, p.fixed_ips]),
      [[dhcp!.id, dhcp!.fixed_ips]],
    );
    await ok(central().put(`/v2.0/subnets/${subnet.id}`, { subnet: { enable_dhcp: false } }, USER));
    assert.deepEqual(await cloud.settle(), []);
    assert.equal((await ok(local('RegionTwo').get(`/v2.0/subnets/${subnet.id}`))).subnet.enable_dhcp, false);
    assert.equal((await portsNamed(`dhcp_port_${subnet.id}`)).length, 1, 'the DHCP port stays');

    // What the region holds on the copy that central does not know (a bottom router's interface and a port a
    // job has not removed yet) would refuse the region's delete: it is cleared first.
    const router = (await ok(local('RegionTwo').post('/v2.0/routers', { router: { name: 'bottom' } }), 201)).router;
    await ok(local('RegionTwo').put(`/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id }));
    await ok(local('RegionTwo').post('/v2.0/ports', { port: { network_id: network.id, name: 'stray' } }), 201);

    await ok(central().del(`/v2.0/networks/${network.id}`, MEMBER), 204);
    assert.deepEqual((await ok(local('RegionTwo').get(`/v2.0/ports?device_id=${router.id}`))).ports, [], 'the interface went');
    await ok(local('RegionTwo').del(`/v2.0/routers/${router.id}`), 204);
    await ok(local('RegionTwo').get(`/v2.0/networks/${network.id}`), 404);
    await ok(local('RegionTwo').get(`/v2.0/subnets/${subnet.id}`), 404);
    assert.deepEqual(await portsNamed(`interface_RegionTwo_${subnet.id}`), []);
  });
});
