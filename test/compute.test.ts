import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CIRROS_IMAGE_ID } from '../src/compute/index.js';
import { startComputeApi, type RunningComputeApi } from './support/compute-server.js';
import { engines, type TestDatabase } from './support/engines.js';
import { call, MEMBER, neutronClient, OTHER, startNeutronApi, type Headers, type RunningNeutronApi } from './support/neutron-server.js';
import { closedPort } from './support/net.js';

// The compute service against a real Neutron server, each its own HTTP server, on every
// database engine: the ports Nova's boot makes, Nova's errors, and servers that outlive
// the process.

for (const engine of await engines()) {
  describe(`compute against Neutron (${engine.name})`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let neutron: RunningNeutronApi;
    let compute: RunningComputeApi;
    let network: Record<string, any>;
    let subnet: Record<string, any>;
    const net = () => neutronClient(neutron.url);
    const nova = (method: string, path: string, body?: unknown, headers: Headers = MEMBER) => call(compute.url, method, `/v2.1${path}`, body, headers);
    const boot = (name: string, networks: unknown, headers: Headers = MEMBER) =>
      nova('POST', '/servers', { server: { name, flavorRef: '1', imageRef: CIRROS_IMAGE_ID, networks } }, headers);
    const portsOf = async (deviceId: string) => (await net().get(`/v2.0/ports?device_id=${deviceId}`)).body.ports as Array<Record<string, any>>;
    const serverCount = async () =>
      Number(
        (
          await compute.db.kysely
            .selectFrom('compute_servers' as never)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );

    before(async () => {
      database = await engine.create();
      neutron = await startNeutronApi(database.connection);
      compute = await startComputeApi(database.connection, neutron.url);
      network = await net().network({ name: 'private' }, MEMBER);
      const reply = await net().post('/v2.0/subnets', { subnet: { network_id: network.id, cidr: '10.0.0.0/24', ip_version: 4 } }, MEMBER);
      assert.equal(reply.status, 201, reply.text);
      subnet = reply.body.subnet;
    });
    after(async () => {
      await compute?.close();
      await neutron?.close();
      await database?.drop();
    });

    it('boots on a network: a port for the server, bound to the host, and the server ACTIVE with its address', async () => {
      const created = await boot('vm1', [{ uuid: network.id }]);
      assert.equal(created.status, 202, created.text);
      const id = created.body.server.id;
      assert.equal(created.headers.get('location'), `${compute.url}/v2.1/servers/${id}`);

      const [port, ...more] = await portsOf(id);
      assert.equal(more.length, 0);
      assert.equal(port!.device_owner, 'compute:nova');
      assert.equal(port!['binding:host_id'], 'RegionOne-compute1');
      assert.equal(port!.project_id, MEMBER['x-project-id'], "the port is created as the caller, in the caller's project");
      assert.equal(port!.fixed_ips[0].subnet_id, subnet.id);

      const shown = await nova('GET', `/servers/${id}`);
      assert.equal(shown.status, 200, shown.text);
      assert.equal(shown.body.server.status, 'ACTIVE');
      assert.equal(shown.body.server.tenant_id, MEMBER['x-project-id']);
      assert.equal(shown.body.server['OS-EXT-AZ:availability_zone'], 'nova');
      assert.deepEqual(shown.body.server.addresses, {
        private: [{ addr: port!.fixed_ips[0].ip_address, version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port!.mac_address }],
      });
      assert.deepEqual(shown.body.server.flavor, { id: '1', links: [{ rel: 'bookmark', href: `${compute.url}/flavors/1` }] });

      assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
      assert.equal((await net().get(`/v2.0/ports/${port!.id}`)).status, 404, 'the port it created is deleted');
      assert.equal((await nova('GET', `/servers/${id}`)).status, 404);
    });

    it('boots on a given port, refuses one in use, and leaves it unbound and free on delete', async () => {
      const given = (await net().post('/v2.0/ports', { port: { network_id: network.id, name: 'mine' } }, MEMBER)).body.port;
      const created = await boot('vm-port', [{ port: given.id }]);
      assert.equal(created.status, 202, created.text);
      const id = created.body.server.id;
      const claimed = (await net().get(`/v2.0/ports/${given.id}`)).body.port;
      assert.equal(claimed.device_id, id);
      assert.equal(claimed.device_owner, 'compute:nova');
      assert.equal(claimed['binding:host_id'], 'RegionOne-compute1');

      const again = await boot('vm-port-2', [{ port: given.id }]);
      assert.equal(again.status, 409);
      assert.deepEqual(again.body, { conflictingRequest: { message: `Port ${given.id} is still in use.`, code: 409 } });

      assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
      const left = (await net().get(`/v2.0/ports/${given.id}`)).body.port;
      assert.equal(left.device_id, '');
      assert.equal(left.device_owner, '');
      assert.equal(left['binding:host_id'], '');
      assert.equal(left.mac_address, given.mac_address);
    });

    it("lists and shows the project's servers, with name and status filters and pages, and hides them from other projects", async () => {
      const ids: string[] = [];
      for (const name of ['list-a', 'list-b', 'list-c']) ids.push((await boot(name, [{ uuid: network.id }])).body.server.id);
      const listed = await nova('GET', '/servers');
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.servers.map((s: { id: string }) => s.id).sort(), [...ids].sort());
      assert.deepEqual(Object.keys(listed.body.servers[0]).sort(), ['id', 'links', 'name']);

      const detail = await nova('GET', '/servers/detail?name=list-b');
      assert.deepEqual(
        detail.body.servers.map((s: { name: string; status: string }) => [s.name, s.status]),
        [['list-b', 'ACTIVE']],
      );
      assert.equal((await nova('GET', '/servers/detail?status=ERROR')).body.servers.length, 0);

      const first = await nova('GET', '/servers?limit=2');
      assert.equal(first.body.servers.length, 2);
      const next = new URL(first.body.servers_links[0].href);
      const second = await call(compute.url, 'GET', `${next.pathname}${next.search}`, undefined, MEMBER);
      assert.deepEqual([...first.body.servers, ...second.body.servers].map((s: { id: string }) => s.id).sort(), [...ids].sort());

      assert.equal((await nova('GET', '/servers', undefined, OTHER)).body.servers.length, 0);
      const hidden = await nova('GET', `/servers/${ids[0]}`, undefined, OTHER);
      assert.equal(hidden.status, 404);
      assert.equal((await nova('DELETE', `/servers/${ids[0]}`, undefined, OTHER)).status, 404);
      for (const id of ids) assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
    });

    it("answers in Nova's error format: unknown network or server, bad fields, and a failed boot leaves no port", async () => {
      const unknown = '0b2f1a4e-3c5d-4e6f-8a9b-0c1d2e3f4a5b';
      const noNetwork = await boot('bad', [{ uuid: unknown }]);
      assert.equal(noNetwork.status, 400);
      assert.deepEqual(noNetwork.body, { badRequest: { message: `Network ${unknown} could not be found.`, code: 400 } });

      const noServer = await nova('GET', `/servers/${unknown}`);
      assert.deepEqual([noServer.status, noServer.body], [404, { itemNotFound: { message: `Instance ${unknown} could not be found.`, code: 404 } }]);

      const badName = await nova('POST', '/servers', { server: { name: 5, flavorRef: '1', imageRef: CIRROS_IMAGE_ID, networks: 'none' } });
      assert.equal(badName.status, 400);
      assert.match(badName.body.badRequest.message, /field\/attribute name/);
      const badFlavor = await nova('POST', '/servers', { server: { name: 'x', flavorRef: '99', imageRef: CIRROS_IMAGE_ID, networks: 'none' } });
      assert.equal(badFlavor.body.badRequest.message, 'Flavor 99 could not be found.');
      const auto = await nova('POST', '/servers', { server: { name: 'x', flavorRef: '1', imageRef: CIRROS_IMAGE_ID } });
      assert.equal(auto.status, 400);
      assert.match(auto.body.badRequest.message, /automatically allocate/);

      // The first network's port is made before the second network turns out unknown: it is undone.
      const before = (await net().get('/v2.0/ports')).body.ports.length;
      const half = await boot('half', [{ uuid: network.id }, { uuid: unknown }]);
      assert.equal(half.status, 400);
      assert.equal((await net().get('/v2.0/ports')).body.ports.length, before);
      assert.equal((await nova('GET', '/servers?name=half')).body.servers.length, 0);
    });

    it('answers 503 when Neutron cannot be reached, and stores no server', async () => {
      const offline = await startComputeApi(database.connection, `http://127.0.0.1:${await closedPort()}`);
      try {
        const count = await serverCount();
        const reply = await call(
          offline.url,
          'POST',
          '/v2.1/servers',
          { server: { name: 'offline', flavorRef: '1', imageRef: CIRROS_IMAGE_ID, networks: [{ uuid: network.id }] } },
          MEMBER,
        );
        assert.equal(reply.status, 503, reply.text);
        assert.match(reply.body.serviceUnavailable.message, /cannot be reached/);
        assert.equal(await serverCount(), count);
      } finally {
        await offline.close();
      }
    });

    it('keeps servers across a restart of the compute service', async () => {
      const id = (await boot('durable', [{ uuid: network.id }])).body.server.id;
      await compute.close();
      compute = await startComputeApi(database.connection, neutron.url);
      const shown = await nova('GET', `/servers/${id}`);
      assert.equal(shown.status, 200);
      assert.equal(shown.body.server.name, 'durable');
      assert.equal(Object.keys(shown.body.server.addresses)[0], 'private');
      assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
      assert.deepEqual(await portsOf(id), []);
    });

    it('serves version documents, microversions, flavors and images (Nova and Glance)', async () => {
      const root = await call(compute.url, 'GET', '/', undefined, {});
      assert.equal(root.body.versions[0].id, 'v2.1');
      assert.equal(root.body.versions[0].min_version, '2.1');
      const v47 = await boot('mv', 'none', { ...MEMBER, 'openstack-api-version': 'compute 2.47' });
      assert.equal(v47.status, 202, v47.text);
      assert.equal(v47.headers.get('openstack-api-version'), 'compute 2.47');
      const shown = await nova('GET', `/servers/${v47.body.server.id}`, undefined, { ...MEMBER, 'x-openstack-nova-api-version': '2.47' });
      assert.equal(shown.body.server.flavor.original_name, 'm1.tiny');
      assert.deepEqual(shown.body.server.addresses, {});
      const tooNew = await nova('GET', '/servers', undefined, { ...MEMBER, 'openstack-api-version': 'compute 2.99' });
      assert.equal(tooNew.status, 406);
      assert.equal((await nova('DELETE', `/servers/${v47.body.server.id}`)).status, 204);

      const flavors = await nova('GET', '/flavors/detail');
      assert.deepEqual(
        flavors.body.flavors.map((f: { name: string }) => f.name),
        ['m1.tiny', 'm1.small', 'm1.medium', 'm1.large', 'm1.xlarge'],
      );
      assert.equal((await nova('GET', '/flavors/3')).body.flavor.vcpus, 2);
      assert.equal((await nova('GET', '/flavors/42')).status, 404);
      const glance = await call(compute.url, 'GET', '/v2/images', undefined, MEMBER);
      assert.deepEqual(
        glance.body.images.map((i: { id: string; status: string }) => [i.id, i.status]),
        [[CIRROS_IMAGE_ID, 'active']],
      );
      assert.equal((await call(compute.url, 'GET', `/image/v2/images/${CIRROS_IMAGE_ID}`, undefined, MEMBER)).body.disk_format, 'qcow2');
      assert.equal((await nova('GET', `/images/${CIRROS_IMAGE_ID}`)).body.image.status, 'ACTIVE');
    });
  });
}
