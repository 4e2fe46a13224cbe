import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { makeContext } from '../src/auth/index.js';
import { loadConfig, type SectionName } from '../src/config/index.js';
import { migrateToLatest, openDb, parseConnection } from '../src/db/index.js';
import { createNeutronApi, createNeutronCore, type NeutronPlugin } from '../src/neutron/index.js';
import type { NeutronDb } from '../src/neutron/core/store.js';
import { localPluginFor, regionPools, reservedMac } from '../src/neutron/local/index.js';
import { engines, type TestDatabase } from './support/engines.js';
import { ADMIN, call } from './support/neutron-server.js';
import { closedPort } from './support/net.js';
import { issueToken, keystoneAuthOptions, keystoneUp } from './support/keystone.js';

// The local Neutron role against a real central Neutron: separate HTTP servers on loopback,
// two local servers of RegionOne sharing one database, on every engine.

type Overrides = Partial<Record<SectionName, Record<string, string>>>;
type Json = Record<string, any>;

interface Server {
  url: string;
  kysely: NeutronDb;
  /** Requests this server received: method, url, user agent, token. */
  seen: Array<{ method: string; url: string; agent: string | undefined; token: string | undefined }>;
  close(): Promise<void>;
}

const configOf = (connection: string, overrides: Overrides) =>
  loadConfig({
    env: {},
    overrides: { ...overrides, DEFAULT: { auth_strategy: 'noauth', log_level: 'silent', ...overrides.DEFAULT }, database: { connection } },
  }).config;

async function startServer(connection: string, overrides: Overrides, role?: { region: string }): Promise<Server> {
  const config = configOf(connection, overrides);
  const db = openDb(parseConnection(connection, '.'), 4);
  await migrateToLatest(db);
  const { plugin: core, deps } = createNeutronCore(config, db.kysely);
  const plugin: NeutronPlugin = role ? localPluginFor(config, core, role.region) : core;
  const app = createNeutronApi({ config, db, logger: pino({ level: 'silent' }), plugin, deps });
  const seen: Server['seen'] = [];
  app.addHook('onRequest', async (request) => {
    const header = (name: string) => request.headers[name] as string | undefined;
    seen.push({ method: request.method, url: request.url, agent: header('user-agent'), token: header('x-auth-token') });
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    kysely: db.kysely as NeutronDb,
    seen,
    close: async () => {
      await app.close();
      await db.close();
    },
  };
}

// A token makes a request an API call that may reach central; noauth forwards the identity with it.
const USER = { ...ADMIN, 'x-auth-token': 'token-of-the-caller' };
const REGION = 'RegionOne';
const CENTRAL: Overrides = { tricircle: { availability_zones: 'RegionOne,RegionTwo' } };
// The region's own tenant networks are VLANs, so a copied local-type network shows what the region allocated.
const LOCAL = (centralUrl: string): Overrides => ({
  tricircle: { central_neutron_url: centralUrl, tenant_network_types: 'vlan', network_vlan_ranges: 'physnet1:100:200' },
});

/** A list query filtered by one id. */
const listById = (id: string) => ({
  filters: { id: [id] },
  tags: { all: [], any: [], notAll: [], notAny: [] },
  sorts: [],
  limit: null,
  marker: null,
  pageReverse: false,
});

async function ok(reply: Promise<{ status: number; body: unknown; text: string }>, status = 200): Promise<Json> {
  const r = await reply;
  assert.equal(r.status, status, r.text);
  return r.body as Json;
}

describe('region pools (reference §3.13)', () => {
  const pool = (start: string, end: string) => ({ start: `10.0.1.${start}`, end: `10.0.1.${end}` });
  it('takes the region gateway out and gives the central gateway back', () => {
    const central = [pool('10', '254')];
    assert.deepEqual(regionPools(central, '10.0.1.1', '10.0.1.10'), [pool('1', '1'), pool('11', '254')]);
    assert.deepEqual(regionPools(central, '10.0.1.1', '10.0.1.254'), [pool('1', '1'), pool('10', '253')]);
    assert.deepEqual(regionPools(central, '10.0.1.1', '10.0.1.8'), [pool('1', '1'), pool('10', '254')]);
    assert.deepEqual(regionPools([pool('2', '10'), pool('20', '254')], '10.0.1.1', '10.0.1.5'), [pool('1', '4'), pool('6', '10'), pool('20', '254')]);
    assert.deepEqual(regionPools([pool('2', '10'), pool('12', '254')], '10.0.1.11', '10.0.1.5'), [pool('2', '4'), pool('6', '254')]);
    assert.deepEqual(regionPools(central, null, '10.0.1.10'), central);
  });
});

for (const engine of await engines()) {
  describe(`local Neutron role on ${engine.name}`, { skip: engine.skip }, () => {
    const databases: TestDatabase[] = [];
    let central: Server;
    let local: Server; // RegionOne
    let sibling: Server; // RegionOne again, same database
    let unreachable: Server; // RegionOne, central on a closed port
    const c = (method: string, path: string, body?: unknown) => call(central.url, method, path, body, ADMIN);
    const l = (server: Server, method: string, path: string, body?: unknown, headers: Record<string, string> = USER) =>
      call(server.url, method, path, body, headers);

    /** A central network with one DHCP subnet 10.<n>.1.0/24 (gateway .1, pool .2-.254). */
    let n = 0;
    async function centralNetwork(attrs: Json = {}, enableDhcp = true): Promise<{ network: Json; subnet: Json }> {
      n += 1;
      const network = (await ok(c('POST', '/v2.0/networks', { network: { name: `net${n}`, ...attrs } }), 201)).network;
      const subnet = (
        await ok(c('POST', '/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: `10.${n}.1.0/24`, enable_dhcp: enableDhcp } }), 201)
      ).subnet;
      return { network, subnet };
    }
    const centralPortsNamed = async (name: string) => (await ok(c('GET', `/v2.0/ports?name=${name}`))).ports;
    const count = async (db: NeutronDb, table: string, column: string, value: string) =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .where(column, '=', value)
            .executeTakeFirstOrThrow()
        ).n,
      );

    before(async () => {
      const [centralDb, localDb, lonelyDb] = await Promise.all([engine.create(), engine.create(), engine.create()]);
      databases.push(centralDb, localDb, lonelyDb);
      central = await startServer(centralDb.connection, CENTRAL);
      local = await startServer(localDb.connection, LOCAL(central.url), { region: REGION });
      sibling = await startServer(localDb.connection, LOCAL(central.url), { region: REGION });
      unreachable = await startServer(lonelyDb.connection, LOCAL(`http://127.0.0.1:${await closedPort()}`), { region: REGION });
    });

    after(async () => {
      for (const server of [unreachable, sibling, local, central]) await server?.close();
      for (const database of databases) await database.drop();
    });

    it('GET of a network copies it, its subnet with the region gateway and pools, and the DHCP port, under the central ids', async () => {
      const { network, subnet } = await centralNetwork();
      central.seen.length = 0;
      const copy = (await ok(l(local, 'GET', `/v2.0/networks/${network.id}`))).network;
      const fromLocal = [...central.seen];
      assert.equal(copy.id, network.id);
      assert.equal(copy.name, network.name);
      assert.equal(copy['provider:network_type'], network['provider:network_type']);
      assert.equal(copy['provider:segmentation_id'], network['provider:segmentation_id']);
      assert.deepEqual(copy.subnets, [subnet.id]);

      const gatewayPorts = await centralPortsNamed(`interface_${REGION}_${subnet.id}`);
      assert.equal(gatewayPorts.length, 1);
      assert.equal(gatewayPorts[0].device_id, 'reserved_gateway_port');
      const gateway = gatewayPorts[0].fixed_ips[0].ip_address;
      assert.notEqual(gateway, subnet.gateway_ip);
      const localSubnet = (await ok(l(local, 'GET', `/v2.0/subnets/${subnet.id}`))).subnet;
      assert.equal(localSubnet.cidr, subnet.cidr);
      assert.equal(localSubnet.gateway_ip, gateway);
      assert.deepEqual(localSubnet.allocation_pools, regionPools(subnet.allocation_pools, subnet.gateway_ip, gateway));
      assert.ok(
        localSubnet.allocation_pools.some((p: Json) => p.start === subnet.gateway_ip),
        'the central gateway is free in the region',
      );

      const dhcp = await centralPortsNamed(`dhcp_port_${subnet.id}`);
      assert.equal(dhcp.length, 1);
      assert.equal(dhcp[0].device_owner, 'network:dhcp');
      assert.equal(dhcp[0].mac_address, reservedMac(`dhcp_port_${subnet.id}`));
      const localDhcp = (await ok(l(local, 'GET', `/v2.0/ports?network_id=${network.id}&device_owner=network:dhcp`))).ports;
      assert.equal(localDhcp.length, 1);
      assert.equal(localDhcp[0].id, dhcp[0].id);
      assert.equal(localDhcp[0].mac_address, dhcp[0].mac_address);
      assert.deepEqual(localDhcp[0].fixed_ips, dhcp[0].fixed_ips);

      assert.ok(fromLocal.length > 0);
      for (const request of fromLocal) {
        assert.equal(request.agent, 'local-neutronclient');
        assert.equal(request.token, USER['x-auth-token']);
      }
    });

    it('the public API still refuses an id in a create body (copies get theirs only inside the server)', async () => {
      const reply = await l(local, 'POST', '/v2.0/networks', { network: { id: '00000000-0000-4000-8000-000000000001', name: 'x' } });
      assert.equal(reply.status, 400, reply.text);
    });

    it('a request without a token never reaches central: what is not local is not found', async () => {
      const { network, subnet } = await centralNetwork();
      central.seen.length = 0;
      for (const path of [`/v2.0/networks/${network.id}`, `/v2.0/subnets/${subnet.id}`]) {
        assert.equal((await l(local, 'GET', path, undefined, ADMIN)).status, 404);
      }
      assert.deepEqual((await ok(l(local, 'GET', `/v2.0/networks?id=${network.id}`, undefined, ADMIN))).networks, []);
      assert.deepEqual(central.seen, []);
      assert.equal(await count(local.kysely, 'networks', 'id', network.id), 0);
    });

    it('a local-type network loses its provider attributes, hints are dropped, a network hinted elsewhere is not copied', async () => {
      const { network: localType } = await centralNetwork({ 'provider:network_type': 'local' });
      const copy = (await ok(l(local, 'GET', `/v2.0/networks/${localType.id}`))).network;
      assert.equal(copy['provider:network_type'], 'vlan', 'the region allocated its own segment');

      const { network: here } = await centralNetwork({ availability_zone_hints: [REGION] });
      assert.deepEqual((await ok(l(local, 'GET', `/v2.0/networks/${here.id}`))).network.availability_zone_hints, []);

      const { network: elsewhere } = await centralNetwork({ availability_zone_hints: ['RegionTwo'] });
      const reply = await l(local, 'GET', `/v2.0/networks/${elsewhere.id}`);
      assert.equal(reply.status, 404, reply.text);
      assert.equal((reply.body as Json).NeutronError.type, 'NetworkNotFound');
      assert.deepEqual(
        (await ok(l(local, 'GET', `/v2.0/networks?id=${elsewhere.id}&id=${here.id}`))).networks.map((x: Json) => x.id),
        [here.id],
      );
      assert.equal(await count(local.kysely, 'networks', 'id', elsewhere.id), 0);
    });

    it('lists filtered by id copy the missing ones and ignore unknown ids; security groups and ports are copied on GET', async () => {
      const { network } = await centralNetwork();
      const unknown = '00000000-0000-4000-8000-000000000000';
      assert.deepEqual(
        (await ok(l(local, 'GET', `/v2.0/networks?id=${network.id}&id=${unknown}`))).networks.map((x: Json) => x.id),
        [network.id],
      );

      const group = (await ok(c('POST', '/v2.0/security-groups', { security_group: { name: 'web' } }), 201)).security_group;
      const groupCopy = (await ok(l(local, 'GET', `/v2.0/security-groups/${group.id}`))).security_group;
      assert.equal(groupCopy.id, group.id);
      assert.equal(groupCopy.name, 'web');

      const port = (await ok(c('POST', '/v2.0/ports', { port: { network_id: network.id, security_groups: [group.id] } }), 201)).port;
      const portCopy = (await ok(l(local, 'GET', `/v2.0/ports/${port.id}`))).port;
      assert.equal(portCopy.mac_address, port.mac_address);
      assert.deepEqual(portCopy.fixed_ips, port.fixed_ips);
      assert.deepEqual(portCopy.security_groups, [group.id]);
      assert.equal((await l(local, 'GET', `/v2.0/ports/${unknown}`)).status, 404);
    });

    it('a port is created on central first; its binding is reported back; deleting it removes the central port first', async () => {
      const { network, subnet } = await centralNetwork();
      await ok(l(local, 'GET', `/v2.0/networks/${network.id}`));
      const created = (await ok(l(local, 'POST', '/v2.0/ports', { port: { network_id: network.id, device_owner: 'compute:nova', device_id: 'vm1' } }), 201))
        .port;
      const twin = (await ok(c('GET', `/v2.0/ports/${created.id}`))).port;
      assert.equal(twin.mac_address, created.mac_address);
      assert.deepEqual(twin.fixed_ips, created.fixed_ips);
      assert.equal(created.fixed_ips[0].subnet_id, subnet.id);
      assert.deepEqual(created.security_groups, twin.security_groups);
      assert.equal(created.security_groups.length, 1, 'central gave its default group');

      const bound = (await ok(l(local, 'PUT', `/v2.0/ports/${created.id}`, { port: { 'binding:host_id': 'compute-1' } }))).port;
      const profile = (await ok(c('GET', `/v2.0/ports/${created.id}`))).port['binding:profile'];
      assert.deepEqual(profile, {
        region: REGION,
        device: 'compute:nova',
        'binding:host_id': 'compute-1',
        'binding:vif_type': bound['binding:vif_type'],
        'binding:vif_details': bound['binding:vif_details'],
        'binding:vnic_type': 'normal',
        status: bound.status,
      });

      assert.equal((await l(local, 'DELETE', `/v2.0/ports/${created.id}`)).status, 204);
      assert.equal((await c('GET', `/v2.0/ports/${created.id}`)).status, 404);
      assert.equal((await l(local, 'GET', `/v2.0/ports/${created.id}`, undefined, ADMIN)).status, 404);
    });

    it('a port with a fixed IP is the central port owning it; an empty group list means the central default group', async () => {
      const { network } = await centralNetwork();
      const owner = (await ok(c('POST', '/v2.0/ports', { port: { network_id: network.id } }), 201)).port;
      const ip = owner.fixed_ips[0].ip_address;
      const copy = (await ok(l(local, 'POST', '/v2.0/ports', { port: { network_id: network.id, fixed_ips: [{ ip_address: ip }] } }), 201)).port;
      assert.equal(copy.id, owner.id);
      assert.equal(copy.mac_address, owner.mac_address);
      const stranger = await l(local, 'POST', '/v2.0/ports', { port: { network_id: network.id, fixed_ips: [{ ip_address: '10.99.99.99' }] } });
      assert.equal(stranger.status, 400, stranger.text);
      assert.equal((stranger.body as Json).NeutronError.type, 'InvalidIpForNetwork');

      const defaults = (await ok(c('GET', '/v2.0/security-groups?name=default&project_id=admin'))).security_groups;
      const plain = (await ok(l(local, 'POST', '/v2.0/ports', { port: { network_id: network.id, security_groups: [] } }), 201)).port;
      assert.deepEqual(plain.security_groups, [defaults[0].id]);
      assert.equal((await ok(l(local, 'GET', `/v2.0/security-groups/${defaults[0].id}`, undefined, ADMIN))).security_group.name, 'default');
    });

    it('central unreachable: a 503 and nothing created locally', async () => {
      const { network } = await centralNetwork();
      for (const [method, path, body] of [
        ['GET', `/v2.0/networks/${network.id}`, undefined],
        ['POST', '/v2.0/ports', { port: { network_id: network.id, device_owner: 'compute:nova' } }],
      ] as const) {
        const reply = await l(unreachable, method, path, body);
        assert.equal(reply.status, 503, reply.text);
        assert.equal((reply.body as Json).NeutronError.type, 'HTTPServiceUnavailable');
        assert.match((reply.body as Json).NeutronError.message, /Central Neutron .* cannot be reached/);
      }
      for (const table of ['networks', 'subnets', 'ports']) {
        assert.equal(
          Number(
            (
              await unreachable.kysely
                .selectFrom(table)
                .select((eb) => eb.fn.countAll().as('n'))
                .executeTakeFirstOrThrow()
            ).n,
          ),
          0,
          table,
        );
      }
    });

    it('a GET of a local network without subnets copies the subnets central has gained since', async () => {
      n += 1;
      const network = (await ok(c('POST', '/v2.0/networks', { network: { name: `bare${n}` } }), 201)).network;
      assert.deepEqual((await ok(l(local, 'GET', `/v2.0/networks/${network.id}`))).network.subnets, []);
      const subnet = (await ok(c('POST', '/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: `10.${n}.1.0/24` } }), 201)).subnet;
      assert.deepEqual((await ok(l(local, 'GET', `/v2.0/networks/${network.id}`))).network.subnets, [subnet.id]);
      const gateway = (await centralPortsNamed(`interface_${REGION}_${subnet.id}`))[0].fixed_ips[0].ip_address;
      assert.equal((await ok(l(local, 'GET', `/v2.0/subnets/${subnet.id}`, undefined, ADMIN))).subnet.gateway_ip, gateway);
    });

    it('deleting a subnet: reads made within the delete request do not copy it back from central', async () => {
      const { network, subnet } = await centralNetwork({}, false);
      await ok(l(local, 'GET', `/v2.0/networks/${network.id}`));
      // A core whose subnet delete reads through the local role afterwards, as upstream's ML2
      // delete_subnet does (get_network, get_subnets) within the same request.
      const db = openDb(parseConnection(databases[1]!.connection, '.'), 2);
      try {
        const config = configOf(databases[1]!.connection, LOCAL(central.url));
        const { plugin: core } = createNeutronCore(config, db.kysely);
        const within: { network?: Json; subnets?: Json[] } = {};
        const reentrant: NeutronPlugin = {
          ...core,
          subnets: {
            list: (ctx, query) => core.subnets!.list(ctx, query),
            get: (ctx, id) => core.subnets!.get(ctx, id),
            create: (ctx, items) => core.subnets!.create(ctx, items),
            update: (ctx, id, changes) => core.subnets!.update(ctx, id, changes),
            async delete(ctx, id) {
              await core.subnets!.delete(ctx, id);
              within.network = await plugin.networks!.get(ctx, network.id);
              within.subnets = (await plugin.subnets!.list(ctx, listById(subnet.id))).items;
            },
          },
        };
        const plugin = localPluginFor(config, reentrant, REGION);
        const ctx = (requestId: string) =>
          makeContext(
            { userId: 'admin-user', userName: null, projectId: 'admin', projectName: null, roles: ['admin'], authToken: USER['x-auth-token'] },
            requestId,
            pino({ level: 'silent' }),
          );
        await plugin.subnets!.delete(ctx('req-delete'), subnet.id);
        assert.deepEqual(within.network?.subnets, []);
        assert.deepEqual(within.subnets, []);
        assert.equal(await count(local.kysely, 'subnets', 'id', subnet.id), 0);
        assert.equal((await c('GET', `/v2.0/subnets/${subnet.id}`)).status, 200, 'central still has it');
        // The guard is the delete request's only: a later request's GET copies it again (reference §4.2).
        assert.deepEqual((await plugin.networks!.get(ctx('req-later'), network.id)).subnets, [subnet.id]);
      } finally {
        await db.close();
      }
    });

    it('ten concurrent boots on an unseen network, over two servers on one database: one network, subnet and DHCP port', async () => {
      const { network, subnet } = await centralNetwork();
      const servers = [local, sibling];
      const boots = Array.from({ length: 10 }, async (_, i) => {
        const server = servers[i % 2]!;
        await ok(l(server, 'GET', `/v2.0/networks/${network.id}`));
        return (await ok(l(server, 'POST', '/v2.0/ports', { port: { network_id: network.id, device_owner: 'compute:nova', device_id: `vm${i}` } }), 201)).port;
      });
      const ports = await Promise.all(boots);
      assert.equal(new Set(ports.map((p) => p.id)).size, 10);
      assert.equal(await count(local.kysely, 'networks', 'id', network.id), 1);
      assert.equal(await count(local.kysely, 'subnets', 'network_id', network.id), 1);
      const localPorts = await local.kysely.selectFrom('ports').select(['id', 'device_owner']).where('network_id', '=', network.id).execute();
      assert.equal(localPorts.filter((p) => p.device_owner === 'network:dhcp').length, 1);
      assert.equal(localPorts.filter((p) => p.device_owner === 'compute:nova').length, 10);
      assert.equal((await centralPortsNamed(`dhcp_port_${subnet.id}`)).length, 1);
      assert.equal((await centralPortsNamed(`interface_${REGION}_${subnet.id}`)).length, 1);
      const centralCompute = (await ok(c('GET', `/v2.0/ports?network_id=${network.id}&device_owner=compute:nova`))).ports as Json[];
      assert.deepEqual(centralCompute.map((p) => p.id).sort(), ports.map((p) => p.id).sort());
    });
  });
}

// Central and local Neutrons validating real Keystone tokens: the region's internal work on
// central (reserved ports, binding reports) is done with the [client] admin token when one is
// configured, and with the caller's token otherwise. Skipped where Keystone cannot start,
// unless TRICIRCLE_TEST_REQUIRE_KEYSTONE=1.
describe('local Neutron role with auth_strategy = keystone (real Keystone)', () => {
  let unavailable: string | undefined;
  const databases: TestDatabase[] = [];
  const servers: Server[] = [];
  let central: Server;
  let withAdmin: Server; // [client] admin credentials
  let withoutAdmin: Server; // none: the caller's token does everything
  let keystoneDown: Server; // [client] auth_url on a closed port
  let keystone: string;
  let adminToken: string;
  let demoToken: string; // demo/demo, a member of project demo

  const test = (name: string, fn: () => Promise<void>) =>
    it(name, async (t: TestContext) => {
      if (unavailable) return t.skip(unavailable);
      await fn();
    });
  const withToken = (token: string) => ({ 'x-auth-token': token });

  before(async () => {
    const up = await keystoneUp();
    if (!up.url) {
      unavailable = `no Keystone here: ${up.problem}`;
      return;
    }
    keystone = up.url;
    [adminToken, demoToken] = await Promise.all([issueToken(keystone, 'admin', 'admin', 'admin'), issueToken(keystone, 'demo', 'demo', 'demo')]);
    const sqlite = (await engines()).find((engine) => engine.name === 'sqlite')!;
    databases.push(...(await Promise.all([sqlite.create(), sqlite.create(), sqlite.create(), sqlite.create()])));
    const auth: Overrides = keystoneAuthOptions(keystone);
    central = await startServer(databases[0]!.connection, { ...auth, ...CENTRAL });
    servers.push(central);
    const local = { ...auth, ...LOCAL(central.url) };
    const client = { auth_url: keystone, admin_username: 'admin', admin_password: 'admin', admin_tenant: 'admin', neutron_timeout: '60' };
    withAdmin = await startServer(databases[1]!.connection, { ...local, client }, { region: REGION });
    servers.push(withAdmin);
    withoutAdmin = await startServer(databases[2]!.connection, local, { region: REGION });
    servers.push(withoutAdmin);
    const down = { ...client, auth_url: `http://127.0.0.1:${await closedPort()}/v3` };
    keystoneDown = await startServer(databases[3]!.connection, { ...local, client: down }, { region: REGION });
    servers.push(keystoneDown);
  });

  after(async () => {
    for (const server of servers.reverse()) await server.close();
    for (const database of databases) await database.drop();
  });

  /** A shared central network of project admin with one DHCP subnet: its reserved ports belong to admin. */
  async function sharedNetwork(cidr: string, attributes: Json = {}): Promise<{ network: Json; subnet: Json }> {
    const admin = withToken(adminToken);
    const network = (await ok(call(central.url, 'POST', '/v2.0/networks', { network: { name: 'shared', shared: true, ...attributes } }, admin), 201)).network;
    const subnet = (await ok(call(central.url, 'POST', '/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr } }, admin), 201)).subnet;
    return { network, subnet };
  }

  test("a member's GET of a shared network creates the reserved ports on central with the [client] admin token", async () => {
    const { network, subnet } = await sharedNetwork('10.200.1.0/24');
    central.seen.length = 0;
    const copy = (await ok(call(withAdmin.url, 'GET', `/v2.0/networks/${network.id}`, undefined, withToken(demoToken)))).network;
    assert.deepEqual(copy.subnets, [subnet.id]);
    const reserved = (await ok(call(central.url, 'GET', `/v2.0/ports?network_id=${network.id}`, undefined, withToken(adminToken)))).ports as Json[];
    assert.deepEqual(reserved.map((p) => p.name).sort(), [`dhcp_port_${subnet.id}`, `interface_${REGION}_${subnet.id}`]);
    const posts = central.seen.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 2);
    for (const post of posts) assert.notEqual(post.token, demoToken, 'a reserved port is not created with the caller token');
    assert.equal(central.seen.find((r) => r.method === 'GET' && r.url.startsWith(`/v2.0/networks/${network.id}`))?.token, demoToken);
  });

  test("a member's GET copies central's provider segment, read with the [client] admin token", async () => {
    const segment = { 'provider:network_type': 'vxlan', 'provider:segmentation_id': 4321 };
    const { network } = await sharedNetwork('10.204.1.0/24', segment);
    const memberView = (await ok(call(withAdmin.url, 'GET', `/v2.0/networks/${network.id}`, undefined, withToken(demoToken)))).network;
    assert.equal(memberView['provider:network_type'], undefined, 'provider attributes stay admin-only');
    const copy = (await ok(call(withAdmin.url, 'GET', `/v2.0/networks/${network.id}`, undefined, withToken(adminToken)))).network;
    assert.deepEqual([copy['provider:network_type'], copy['provider:segmentation_id']], ['vxlan', 4321]);

    // Without [client] credentials the member's view has no segment to copy: the region allocates its own.
    const { network: unseen, subnet } = await sharedNetwork('10.204.2.0/24', { ...segment, 'provider:segmentation_id': 4322 });
    // No subnet, so no reserved ports that the member's token may not create.
    await ok(call(central.url, 'DELETE', `/v2.0/subnets/${subnet.id}`, undefined, withToken(adminToken)), 204);
    await ok(call(withoutAdmin.url, 'GET', `/v2.0/networks/${unseen.id}`, undefined, withToken(demoToken)));
    const own = (await ok(call(withoutAdmin.url, 'GET', `/v2.0/networks/${unseen.id}`, undefined, withToken(adminToken)))).network;
    assert.equal(own['provider:network_type'], 'vlan');
  });

  test("without [client] credentials the member's own token cannot create another project's reserved ports", async () => {
    const { network } = await sharedNetwork('10.201.1.0/24');
    const reply = await call(withoutAdmin.url, 'GET', `/v2.0/networks/${network.id}`, undefined, withToken(demoToken));
    assert.equal(reply.status, 400, reply.text);
    assert.match((reply.body as Json).NeutronError.message, /Central Neutron: .*project_id.* requires admin/);
  });

  test('a binding is reported to central with the [client] admin token', async () => {
    const { network } = await sharedNetwork('10.202.1.0/24');
    const caller = withToken(adminToken);
    const port = (
      await ok(call(withAdmin.url, 'POST', '/v2.0/ports', { port: { network_id: network.id, device_owner: 'compute:nova', device_id: 'vm1' } }, caller), 201)
    ).port;
    central.seen.length = 0;
    await ok(call(withAdmin.url, 'PUT', `/v2.0/ports/${port.id}`, { port: { 'binding:host_id': 'compute-1' } }, caller));
    const puts = central.seen.filter((r) => r.method === 'PUT');
    assert.equal(puts.length, 1);
    assert.notEqual(puts[0]!.token, adminToken, "the [client] admin's own token, not the caller's");
    const profile = (await ok(call(central.url, 'GET', `/v2.0/ports/${port.id}`, undefined, caller))).port['binding:profile'];
    assert.equal(profile.region, REGION);
    assert.equal(profile['binding:host_id'], 'compute-1');

    // The admin token revoked in Keystone: central answers 401, the region gets a new one and reports again.
    const revoked = await fetch(`${keystone}/auth/tokens`, { method: 'DELETE', headers: { 'x-auth-token': adminToken, 'x-subject-token': puts[0]!.token! } });
    assert.equal(revoked.status, 204, await revoked.text());
    central.seen.length = 0;
    await ok(call(withAdmin.url, 'PUT', `/v2.0/ports/${port.id}`, { port: { 'binding:host_id': 'compute-2' } }, caller));
    const retried = central.seen.filter((r) => r.method === 'PUT').map((r) => r.token);
    // Central's auth refuses the revoked token before the recording hook runs, so only the
    // retry is seen; the token lives a day, so only the 401 can have made the region renew it.
    assert.equal(retried.length, 1);
    assert.notEqual(retried[0], puts[0]!.token);
    assert.equal((await ok(call(central.url, 'GET', `/v2.0/ports/${port.id}`, undefined, caller))).port['binding:profile']['binding:host_id'], 'compute-2');
  });

  test('Keystone unreachable for the [client] admin token: a 503 saying so', async () => {
    const { network } = await sharedNetwork('10.203.1.0/24');
    const reply = await call(keystoneDown.url, 'GET', `/v2.0/networks/${network.id}`, undefined, withToken(adminToken));
    assert.equal(reply.status, 503, reply.text);
    assert.match((reply.body as Json).NeutronError.message, /No admin token for the central Neutron: Keystone at .* cannot be reached/);
  });
});
