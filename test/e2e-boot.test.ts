import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startComputeApi, type RunningComputeApi } from './support/compute-server.js';
import { engines, type TestDatabase } from './support/engines.js';
import type { NeutronTestDb, RunningNeutronApi } from './support/neutron-server.js';
import { novaClient, startLocalNeutron, startRegionCloud, USER, type RegionCloud, ok } from './support/region-cloud.js';
import { closedPort } from './support/net.js';

// Issue 5 end to end: a central Neutron, two regions each with its own database, two local
// Neutron servers on it and a compute service per local Neutron, all separate HTTP servers.
// Servers boot through the compute API only; what each side holds is read from its API
// (central) or its database (local, so that reading never copies anything).

type Json = Record<string, any>;

/** Rows of a local Neutron table matching `where` (column = value). */
async function rows(db: NeutronTestDb, table: string, where: Record<string, string>): Promise<Json[]> {
  let query = db.kysely.selectFrom(table).selectAll();
  for (const [column, value] of Object.entries(where)) query = query.where(column, '=', value);
  return (await query.execute()) as Json[];
}

/** Local ports matching `where`, each with its fixed IPs, read from the database. */
async function localPorts(db: NeutronTestDb, where: Record<string, string>): Promise<Json[]> {
  const ports = await rows(db, 'ports', where);
  return Promise.all(ports.map(async (port) => ({ ...port, fixed_ips: await rows(db, 'ip_allocations', { port_id: port.id as string }) })));
}

const serverCount = async (compute: RunningComputeApi) =>
  Number(
    (
      await compute.db.kysely
        .selectFrom('compute_servers' as never)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

const unique = (values: unknown[]) => new Set(values).size === values.length;

// MariaDB is covered by the local role's own tests; the end-to-end proof runs on SQLite and PostgreSQL.
for (const engine of (await engines()).filter((e) => e.name !== 'mysql')) {
  describe(`boot through compute, local and central Neutron (${engine.name})`, { skip: engine.skip }, () => {
    let cloud: RegionCloud;
    const central = () => cloud.centralNeutron;
    const region = (name: string) => cloud.regions[name]!;

    let cidr = 0;
    /** A central network of the member with one DHCP subnet 10.77.<n>.0/24. */
    async function centralNetwork(name: string): Promise<{ network: Json; subnet: Json }> {
      cidr += 1;
      const network = await central().network({ name }, USER);
      const subnet = (
        await ok(
          central().post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: `10.77.${cidr}.0/24`, enable_dhcp: true } }, USER),
          201,
        )
      ).subnet;
      return { network, subnet };
    }
    const centralPortsNamed = async (name: string) => (await ok(central().get(`/v2.0/ports?name=${name}`))).ports as Json[];
    const centralPort = async (id: string) => (await ok(central().get(`/v2.0/ports/${id}`))).port as Json;

    /** Boots `name` through the region's compute (computes[index]) and returns the ACTIVE server as shown. */
    async function boot(regionName: string, name: string, networkId: string, index = 0): Promise<Json> {
      const nova = novaClient(region(regionName).computes[index]!.url);
      const id = (await ok(nova.boot(name, [{ uuid: networkId }]), 202)).server.id as string;
      return (await ok(nova.show(id))).server;
    }

    /** The one local port of a server, straight from the region's database. */
    async function serverPort(regionName: string, serverId: string): Promise<Json> {
      const [port, ...more] = await localPorts(region(regionName).neutrons[0]!.db, { device_id: serverId });
      assert.equal(more.length, 0, `one local port for server ${serverId}`);
      return port!;
    }

    /** What the region holds for a central network and its subnet, checked against central. */
    async function assertRegionCopy(regionName: string, network: Json, subnet: Json): Promise<{ gateway: string }> {
      const db = region(regionName).neutrons[0]!.db;
      assert.equal((await rows(db, 'networks', { id: network.id })).length, 1, 'the local network has the central id');
      const [localSubnet, ...otherSubnets] = await rows(db, 'subnets', { network_id: network.id });
      assert.equal(otherSubnets.length, 0);
      assert.equal(localSubnet!.id, subnet.id, 'the local subnet has the central id');
      assert.equal(localSubnet!.cidr, subnet.cidr);

      const [gatewayPort, ...moreGateways] = await centralPortsNamed(`interface_${regionName}_${subnet.id}`);
      assert.equal(moreGateways.length, 0, 'one central gateway port for the region');
      assert.equal(gatewayPort!.device_owner, 'network:router_interface');
      assert.equal(localSubnet!.gateway_ip, gatewayPort!.fixed_ips[0].ip_address, "the local gateway is the region's central interface port");

      const [centralDhcp, ...moreDhcp] = await centralPortsNamed(`dhcp_port_${subnet.id}`);
      assert.equal(moreDhcp.length, 0);
      const localDhcp = await localPorts(db, { network_id: network.id, device_owner: 'network:dhcp' });
      assert.equal(localDhcp.length, 1, 'one local DHCP port');
      assert.equal(localDhcp[0]!.id, centralDhcp!.id, 'the DHCP port copies the central one');
      assert.equal(localDhcp[0]!.mac_address, centralDhcp!.mac_address);
      assert.equal(localDhcp[0]!.fixed_ips[0].ip_address, centralDhcp!.fixed_ips[0].ip_address);
      return { gateway: localSubnet!.gateway_ip as string };
    }

    before(async () => {
      cloud = await startRegionCloud({ engine, regions: ['RegionOne', 'RegionTwo'], serversPerRegion: 2 });
    });
    after(async () => {
      await cloud?.close();
    });

    it('boots in RegionOne on a central network: the copies and the port carry the central ids, IP and MAC; the binding reaches central; delete removes both ports', async () => {
      const { network, subnet } = await centralNetwork('e2e-one');
      const server = await boot('RegionOne', 'vm-one', network.id);
      assert.equal(server.status, 'ACTIVE');
      await assertRegionCopy('RegionOne', network, subnet);

      const local = await serverPort('RegionOne', server.id);
      const remote = await centralPort(local.id);
      assert.equal(local.network_id, network.id);
      assert.equal(local.mac_address, remote.mac_address, 'the local port has the central MAC');
      assert.equal(local.fixed_ips[0].ip_address, remote.fixed_ips[0].ip_address, 'the local port has the central IP');
      assert.equal(local.fixed_ips[0].subnet_id, subnet.id);
      assert.deepEqual(server.addresses, {
        'e2e-one': [{ addr: remote.fixed_ips[0].ip_address, version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': remote.mac_address }],
      });
      assert.equal(remote['binding:profile'].region, 'RegionOne', 'the binding is reported to central');
      assert.equal(remote['binding:profile']['binding:host_id'], 'RegionOne-compute1');
      assert.equal(remote['binding:profile'].device, 'compute:nova');

      assert.equal((await region('RegionOne').nova.remove(server.id)).status, 204);
      assert.equal((await rows(region('RegionOne').neutrons[0]!.db, 'ports', { id: local.id })).length, 0, 'the local port is gone');
      assert.equal((await central().get(`/v2.0/ports/${local.id}`)).status, 404, 'the central port is gone');
      assert.equal((await region('RegionOne').nova.show(server.id)).status, 404);
    });

    it("boots in both regions on one network: same network and subnet ids, each region's own gateway, different ports", async () => {
      const { network, subnet } = await centralNetwork('e2e-two');
      const one = await boot('RegionOne', 'vm-r1', network.id);
      const two = await boot('RegionTwo', 'vm-r2', network.id);
      assert.equal(two.status, 'ACTIVE');
      const { gateway: gatewayOne } = await assertRegionCopy('RegionOne', network, subnet);
      const { gateway: gatewayTwo } = await assertRegionCopy('RegionTwo', network, subnet);
      assert.notEqual(gatewayOne, gatewayTwo, 'each region has its own gateway');
      assert.ok(gatewayOne !== subnet.gateway_ip && gatewayTwo !== subnet.gateway_ip, 'neither region uses the central gateway');

      const portOne = await serverPort('RegionOne', one.id);
      const portTwo = await serverPort('RegionTwo', two.id);
      assert.notEqual(portOne.id, portTwo.id);
      assert.notEqual(portOne.fixed_ips[0].ip_address, portTwo.fixed_ips[0].ip_address);
      assert.equal((await centralPort(portTwo.id))['binding:profile'].region, 'RegionTwo');
      assert.equal((await rows(region('RegionOne').neutrons[0]!.db, 'ports', { id: portTwo.id })).length, 0, "RegionTwo's port is not copied into RegionOne");

      for (const [name, id] of [
        ['RegionOne', one.id],
        ['RegionTwo', two.id],
      ]) {
        assert.equal((await region(name!).nova.remove(id!)).status, 204);
      }
      for (const id of [portOne.id, portTwo.id]) assert.equal((await central().get(`/v2.0/ports/${id}`)).status, 404);
    });

    it('ten concurrent boots on a network the region has never seen, through two computes and two local Neutrons on one database: one copy of everything, ten ports', async () => {
      const { network, subnet } = await centralNetwork('e2e-rush');
      const servers = await Promise.all(Array.from({ length: 10 }, (_, i) => boot('RegionOne', `rush-${i}`, network.id, i % 2)));
      assert.ok(servers.every((s) => s.status === 'ACTIVE'));
      assert.ok(unique(servers.map((s) => s.id)));
      await assertRegionCopy('RegionOne', network, subnet);

      const db = region('RegionOne').neutrons[0]!.db;
      const ports = await localPorts(db, { network_id: network.id, device_owner: 'compute:nova' });
      assert.equal(ports.length, 10, 'ten local server ports');
      assert.deepEqual(ports.map((p) => p.device_id).sort(), servers.map((s) => s.id).sort(), 'one port per server');
      assert.ok(unique(ports.map((p) => p.fixed_ips[0].ip_address)) && unique(ports.map((p) => p.mac_address)));

      const centralPorts = (await ok(central().get(`/v2.0/ports?network_id=${network.id}`))).ports as Json[];
      const centralServerPorts = centralPorts.filter((p) => p.device_owner === 'compute:nova');
      assert.deepEqual(centralServerPorts.map((p) => p.id).sort(), ports.map((p) => p.id).sort(), 'the same ten ports centrally');
      assert.ok(unique(centralPorts.map((p) => p.name).filter((name: string) => name !== '')), 'no duplicate reserved ports centrally');
      assert.equal(centralPorts.length, 12, 'ten server ports, the DHCP port and one gateway port');
    });

    describe('central unreachable', () => {
      const closers: Array<() => Promise<void>> = [];
      let unreachableUrl: string;
      before(async () => {
        unreachableUrl = `http://127.0.0.1:${await closedPort()}`;
      });
      after(async () => {
        for (const close of closers.reverse()) await close();
      });

      /** A local Neutron (and its compute) of `regionName` on `connection` whose central URL is a closed port. */
      async function isolated(connection: string, regionName: string): Promise<{ neutron: RunningNeutronApi; compute: RunningComputeApi }> {
        const neutron = await startLocalNeutron(connection, unreachableUrl, regionName);
        closers.push(() => neutron.close());
        const compute = await startComputeApi(connection, neutron.url, { compute: { region_name: regionName } });
        closers.push(() => compute.close());
        return { neutron, compute };
      }

      async function assertUnavailable(reply: Promise<{ status: number; body: any; text: string }>) {
        const r = await reply;
        assert.equal(r.status, 503, r.text);
        assert.equal(r.body.serviceUnavailable.code, 503);
        assert.match(r.body.serviceUnavailable.message, /Central Neutron/, r.text);
      }

      it('on a network the region has never seen: a 503 from compute and nothing stored', async () => {
        const database: TestDatabase = await engine.create();
        closers.push(() => database.drop());
        const { neutron, compute } = await isolated(database.connection, 'RegionThree');
        const { network } = await centralNetwork('e2e-cut-cold');
        await assertUnavailable(novaClient(compute.url).boot('vm-cut', [{ uuid: network.id }]));
        assert.equal(await serverCount(compute), 0, 'no server');
        assert.equal((await rows(neutron.db, 'networks', {})).length, 0, 'no local network');
        assert.equal((await rows(neutron.db, 'ports', {})).length, 0, 'no local port');
      });

      it('on a network the region already has (central goes away before the port create): a 503 and no server or port left', async () => {
        const { network } = await centralNetwork('e2e-cut-warm');
        const warm = await boot('RegionTwo', 'vm-warm', network.id);
        // A second RegionTwo Neutron on the same database, cut off from central.
        const { neutron, compute } = await isolated(region('RegionTwo').database.connection, 'RegionTwo');
        const portsBefore = (await rows(neutron.db, 'ports', { network_id: network.id })).map((p) => p.id).sort();
        const serversBefore = await serverCount(compute);
        await assertUnavailable(novaClient(compute.url).boot('vm-cut', [{ uuid: network.id }]));
        assert.equal(await serverCount(compute), serversBefore, 'no server');
        assert.deepEqual((await rows(neutron.db, 'ports', { network_id: network.id })).map((p) => p.id).sort(), portsBefore, 'no local port');
        const centralServerPorts = ((await ok(central().get(`/v2.0/ports?network_id=${network.id}`))).ports as Json[]).filter(
          (p) => p.device_owner === 'compute:nova',
        );
        assert.deepEqual(
          centralServerPorts.map((p) => p.device_id),
          [warm.id],
          'no central port besides the booted server',
        );
      });
    });
  });
}
