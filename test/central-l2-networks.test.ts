import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ConfigError, envName, loadConfig } from '../src/config/index.js';
import { centralRoleFor, validateCentralTypes } from '../src/neutron/central/index.js';
import { interfacePortName, RoutingMap, shadowPortName, SHADOW_OWNER } from '../src/tricircle/index.js';
import { engines } from './support/engines.js';
import { ADMIN } from './support/neutron-server.js';
import { assertError } from './support/l3.js';
import { ADMIN_TOKEN, novaClient, ok, USER } from './support/region-cloud.js';
import { expectStatus, startTricircleCloud, type TricircleCloud } from './support/tricircle-cloud.js';

// Networks stretched over three regions, end to end over real HTTP (reference §3.1-3.2): the
// central role's type-driver checks at start-up, placement by hints, one segment (VNI or VLAN id)
// in every region's copy, each region's own gateway on a stretched subnet, provider networks
// validated, updates reaching every copy, and a delete leaving nothing anywhere. SQLite only:
// the routing rows and segment allocations are covered on every engine by their own tests.

type Json = Record<string, any>;

const [sqlite] = await engines();
const REGIONS = ['RegionOne', 'RegionTwo', 'RegionThree'];
const OVERRIDES = { tricircle: { network_vlan_ranges: 'physnet1:100:199' } };

const BIN = fileURLToPath(new URL('../bin/tricircle.js', import.meta.url));
const configWith = (tricircle: Record<string, string>) => loadConfig({ env: {}, overrides: { tricircle } }).config;

describe('the central role refuses type drivers that cannot work together', () => {
  it('reads tenant_network_types as a real list (upstream §11 is not reproduced)', () => {
    assert.deepEqual(configWith({ tenant_network_types: 'vxlan,local' }).tricircle.tenant_network_types, ['vxlan', 'local']);
    assert.doesNotThrow(() => validateCentralTypes(configWith({ tenant_network_types: 'vxlan,local' })));
    assert.doesNotThrow(() => validateCentralTypes(configWith({ tenant_network_types: 'vlan,vxlan', bridge_network_type: 'vlan' })));
  });

  it('needs bridge_network_type among the tenant types, never local, and every tenant type among the type drivers', () => {
    assert.throws(() => validateCentralTypes(configWith({ tenant_network_types: 'vlan,local' })), {
      name: 'ConfigError',
      message: '[tricircle] bridge_network_type = vxlan must be one of [tricircle] tenant_network_types (vlan, local)',
    });
    assert.throws(() => validateCentralTypes(configWith({ type_drivers: 'local,flat,vlan' })), {
      name: 'ConfigError',
      message: '[tricircle] tenant_network_types names vxlan, not in [tricircle] type_drivers (local, flat, vlan)',
    });
    assert.throws(() => configWith({ bridge_network_type: 'local', tenant_network_types: 'vxlan,local' }), ConfigError);
    const l2gw = loadConfig({ env: {}, overrides: { client: { cross_pod_vxlan_mode: 'l2gw' } } }).config;
    assert.throws(() => validateCentralTypes(l2gw), { name: 'ConfigError', message: /cross_pod_vxlan_mode = l2gw is not supported: use p2p .* or noop/ });
  });

  it('`tricircle neutron-server --role central` stops at start-up saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'central-types-'));
    try {
      const env = {
        ...process.env,
        [envName('DEFAULT', 'auth_strategy')]: 'noauth',
        [envName('database', 'connection')]: `sqlite:///${join(dir, 'tricircle.db')}`,
        [envName('tricircle', 'tenant_network_types')]: 'vlan',
      };
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
        execFile(process.execPath, [BIN, 'neutron-server', '--role', 'central'], { env }, (err, _stdout, stderr) =>
          resolve({ code: err ? (err.code as number) : 0, stderr }),
        ),
      );
      assert.equal(code, 1, stderr);
      assert.match(stderr, /configuration error: \[tricircle\] bridge_network_type = vxlan must be one of \[tricircle\] tenant_network_types \(vlan\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('networks stretched over three regions (sqlite)', { skip: sqlite?.skip }, () => {
  let cloud: TricircleCloud;
  const central = () => cloud.centralNeutron;
  /** A region's Neutron read as the admin without a token: its own rows only, nothing is copied by reading. */
  const list = async (region: string, path: string, key: string): Promise<Json[]> => (await expectStatus(cloud.regions[region]!.neutron.get(path), 200))[key];
  const created = async (path: string, key: string, body: Json, headers = USER): Promise<Json> =>
    (await expectStatus(central().post(path, { [key]: body }, headers), 201))[key];
  const noFailedJobs = async () => assert.deepEqual(await cloud.settle(60_000), [], 'no job FAILs');
  // Servers are booted by the member: its view of a network lacks the admin-only provider
  // attributes, which the region reads as the admin to copy central's segment.
  const memberNova = (region: string) => novaClient(cloud.regions[region]!.computes[0]!.url, USER);
  const active = async (region: string, serverId: string) => {
    for (let i = 0; i < 200; i++) {
      const server = (await expectStatus(memberNova(region).show(serverId), 200)).server;
      if (server.status === 'ACTIVE') return server;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`server ${serverId} in ${region} never became ACTIVE`);
  };
  const networkWithSubnet = async (cidr: string, attrs: Json, headers = USER) => {
    const { id } = await created('/v2.0/networks', 'network', attrs, headers);
    const subnet = await created('/v2.0/subnets', 'subnet', { network_id: id, ip_version: 4, cidr });
    // As the admin: the provider attributes are the admin's to see.
    return { network: (await expectStatus(central().get(`/v2.0/networks/${id}`), 200)).network as Json, subnet };
  };
  /** A server on the network in every region; returns their ids by region. */
  const serversEverywhere = async (networkId: string) => {
    const servers: Record<string, string> = {};
    for (const region of REGIONS) {
      const server = (await expectStatus(memberNova(region).boot(`vm-${region}`, [{ uuid: networkId }]), 202)).server;
      servers[region] = (await active(region, server.id)).id;
    }
    return servers;
  };
  const removeServers = async (servers: Record<string, string>) => {
    for (const [region, id] of Object.entries(servers)) await expectStatus(memberNova(region).remove(id), 204);
  };
  const firstIp = (port: Json) => (port.fixed_ips as Array<{ ip_address: string }>)[0]!.ip_address;
  /** The central gateway port a region's copy of the subnet uses. */
  const regionGateway = async (region: string, subnetId: string) => {
    const ports = (await expectStatus(central().get(`/v2.0/ports?name=${interfacePortName(region, subnetId)}`), 200)).ports as Json[];
    assert.equal(ports.length, 1, `one ${interfacePortName(region, subnetId)}`);
    return firstIp(ports[0]!);
  };
  const segmentOf = (n: Json) => [n['provider:network_type'], n['provider:physical_network'] ?? null, n['provider:segmentation_id']];
  /** The network and subnet are in every region with central's ids and segment, each subnet copy with its own gateway, and a routing row per region. */
  const assertStretched = async (network: Json, subnet: Json) => {
    const gateways = new Set<string>();
    for (const region of REGIONS) {
      const [copy] = await list(region, `/v2.0/networks?id=${network.id}`, 'networks');
      assert.ok(copy, `${region} has the network`);
      assert.deepEqual(segmentOf(copy), segmentOf(network), `${region} has central's segment`);
      const [subnetCopy] = await list(region, `/v2.0/subnets?id=${subnet.id}`, 'subnets');
      assert.ok(subnetCopy, `${region} has the subnet`);
      assert.equal(subnetCopy.cidr, subnet.cidr);
      assert.equal(subnetCopy.gateway_ip, await regionGateway(region, subnet.id), `${region}'s subnet copy has its own gateway`);
      gateways.add(subnetCopy.gateway_ip);
    }
    assert.equal(gateways.size, REGIONS.length, 'one gateway per region');
    for (const [resource, type] of [
      [network, 'network'],
      [subnet, 'subnet'],
    ] as const) {
      const rows = (await cloud.routings(resource.id)).filter((r) => r.resource_type === type);
      assert.deepEqual(rows.map((r) => r.pod_id).sort(), REGIONS.map((region) => cloud.podIds[region]).sort(), `a ${type} routing row per region`);
      assert.ok(rows.every((r) => r.bottom_id === resource.id));
    }
  };

  before(async () => {
    cloud = await startTricircleCloud({ engine: sqlite!, regions: REGIONS, overrides: OVERRIDES });
  });
  after(() => cloud?.close());

  it('refuses to start the central role with a bridge type that is not a tenant type', async () => {
    const config = configWith({ tenant_network_types: 'vlan', network_vlan_ranges: 'physnet1:100:199' });
    assert.throws(() => centralRoleFor(config, cloud.db, pino({ level: 'silent' })), { name: 'ConfigError', message: /bridge_network_type = vxlan/ });
  });

  for (const [placement, hints] of [
    ['no hints', []],
    ['AZ-name hints', ['az1', 'az2', 'az3']],
    ['several region hints', REGIONS],
  ] as const) {
    it(`a VxLAN network with ${placement} is stretched: the same id and VNI in each region, a gateway per region`, async () => {
      const n = REGIONS.indexOf('RegionOne') + placement.length;
      const { network, subnet } = await networkWithSubnet(`10.${n}.0.0/24`, { name: placement, availability_zone_hints: hints });
      assert.equal(network['provider:network_type'], 'vxlan');
      const servers = await serversEverywhere(network.id);
      await noFailedJobs();
      await assertStretched(network, subnet);
      await removeServers(servers);
      await expectStatus(central().del(`/v2.0/networks/${network.id}`, USER), 204);
    });
  }

  it('a stretched VLAN provider network carries one VLAN id in every region', async () => {
    const { network, subnet } = await networkWithSubnet(
      '10.50.0.0/24',
      { name: 'vlan', 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', project_id: 'p2' },
      ADMIN,
    );
    assert.ok(network['provider:segmentation_id'] >= 100 && network['provider:segmentation_id'] <= 199, 'a VLAN id from physnet1:100:199');
    const servers = await serversEverywhere(network.id);
    await noFailedJobs();
    await assertStretched(network, subnet);
    await removeServers(servers);
    await expectStatus(central().del(`/v2.0/networks/${network.id}`, USER), 204);
  });

  it('a network hinted to one region is refused in another, which creates nothing', async () => {
    const { network } = await networkWithSubnet('10.60.0.0/24', { name: 'pinned', availability_zone_hints: ['RegionOne'] });
    const reply = await memberNova('RegionTwo').boot('vm-elsewhere', [{ uuid: network.id }]);
    assert.equal(reply.status, 400, reply.text);
    assert.match(reply.body.badRequest.message, new RegExp(`Network ${network.id} could not be found`));
    await ok(cloud.regions.RegionTwo!.neutron.get(`/v2.0/networks/${network.id}`, ADMIN_TOKEN), 404);
    await noFailedJobs();
    assert.deepEqual(await list('RegionTwo', `/v2.0/networks?id=${network.id}`, 'networks'), [], 'no copy in RegionTwo');
    assert.deepEqual(await list('RegionTwo', `/v2.0/ports?network_id=${network.id}`, 'ports'), [], 'no port in RegionTwo');
    assert.deepEqual(await cloud.routings(network.id), [], 'no routing row');
    const servers = {
      RegionOne: (await active('RegionOne', (await expectStatus(memberNova('RegionOne').boot('vm-home', [{ uuid: network.id }]), 202)).server.id)).id,
    };
    await noFailedJobs();
    assert.deepEqual((await list('RegionOne', `/v2.0/networks?id=${network.id}`, 'networks')).length, 1, 'its own region holds it');
    await removeServers(servers);
    await expectStatus(central().del(`/v2.0/networks/${network.id}`, USER), 204);
  });

  it("honours an admin's provider segments and refuses bad ones with Neutron's errors, creating nothing", async () => {
    const provider = (attrs: Json) => central().post('/v2.0/networks', { network: { name: 'provider', ...attrs } });
    const vlan = (segmentationId?: number, physnet = 'physnet1') =>
      provider({ 'provider:network_type': 'vlan', 'provider:physical_network': physnet, 'provider:segmentation_id': segmentationId });
    const explicit = (await expectStatus(vlan(150), 201)).network;
    assert.deepEqual(segmentOf(explicit), ['vlan', 'physnet1', 150]);
    const subnet = await created('/v2.0/subnets', 'subnet', { network_id: explicit.id, ip_version: 4, cidr: '10.61.0.0/24' }, ADMIN);
    // Reading the subnet in a region copies it there, with its network.
    await ok(cloud.regions.RegionThree!.neutron.get(`/v2.0/subnets/${subnet.id}`, ADMIN_TOKEN));
    const [copy] = await list('RegionThree', '/v2.0/networks', 'networks');
    assert.deepEqual(segmentOf(copy!), ['vlan', 'physnet1', 150], "the region's copy has the admin's segment");

    const networks = (await ok(central().get('/v2.0/networks'))).networks.length;
    const allocations = async () => (await cloud.central.db.kysely.selectFrom('segment_allocations').selectAll().execute()).length;
    const allocated = await allocations();
    assertError(await vlan(5000), 400, 'InvalidInput', /segmentation_id out of range/);
    assertError(await vlan(undefined, 'physnet9'), 400, 'InvalidInput', /physical_network 'physnet9' unknown/);
    assertError(await provider({ 'provider:network_type': 'vxlan', 'provider:physical_network': 'physnet1' }), 400, 'InvalidInput');
    assertError(await vlan(150), 409, 'SegmentationIdInUse', /VLAN 150 on physical network physnet1 is in use/);
    assertError(await provider({ 'provider:network_type': 'gre' }), 400, 'InvalidInput');
    assert.equal((await ok(central().get('/v2.0/networks'))).networks.length, networks, 'no network created');
    assert.equal(await allocations(), allocated, 'no segment taken');
    for (const region of REGIONS) assert.equal((await list(region, '/v2.0/networks', 'networks')).length, region === 'RegionThree' ? 1 : 0);
    await expectStatus(central().del(`/v2.0/networks/${explicit.id}`), 204);
    assert.deepEqual(await list('RegionThree', '/v2.0/networks', 'networks'), [], 'the copy went with it');
  });

  it("exhausting physnet1's VLAN range gives Neutron's NoNetworkAvailable, and a freed VLAN is allocatable again", async () => {
    const vlanNetwork = () => central().post('/v2.0/networks', { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1' } });
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push((await expectStatus(vlanNetwork(), 201)).network.id);
    assertError(await vlanNetwork(), 503, 'NoNetworkAvailable');
    await expectStatus(central().del(`/v2.0/networks/${ids.pop()!}`), 204);
    ids.push((await expectStatus(vlanNetwork(), 201)).network.id);
    for (const id of ids) await expectStatus(central().del(`/v2.0/networks/${id}`), 204);
  });

  describe('a stretched network with a non-local router, updated, then deleted', () => {
    const t: Json = {};
    const deviceIps = async (region: string, deviceId: string) => (await list(region, `/v2.0/ports?device_id=${deviceId}`, 'ports')).map(firstIp);

    before(async () => {
      Object.assign(t, await networkWithSubnet('10.70.0.0/24', { name: 'stretched' }));
      t.servers = await serversEverywhere(t.network.id);
      t.router = await created('/v2.0/routers', 'router', { name: 'r' });
      await expectStatus(central().put(`/v2.0/routers/${t.router.id}/add_router_interface`, { subnet_id: t.subnet.id }, USER), 200);
      await noFailedJobs();
    });

    it("serves each region through that region's gateway", async () => {
      await assertStretched(t.network, t.subnet);
      const rows = (await cloud.routings(t.router.id)).filter((r) => r.resource_type === 'router');
      assert.deepEqual(rows.map((r) => r.pod_id).sort(), REGIONS.map((region) => cloud.podIds[region]).sort(), 'a router copy per region');
      for (const region of REGIONS) {
        const [copy] = await list(region, `/v2.0/routers?name=${t.router.id}`, 'routers');
        assert.ok(copy, `${region} has the router`);
        assert.ok((await deviceIps(region, copy.id)).includes(await regionGateway(region, t.subnet.id)), `${region}'s router copy is at its own gateway`);
      }
    });

    it('takes network and subnet updates to every copy', async () => {
      await expectStatus(central().put(`/v2.0/networks/${t.network.id}`, { network: { description: 'everywhere' } }, USER), 200);
      await expectStatus(central().put(`/v2.0/subnets/${t.subnet.id}`, { subnet: { description: 'stretched', dns_nameservers: ['9.9.9.9'] } }, USER), 200);
      await noFailedJobs();
      for (const region of REGIONS) {
        const [network] = await list(region, `/v2.0/networks?id=${t.network.id}`, 'networks');
        assert.equal(network!.description, 'everywhere', region);
        const [subnet] = await list(region, `/v2.0/subnets?id=${t.subnet.id}`, 'subnets');
        assert.deepEqual([subnet!.description, subnet!.dns_nameservers], ['stretched', ['9.9.9.9']], region);
      }
    });

    it('a delete leaves nothing anywhere: copies, shadow ports and every routing row', async () => {
      await removeServers(t.servers);
      await expectStatus(central().put(`/v2.0/routers/${t.router.id}/remove_router_interface`, { subnet_id: t.subnet.id }, USER), 200);
      await expectStatus(central().del(`/v2.0/routers/${t.router.id}`, USER), 204);
      await noFailedJobs();
      // A shadow port whose port central no longer has (its port_delete job not run), with its shadow rows.
      const shadowId = randomUUID();
      const shadow = {
        name: shadowPortName(shadowId),
        network_id: t.network.id,
        device_owner: SHADOW_OWNER,
        fixed_ips: [{ ip_address: '10.70.0.200' }],
      };
      await ok(cloud.regions.RegionTwo!.neutron.post('/v2.0/ports', { port: shadow }, ADMIN_TOKEN), 201);
      assert.equal((await list('RegionTwo', `/v2.0/ports?id=${shadowId}`, 'ports')).length, 1, 'the shadow port is in RegionTwo');
      const routings = new RoutingMap(cloud.db);
      const podId = cloud.podIds.RegionTwo!;
      for (const [topId, resourceType] of [
        [shadowId, 'shadow_port'],
        [t.network.id, 'shadow_network'],
        [t.subnet.id, 'shadow_subnet'],
      ] as const) {
        await routings.remove({ topId, podId });
        await routings.record({ topId, podId, resourceType, bottomId: topId, projectId: 'p2' });
      }

      await expectStatus(central().del(`/v2.0/networks/${t.network.id}`, USER), 204);
      await noFailedJobs();
      for (const region of REGIONS) {
        assert.deepEqual(await list(region, `/v2.0/networks?id=${t.network.id}`, 'networks'), [], `no network copy in ${region}`);
        assert.deepEqual(await list(region, `/v2.0/subnets?id=${t.subnet.id}`, 'subnets'), [], `no subnet copy in ${region}`);
        assert.deepEqual(await list(region, `/v2.0/ports?network_id=${t.network.id}`, 'ports'), [], `no port in ${region}`);
      }
      const left = (await cloud.routings()).filter((r) => [t.network.id, t.subnet.id, shadowId].some((id) => r.top_id.includes(id)));
      assert.deepEqual(left, [], 'no routing row of the network, its subnet, their reserved ports or the shadow port');
      await ok(central().get(`/v2.0/ports?network_id=${t.network.id}`)).then((body) => assert.deepEqual(body.ports, []));
    });
  });
});
