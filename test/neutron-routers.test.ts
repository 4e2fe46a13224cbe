import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestDatabase } from './support/engines.js';
import { assertError, counts, externalNet, netWithSubnet, router, type Api } from './support/l3.js';
import { ADMIN, MEMBER, OTHER, neutronClient, startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// Routers over real HTTP on every engine: CRUD, the external gateway, extra routes, the
// interface actions and their in-use checks, and bad input, answered as the real Neutron
// (Zed) answers. Floating IPs: neutron-floating-ips.test.ts.

const ROUTER_KEYS = [
  'admin_state_up',
  'availability_zone_hints',
  'availability_zones',
  'created_at',
  'description',
  'distributed',
  'external_gateway_info',
  'ha',
  'id',
  'name',
  'project_id',
  'revision_number',
  'routes',
  'status',
  'tags',
  'tenant_id',
  'updated_at',
];

for (const engine of await engines()) {
  describe(`Neutron routers on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let server: RunningNeutronApi;
    let api: Api;
    let ext: { networkId: string; subnetId: string };

    before(async () => {
      database = await engine.create();
      server = await startNeutronApi(database.connection);
      api = neutronClient(server.url);
      ext = await externalNet(api, '203.0.113.0/24');
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    it('creates, shows, updates and deletes a router with the attributes Neutron shows', async () => {
      const r = await router(api, { name: 'r1', description: 'd' });
      assert.deepEqual(Object.keys(r).sort(), ROUTER_KEYS);
      assert.equal(r.status, 'ACTIVE');
      assert.equal(r.admin_state_up, true);
      assert.equal(r.external_gateway_info, null);
      assert.deepEqual(r.routes, []);
      assert.equal(r.distributed, false);
      assert.equal(r.ha, false);
      assert.equal(r.tenant_id, 'admin');
      const updated = await api.put(`/v2.0/routers/${r.id}`, { router: { name: 'r1b', admin_state_up: false } });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.router.name, 'r1b');
      assert.equal(updated.body.router.revision_number, 2);
      assert.equal((await api.del(`/v2.0/routers/${r.id}`)).status, 204);
      assertError(await api.get(`/v2.0/routers/${r.id}`), 404, 'RouterNotFound', `Router ${r.id} could not be found`);
    });

    it('keeps distributed and ha to admins and routers to their project', async () => {
      const mine = await router(api, { name: 'member-router' }, MEMBER);
      assert.equal('distributed' in mine, false);
      assert.equal('ha' in mine, false);
      assertError(await api.post('/v2.0/routers', { router: { ha: true } }, MEMBER), 403, 'PolicyNotAuthorized');
      assertError(await api.get(`/v2.0/routers/${mine.id}`, OTHER), 404, 'RouterNotFound');
      assertError(await api.put(`/v2.0/routers/${mine.id}`, { router: { name: 'x' } }, OTHER), 404, 'RouterNotFound');
      assertError(await api.del(`/v2.0/routers/${mine.id}`, OTHER), 404, 'RouterNotFound');
      assert.deepEqual((await api.get('/v2.0/routers', OTHER)).body.routers, []);
      assertError(await api.put(`/v2.0/routers/${mine.id}`, { router: { ha: true } }), 400, 'BadRequest', /Cannot change HA attribute of active routers/);
      const down = await api.put(`/v2.0/routers/${mine.id}`, { router: { ha: true, admin_state_up: false } });
      assert.equal(down.body.router.ha, true);
    });

    it('sets, shows and clears the external gateway', async () => {
      const r = await router(api, { name: 'gw', external_gateway_info: { network_id: ext.networkId } });
      const info = r.external_gateway_info;
      assert.equal(info.network_id, ext.networkId);
      assert.equal(info.enable_snat, true);
      assert.equal(info.external_fixed_ips.length, 1);
      assert.equal(info.external_fixed_ips[0].subnet_id, ext.subnetId);
      const ports = (await api.get(`/v2.0/ports?device_id=${r.id}`)).body.ports;
      assert.equal(ports.length, 1);
      assert.equal(ports[0].device_owner, 'network:router_gateway');
      assert.equal(ports[0].fixed_ips[0].ip_address, info.external_fixed_ips[0].ip_address);

      const fixed = await api.put(`/v2.0/routers/${r.id}`, {
        router: { external_gateway_info: { network_id: ext.networkId, enable_snat: false, external_fixed_ips: [{ ip_address: '203.0.113.200' }] } },
      });
      assert.equal(fixed.status, 200, fixed.text);
      assert.equal(fixed.body.router.external_gateway_info.enable_snat, false);
      assert.deepEqual(fixed.body.router.external_gateway_info.external_fixed_ips, [{ subnet_id: ext.subnetId, ip_address: '203.0.113.200' }]);
      const cleared = await api.put(`/v2.0/routers/${r.id}`, { router: { external_gateway_info: {} } });
      assert.equal(cleared.body.router.external_gateway_info, null);
      assert.deepEqual((await api.get(`/v2.0/ports?device_id=${r.id}`)).body.ports, []);
      // A member sets a gateway by network only; SNAT and addresses are the admin's.
      const own = await router(api, {}, MEMBER);
      const set = await api.put(`/v2.0/routers/${own.id}`, { router: { external_gateway_info: { network_id: ext.networkId } } }, MEMBER);
      assert.equal(set.status, 200, set.text);
      const snat = { router: { external_gateway_info: { network_id: ext.networkId, enable_snat: false } } };
      assertError(await api.put(`/v2.0/routers/${own.id}`, snat, MEMBER), 403, 'PolicyNotAuthorized');
    });

    it('adds and removes interfaces by subnet and by port, with Neutron in-use checks', async () => {
      const r = await router(api, { name: 'ifaces', external_gateway_info: { network_id: ext.networkId } });
      const a = await netWithSubnet(api, '10.1.0.0/24');
      const added = await api.put(`/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: a.subnetId });
      assert.equal(added.status, 200, added.text);
      assert.deepEqual(Object.keys(added.body).sort(), ['id', 'network_id', 'port_id', 'subnet_id', 'subnet_ids', 'tenant_id']);
      assert.equal(added.body.id, r.id);
      assert.equal(added.body.network_id, a.networkId);
      assert.deepEqual(added.body.subnet_ids, [a.subnetId]);
      const port = (await api.get(`/v2.0/ports/${added.body.port_id}`)).body.port;
      assert.equal(port.device_owner, 'network:router_interface');
      assert.equal(port.device_id, r.id);
      assert.deepEqual(port.fixed_ips, [{ subnet_id: a.subnetId, ip_address: '10.1.0.1' }]);

      const add = (body: unknown) => api.put(`/v2.0/routers/${r.id}/add_router_interface`, body);
      assertError(await add({ subnet_id: a.subnetId }), 400, 'BadRequest', `Bad router request: Router already has a port on subnet ${a.subnetId}.`);
      assertError(await add({ subnet_id: ext.subnetId }), 400, 'BadRequest', `Bad router request: Router already has a port on subnet ${ext.subnetId}.`);
      const overlapping = await netWithSubnet(api, '10.1.0.0/16');
      assertError(await add({ subnet_id: overlapping.subnetId }), 400, 'BadRequest', /Cidr 10\.1\.0\.0\/16 of subnet .* overlaps with cidr 10\.1\.0\.0\/24/);
      const other = await router(api, { name: 'other' });
      const again = await api.put(`/v2.0/routers/${other.id}/add_router_interface`, { subnet_id: a.subnetId });
      assertError(again, 409, 'IpAddressAlreadyAllocated');
      const noGateway = await netWithSubnet(api, '10.2.0.0/24', {}, ADMIN, { gateway_ip: null });
      const before2 = await counts(server.db);
      assertError(await add({ subnet_id: noGateway.subnetId }), 400, 'BadRequest', 'Bad router request: Subnet for router interface must have a gateway IP.');
      assertError(await add({}), 400, 'BadRequest', 'Bad router request: Either subnet_id or port_id must be specified.');
      assertError(await add({ subnet_id: a.subnetId, port_id: port.id }), 400, 'BadRequest', 'Bad router request: Cannot specify both subnet-id and port-id.');
      assertError(await add({ subnet_id: 'nope' }), 400, 'BadRequest', "Bad router request: 'nope' is not a valid UUID.");
      assertError(await add({ port_id: port.id }), 409, 'PortInUse');
      assert.deepEqual(await counts(server.db), before2);

      // By port: an existing port with no device becomes the interface.
      const userPort = await api.post('/v2.0/ports', { port: { network_id: noGateway.networkId } });
      const byPort = await add({ port_id: userPort.body.port.id });
      assert.equal(byPort.status, 200, byPort.text);
      assert.deepEqual(byPort.body.subnet_ids, [noGateway.subnetId]);
      const attached = (await api.get(`/v2.0/ports/${userPort.body.port.id}`)).body.port;
      assert.equal(attached.device_owner, 'network:router_interface');
      assert.equal(attached.device_id, r.id);

      // In use: the router, the subnet.
      assertError(await api.del(`/v2.0/routers/${r.id}`), 409, 'RouterInUse', new RegExp(`^Router ${r.id} has ports still attached: `));
      assertError(await api.del(`/v2.0/subnets/${a.subnetId}`), 409, 'SubnetInUse');

      // Extra routes: nexthop on a connected subnet, not the router's own address; update replaces.
      const routes = (list: unknown) => api.put(`/v2.0/routers/${r.id}`, { router: { routes: list } });
      assertError(
        await routes([{ destination: '192.168.0.0/24', nexthop: '10.9.0.5' }]),
        400,
        'InvalidRoutes',
        "Invalid format for routes: [{'destination': '192.168.0.0/24', 'nexthop': '10.9.0.5'}], the nexthop is not connected with router",
      );
      assertError(await routes([{ destination: '192.168.0.0/24', nexthop: '10.1.0.1' }]), 400, 'InvalidRoutes', /the nexthop is used by router$/);
      const set = await routes([{ destination: '192.168.0.0/24', nexthop: '10.1.0.5' }]);
      assert.deepEqual(set.body.router.routes, [{ destination: '192.168.0.0/24', nexthop: '10.1.0.5' }]);
      const remove = (body: unknown) => api.put(`/v2.0/routers/${r.id}/remove_router_interface`, body);
      assertError(
        await remove({ subnet_id: a.subnetId }),
        409,
        'RouterInterfaceInUseByRoute',
        `Router interface for subnet ${a.subnetId} on router ${r.id} cannot be deleted, as it is required by one or more routes.`,
      );
      assert.deepEqual((await routes([])).body.router.routes, []);

      // Removal: by subnet, by port; an interface that is not there is 404.
      const removed = await remove({ subnet_id: a.subnetId });
      assert.equal(removed.status, 200, removed.text);
      assert.equal(removed.body.port_id, added.body.port_id);
      assertError(await api.get(`/v2.0/ports/${added.body.port_id}`), 404, 'PortNotFound');
      assertError(await remove({ subnet_id: a.subnetId }), 404, 'RouterInterfaceNotFoundForSubnet', `Router ${r.id} has no interface on subnet ${a.subnetId}`);
      assertError(
        await remove({ port_id: added.body.port_id }),
        404,
        'RouterInterfaceNotFound',
        `Router ${r.id} does not have an interface with id ${added.body.port_id}`,
      );
      assert.equal((await remove({ port_id: userPort.body.port.id })).status, 200);
      assert.equal((await api.del(`/v2.0/routers/${r.id}`)).status, 204);
      assert.equal((await api.del(`/v2.0/subnets/${a.subnetId}`)).status, 204);
    });

    it('refuses bad input with Neutron error and writes nothing', async () => {
      const r = await router(api, { name: 'bad' }, MEMBER);
      const priv = await netWithSubnet(api, '10.50.0.0/24', {}, MEMBER);
      const theirs = await netWithSubnet(api, '10.60.0.0/24', {}, OTHER);
      const cases: Array<[string, () => Promise<any>, number, string, (string | RegExp)?]> = [
        ['unknown attribute', () => api.post('/v2.0/routers', { router: { bogus: 1 } }, MEMBER), 400, 'HTTPBadRequest', "Unrecognized attribute(s) 'bogus'"],
        ['wrong type', () => api.post('/v2.0/routers', { router: { name: 5 } }, MEMBER), 400, 'HTTPBadRequest'],
        [
          'routes in POST',
          () => api.post('/v2.0/routers', { router: { routes: [] } }, MEMBER),
          400,
          'HTTPBadRequest',
          "Attribute 'routes' not allowed in POST",
        ],
        ['bad admin_state_up', () => api.post('/v2.0/routers', { router: { admin_state_up: 'x' } }, MEMBER), 400, 'InvalidInput'],
        [
          'gateway not a dict',
          () => api.put(`/v2.0/routers/${r.id}`, { router: { external_gateway_info: 'x' } }, MEMBER),
          400,
          'HTTPBadRequest',
          "Invalid input for external_gateway_info. Reason: 'x' is not a dictionary.",
        ],
        [
          'gateway unknown key',
          () => api.put(`/v2.0/routers/${r.id}`, { router: { external_gateway_info: { network_id: ext.networkId, foo: 1 } } }, MEMBER),
          400,
          'HTTPBadRequest',
          'Invalid input for external_gateway_info. Reason: Unexpected keys supplied: foo.',
        ],
        [
          'gateway on a non-external network',
          () => api.put(`/v2.0/routers/${r.id}`, { router: { external_gateway_info: { network_id: priv.networkId } } }, MEMBER),
          400,
          'BadRequest',
          `Bad router request: Network ${priv.networkId} is not an external network.`,
        ],
        [
          'gateway on a missing network',
          () => api.put(`/v2.0/routers/${r.id}`, { router: { external_gateway_info: { network_id: '13b11cad-d503-42c2-9830-9fb71170a0fa' } } }, MEMBER),
          404,
          'NetworkNotFound',
        ],
        ['routes not a list', () => api.put(`/v2.0/routers/${r.id}`, { router: { routes: 'x' } }, MEMBER), 400, 'HTTPBadRequest'],
        [
          'route nexthop off-subnet',
          () => api.put(`/v2.0/routers/${r.id}`, { router: { routes: [{ destination: '1.0.0.0/8', nexthop: '10.50.0.9' }] } }, MEMBER),
          400,
          'InvalidRoutes',
        ],
        ['unknown AZ hint', () => api.post('/v2.0/routers', { router: { availability_zone_hints: ['nowhere'] } }, MEMBER), 404, 'AvailabilityZoneNotFound'],
        [
          "another project's subnet",
          () => api.put(`/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: theirs.subnetId }, MEMBER),
          404,
          'SubnetNotFound',
        ],
        ["another project's router", () => api.put(`/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: theirs.subnetId }, OTHER), 404, 'RouterNotFound'],
        ['unknown action', () => api.put(`/v2.0/routers/${r.id}/frobnicate`, {}, MEMBER), 404, 'HTTPNotFound'],
        ['malformed JSON', () => api.put(`/v2.0/routers/${r.id}/add_router_interface`, '{', MEMBER), 400, 'HTTPBadRequest'],
      ];
      for (const [name, request, status, type, message] of cases) {
        const before = await counts(server.db);
        const reply = await request();
        assertError(reply, status, type, message);
        assert.deepEqual(await counts(server.db), before, name);
      }
      assert.deepEqual((await api.get(`/v2.0/routers/${r.id}`, MEMBER)).body.router.routes, []);
    });
  });
}
