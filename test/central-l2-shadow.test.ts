import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines } from './support/engines.js';
import { ok, USER } from './support/region-cloud.js';
import { startTricircleCloud, type TricircleCloud, type TricircleCloudOptions } from './support/tricircle-cloud.js';

// Cross-region VxLAN L2 (reference §3.5 path 1, §4.4, §5.4 shadow_port_setup, §9.7, §9.8) end to
// end over real HTTP with three regions: binding reports cast shadow_port_setup, which gives
// every other region a shadow port of each VM port (same id, IP and MAC, bound to the remote
// host, ACTIVE) and that host's agent; the shadows follow server deletes and re-homed ports;
// noop mode makes none; batches of max_shadow_port_bulk_size still make them all. SQLite only.

type Json = Record<string, any>;

const [sqlite] = await engines();
const REGIONS = ['RegionOne', 'RegionTwo', 'RegionThree'];
const TUNNEL_IPS: Record<string, string> = { RegionOne: '192.0.2.1', RegionTwo: '192.0.2.2', RegionThree: '192.0.2.3' };
const hostOf = (region: string) => `${region}-compute1`;

/** A cloud of `regions` whose computes have their own tunnel IPs, with a VxLAN network (the default tenant type) and a subnet. */
async function l2Cloud(regions: string[], overrides: TricircleCloudOptions['overrides'] = {}) {
  const cloud = await startTricircleCloud({
    engine: sqlite!,
    regions,
    overrides,
    regionOverrides: Object.fromEntries(regions.map((region) => [region, { compute: { tunnel_ip: TUNNEL_IPS[region]! } }])),
  });
  const network = await cloud.centralNeutron.network({ name: 'stretched' }, USER);
  await ok(cloud.centralNeutron.post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '10.70.1.0/24' } }, USER), 201);
  return { cloud, network };
}

function helpers(cloud: () => TricircleCloud, networkId: () => string) {
  const nova = (region: string) => cloud().regions[region]!.nova;
  const regionPorts = async (region: string, query = ''): Promise<Json[]> =>
    (await ok(cloud().regions[region]!.neutron.get(`/v2.0/ports?network_id=${networkId()}${query}`))).ports;
  return {
    regionPorts,
    shadows: (region: string) => regionPorts(region, '&device_owner=compute:shadow'),
    /** A port created centrally, as the member. */
    port: async (name: string): Promise<Json> =>
      (await ok(cloud().centralNeutron.post('/v2.0/ports', { port: { network_id: networkId(), name } }, USER), 201)).port,
    /** Boots a server in a region as the member (on a port, or on a network as Nova takes it) and waits for it to be ACTIVE. */
    boot: async (region: string, name: string, port: string | Json[]): Promise<string> => {
      const server = (await ok(nova(region).boot(name, typeof port === 'string' ? [{ port }] : port), 202)).server;
      for (let i = 0; i < 400; i++) {
        if ((await ok(nova(region).show(server.id))).server.status === 'ACTIVE') return String(server.id);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return assert.fail(`server ${name} in ${region} never became ACTIVE`);
    },
    removeServer: async (region: string, serverId: string) => ok(nova(region).remove(serverId), 204),
    settled: async () => assert.deepEqual(await cloud().settle(60_000), [], 'no job FAILs'),
  };
}

/** The shadow of `port` in a list of a region's ports: same id, name, IP and MAC, bound to the VM's host, ACTIVE. */
function assertShadow(ports: Json[], port: Json, vmRegion: string, where: string) {
  const shadow = ports.find((p) => p.id === port.id);
  assert.ok(shadow, `${where} has a shadow of ${String(port.name)}`);
  assert.equal(shadow.name, `shadow_port_${String(port.id)}`);
  assert.equal(shadow.device_owner, 'compute:shadow');
  assert.deepEqual(
    (shadow.fixed_ips as Json[]).map((f) => f.ip_address),
    (port.fixed_ips as Json[]).map((f) => f.ip_address),
  );
  assert.equal(shadow.mac_address, port.mac_address);
  assert.equal(shadow['binding:host_id'], hostOf(vmRegion), `${where}'s shadow of ${String(port.name)} is bound to ${vmRegion}'s host`);
  assert.equal(shadow.status, 'ACTIVE');
}

describe('cross-region VxLAN shadow ports, three regions (sqlite)', () => {
  let cloud: TricircleCloud;
  let network: Json;
  const h = helpers(
    () => cloud,
    () => network.id,
  );
  const ports: Json[] = [];
  const servers: Record<string, string> = {};

  before(async () => {
    ({ cloud, network } = await l2Cloud(REGIONS));
    for (const name of ['port1', 'port2', 'port3']) ports.push(await h.port(name));
  });
  after(() => cloud.close());

  it('servers in RegionOne and RegionTwo: each region gets a shadow of the other, with its host agent and tunnel IP', async () => {
    servers.vm1 = await h.boot('RegionOne', 'vm1', ports[0]!.id);
    servers.vm2 = await h.boot('RegionTwo', 'vm2', ports[1]!.id);
    await h.settled();
    const [one, two] = [await h.shadows('RegionOne'), await h.shadows('RegionTwo')];
    assert.deepEqual(
      two.map((p) => p.id),
      [ports[0]!.id],
    );
    assertShadow(two, ports[0]!, 'RegionOne', 'RegionTwo');
    assert.deepEqual(
      one.map((p) => p.id),
      [ports[1]!.id],
    );
    assertShadow(one, ports[1]!, 'RegionTwo', 'RegionOne');
    assert.deepEqual(await h.regionPorts('RegionThree'), [], 'RegionThree has nothing of the network yet');
    const agents = (await ok(cloud.regions.RegionTwo!.neutron.get(`/v2.0/agents?host=${hostOf('RegionOne')}`))).agents as Json[];
    assert.equal(agents.length, 1, "RegionTwo knows RegionOne's host agent");
    assert.equal(agents[0]!.configurations.tunneling_ip, TUNNEL_IPS.RegionOne);
    const shadowRows = (await cloud.routings(ports[0]!.id)).filter((r) => r.resource_type === 'shadow_port');
    assert.deepEqual(
      shadowRows.map((r) => [r.pod_id, r.bottom_id]),
      [[cloud.podIds.RegionTwo, ports[0]!.id]],
    );
  });

  it('a server in RegionThree: it gets both shadows, both others get its shadow, one VNI everywhere, every agent in central', async () => {
    servers.vm3 = await h.boot('RegionThree', 'vm3', ports[2]!.id);
    await h.settled();
    const vmRegion = ['RegionOne', 'RegionTwo', 'RegionThree'];
    for (const [i, region] of REGIONS.entries()) {
      const shadows = await h.shadows(region);
      const expected = ports.filter((_, j) => j !== i);
      assert.deepEqual(shadows.map((p) => p.id).sort(), expected.map((p) => p.id).sort(), `${region} shadows the other regions' ports`);
      for (const port of expected) assertShadow(shadows, port, vmRegion[ports.indexOf(port)]!, region);
      for (const other of REGIONS.filter((r) => r !== region)) {
        const [agent] = (await ok(cloud.regions[region]!.neutron.get(`/v2.0/agents?host=${hostOf(other)}`))).agents as Json[];
        assert.equal(agent?.configurations.tunneling_ip, TUNNEL_IPS[other], `${region} knows ${other}'s tunnel IP`);
      }
    }
    const vni = (await ok(cloud.centralNeutron.get(`/v2.0/networks/${network.id}`))).network['provider:segmentation_id'];
    assert.equal(typeof vni, 'number');
    for (const region of REGIONS) {
      const copy = (await ok(cloud.regions[region]!.neutron.get(`/v2.0/networks/${network.id}`))).network;
      assert.deepEqual([copy['provider:network_type'], copy['provider:segmentation_id']], ['vxlan', vni], `${region}'s copy has central's segment`);
    }
    const agents = await cloud.db.kysely.selectFrom('shadow_agents').select(['host', 'tunnel_ip']).orderBy('host').execute();
    assert.deepEqual(
      agents,
      REGIONS.map((r) => ({ host: hostOf(r), tunnel_ip: TUNNEL_IPS[r] })).sort((a, b) => a.host.localeCompare(b.host)),
    );
  });

  it('§9.8: a server re-created on the same port in another region swaps real and shadow roles, with no duplicate', async () => {
    const port2 = ports[1]!;
    await h.removeServer('RegionTwo', servers.vm2!);
    // The unbinding report removes the port's shadows at once, so that another region can take the port.
    for (const region of ['RegionOne', 'RegionThree'])
      assert.equal(
        (await h.shadows(region)).some((p) => p.id === port2.id),
        false,
        region,
      );
    servers.vm4 = await h.boot('RegionOne', 'vm4', port2.id);
    await h.settled();
    const roles = async () => {
      const result: Record<string, string[]> = {};
      for (const region of REGIONS) {
        const copies = (await h.regionPorts(region)).filter((p) => p.mac_address === port2.mac_address);
        result[region] = copies.map((p) => `${String(p.id)} ${String(p.device_owner)} ${String(p['binding:host_id'])}`);
      }
      return result;
    };
    const as = (owner: string, region: string) => [`${String(port2.id)} ${owner} ${hostOf(region)}`];
    assert.deepEqual(await roles(), {
      RegionOne: as('compute:nova', 'RegionOne'),
      RegionTwo: as('compute:shadow', 'RegionOne'),
      RegionThree: as('compute:shadow', 'RegionOne'),
    });
    for (const region of ['RegionTwo', 'RegionThree']) assertShadow(await h.shadows(region), port2, 'RegionOne', region);

    // And back: the old region takes the port again (§9.7's round trip).
    await h.removeServer('RegionOne', servers.vm4!);
    servers.vm5 = await h.boot('RegionTwo', 'vm5', port2.id);
    await h.settled();
    assert.deepEqual(await roles(), {
      RegionOne: as('compute:shadow', 'RegionTwo'),
      RegionTwo: as('compute:nova', 'RegionTwo'),
      RegionThree: as('compute:shadow', 'RegionTwo'),
    });
    assert.deepEqual(
      (await cloud.routings(port2.id)).map((r) => [r.pod_id, r.resource_type]).sort(),
      [
        [cloud.podIds.RegionOne, 'shadow_port'],
        [cloud.podIds.RegionThree, 'shadow_port'],
        [cloud.podIds.RegionTwo, 'port'],
      ].sort(),
    );
  });

  it("deleting vm1 and then its port removes the port's shadows from every region", async () => {
    const port1 = ports[0]!;
    await h.removeServer('RegionOne', servers.vm1!);
    await ok(cloud.centralNeutron.del(`/v2.0/ports/${port1.id}`, USER), 204);
    await h.settled();
    const [, port2, port3] = ports as [Json, Json, Json];
    const expected: Record<string, string[]> = { RegionOne: [port2.id, port3.id].sort(), RegionTwo: [port3.id], RegionThree: [port2.id] };
    for (const region of REGIONS) {
      assert.equal(
        (await h.regionPorts(region)).some((p) => p.id === port1.id),
        false,
        `${region} has no copy of port1`,
      );
      assert.deepEqual((await h.shadows(region)).map((p) => p.id).sort(), expected[region], `${region} still shadows the other VM ports`);
    }
    assert.deepEqual(await cloud.routings(port1.id), []);
    const failed = await cloud.db.kysely.selectFrom('async_jobs').select(['type', 'status']).execute();
    assert.deepEqual(failed, [], 'every job ended SUCCESS (none left in async_jobs)');
    const done = await cloud.db.kysely.selectFrom('async_job_logs').select('type').where('type', '=', 'shadow_port_setup').execute();
    assert.ok(done.length >= 3, 'shadow_port_setup jobs ran');
  });

  it('a VM gone while another region is unreachable: that region loses the shadow once it answers again', async () => {
    const port2 = ports[1]!;
    await cloud.stopNeutron('RegionThree');
    try {
      await h.removeServer('RegionTwo', servers.vm5!);
    } finally {
      await cloud.restartNeutron('RegionThree');
    }
    assert.equal(
      (await h.shadows('RegionOne')).some((p) => p.id === port2.id),
      false,
      'RegionOne lost it at once',
    );
    await h.settled();
    assert.equal(
      (await h.shadows('RegionThree')).some((p) => p.id === port2.id),
      false,
      'RegionThree lost it through shadow_port_setup',
    );
    assert.deepEqual(
      (await cloud.routings(port2.id)).map((r) => r.resource_type),
      [],
    );
  });

  it('§9.7 cleanup: with the servers and ports gone, the network delete leaves no copy and no shadow in any region', async () => {
    await h.removeServer('RegionThree', servers.vm3!);
    for (const port of ports.slice(1)) await ok(cloud.centralNeutron.del(`/v2.0/ports/${String(port.id)}`, USER), 204);
    await ok(cloud.centralNeutron.del(`/v2.0/networks/${String(network.id)}`, USER), 204);
    await h.settled();
    for (const region of REGIONS) {
      assert.deepEqual(await h.regionPorts(region), [], `no port of the network in ${region}`);
      assert.equal((await cloud.regions[region]!.neutron.get(`/v2.0/networks/${String(network.id)}`)).status, 404, `no copy in ${region}`);
    }
    assert.deepEqual(await cloud.routings(network.id), []);
  });

  it('twenty servers booting at once across the three regions on a new network: every region ends with the full set, no duplicate', async () => {
    const net = await cloud.centralNeutron.network({ name: 'busy' }, USER);
    await ok(cloud.centralNeutron.post('/v2.0/subnets', { subnet: { network_id: net.id, ip_version: 4, cidr: '10.70.2.0/24' } }, USER), 201);
    const busy = helpers(
      () => cloud,
      () => net.id,
    );
    await Promise.all(Array.from({ length: 20 }, (_, i) => busy.boot(REGIONS[i % REGIONS.length]!, `busy-${i}`, [{ uuid: net.id }])));
    await busy.settled();
    const real: Record<string, Json[]> = {};
    for (const region of REGIONS)
      real[region] = (await busy.regionPorts(region)).filter((p) => String(p.device_owner).startsWith('compute:') && p.device_owner !== 'compute:shadow');
    assert.equal(Object.values(real).flat().length, 20, 'twenty VM ports');
    for (const region of REGIONS) {
      const all = await busy.regionPorts(region);
      const expected = REGIONS.filter((r) => r !== region).flatMap((r) => real[r]!.map((p) => [p, r] as const));
      const shadows = await busy.shadows(region);
      assert.deepEqual(shadows.map((p) => p.id).sort(), expected.map(([p]) => p.id).sort(), `${region} shadows every other region's VM port`);
      for (const [port, vmRegion] of expected) assertShadow(shadows, port, vmRegion, region);
      const macs = all.map((p) => p.mac_address);
      assert.equal(new Set(macs).size, macs.length, `no MAC twice in ${region}`);
    }
  });
});

describe('cross_pod_vxlan_mode and batching (sqlite)', () => {
  it('noop: servers in two regions make no shadow port and no shadow_port_setup job', async () => {
    const { cloud, network } = await l2Cloud(['RegionOne', 'RegionTwo'], { client: { cross_pod_vxlan_mode: 'noop' } });
    try {
      const h = helpers(
        () => cloud,
        () => network.id,
      );
      await h.boot('RegionOne', 'vm1', (await h.port('p1')).id);
      await h.boot('RegionTwo', 'vm2', (await h.port('p2')).id);
      await h.settled();
      for (const region of ['RegionOne', 'RegionTwo']) assert.deepEqual(await h.shadows(region), [], region);
      assert.equal((await h.regionPorts('RegionTwo')).length > 0, true, 'the network is in RegionTwo');
      const jobs = await cloud.db.kysely.selectFrom('async_job_logs').select('type').where('type', '=', 'shadow_port_setup').execute();
      assert.deepEqual(jobs, []);
    } finally {
      await cloud.close();
    }
  });

  it('max_shadow_port_bulk_size = 1: three ports of RegionOne all get their shadows in RegionTwo; a MAC in use there counts as existing', async () => {
    const { cloud, network } = await l2Cloud(['RegionOne', 'RegionTwo'], { client: { max_shadow_port_bulk_size: '1' } });
    try {
      const h = helpers(
        () => cloud,
        () => network.id,
      );
      // RegionTwo's network copy comes first, so that one shadow_port_setup run has all three to create.
      await h.boot('RegionTwo', 'vm0', (await h.port('p0')).id);
      await h.settled();
      await cloud.stopXJob();
      const ports: Json[] = [];
      for (const n of [1, 2, 3]) {
        ports.push(await h.port(`p${n}`));
        await h.boot('RegionOne', `vm${n}`, ports.at(-1)!.id);
      }
      // A fourth whose MAC a port of RegionTwo's own already has (created there without a token: central never hears of it).
      const taken = await h.port('p4');
      const squatter = (
        await ok(cloud.regions.RegionTwo!.neutron.post('/v2.0/ports', { port: { network_id: network.id, mac_address: taken.mac_address } }), 201)
      ).port;
      await h.boot('RegionOne', 'vm4', taken.id);
      await cloud.startXJob();
      await h.settled();
      const shadows = await h.shadows('RegionTwo');
      assert.deepEqual(shadows.map((p) => p.id).sort(), ports.map((p) => p.id).sort());
      for (const port of ports) assertShadow(shadows, port, 'RegionOne', 'RegionTwo');
      const holders = (await h.regionPorts('RegionTwo')).filter((p) => p.mac_address === taken.mac_address);
      assert.deepEqual(
        holders.map((p) => p.id),
        [squatter.id],
        'the port holding the MAC stays as it was',
      );

      // A shadow bound to a host its VM is no longer on is bound again by the next run (another boot in RegionOne casts one).
      await ok(cloud.regions.RegionTwo!.neutron.put(`/v2.0/ports/${ports[0]!.id}`, { port: { 'binding:host_id': 'RegionOne-compute9' } }));
      await h.boot('RegionOne', 'vm5', (await h.port('p5')).id);
      await h.settled();
      assertShadow(await h.shadows('RegionTwo'), ports[0]!, 'RegionOne', 'RegionTwo');
    } finally {
      await cloud.close();
    }
  });
});
