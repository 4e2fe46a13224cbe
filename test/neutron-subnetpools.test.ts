import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestDatabase } from './support/engines.js';
import { ADMIN, MEMBER, OTHER, neutronClient, startNeutronApi, type Headers, type RunningNeutronApi } from './support/neutron-server.js';

// Subnet pools over real HTTP on every engine: attributes and defaults as the real Neutron
// (Zed) derives them, allocation of the next free prefix (best fit, as Neutron picks it),
// specific prefixes, exhaustion, the default pool, sharing, updates and deletes.

const error = (reply: { status: number; body: any }) => [reply.status, reply.body?.NeutronError?.type];

for (const engine of await engines()) {
  describe(`Neutron subnet pools on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let server: RunningNeutronApi;
    let api: ReturnType<typeof neutronClient>;
    const pool = async (attrs: Record<string, unknown>, headers: Headers = ADMIN) => {
      const reply = await api.post('/v2.0/subnetpools', { subnetpool: { name: 'pool', ...attrs } }, headers);
      assert.equal(reply.status, 201, reply.text);
      return reply.body.subnetpool as Record<string, any>;
    };
    const fromPool = (networkId: string, poolId: string, extra: Record<string, unknown> = {}, headers: Headers = ADMIN) =>
      api.post('/v2.0/subnets', { subnet: { network_id: networkId, ip_version: 4, subnetpool_id: poolId, ...extra } }, headers);

    before(async () => {
      database = await engine.create();
      server = await startNeutronApi(database.connection);
      api = neutronClient(server.url);
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    it('derives ip_version and prefix bounds, and merges prefixes', async () => {
      const p = await pool({ prefixes: ['10.100.0.0/17', '10.100.128.0/17', '10.100.1.0/24'], default_prefixlen: 24 });
      assert.deepEqual(Object.keys(p).sort(), [
        'created_at',
        'default_prefixlen',
        'default_quota',
        'description',
        'id',
        'ip_version',
        'is_default',
        'max_prefixlen',
        'min_prefixlen',
        'name',
        'prefixes',
        'project_id',
        'revision_number',
        'shared',
        'tags',
        'tenant_id',
        'updated_at',
      ]);
      assert.deepEqual(p.prefixes, ['10.100.0.0/16']);
      assert.deepEqual([p.ip_version, p.min_prefixlen, p.max_prefixlen, p.default_prefixlen], [4, 8, 32, 24]);
      assert.deepEqual([p.shared, p.is_default, p.default_quota, p.revision_number], [false, false, null, 0]);
      const v6 = await pool({ prefixes: ['fd00:100::/48'] });
      assert.deepEqual([v6.ip_version, v6.min_prefixlen, v6.max_prefixlen, v6.default_prefixlen], [6, 64, 128, 64]);
      assert.deepEqual((await api.get(`/v2.0/subnetpools/${p.id}`)).body.subnetpool, p);
    });

    it('allocates the next free prefix, best fit first, and specific prefixes that are free', async () => {
      const p = await pool({ prefixes: ['10.101.0.0/16'], default_prefixlen: 24 });
      const net = await api.network();
      const cidr = async (extra: Record<string, unknown> = {}) => {
        const reply = await fromPool(net.id, p.id, extra);
        assert.equal(reply.status, 201, reply.text);
        return reply.body.subnet;
      };
      const first = await cidr();
      assert.deepEqual([first.cidr, first.gateway_ip, first.subnetpool_id], ['10.101.0.0/24', '10.101.0.1', p.id]);
      assert.deepEqual(first.allocation_pools, [{ start: '10.101.0.2', end: '10.101.0.254' }]);
      assert.equal((await cidr({ prefixlen: 26 })).cidr, '10.101.1.0/26');
      assert.equal((await cidr({ prefixlen: 26 })).cidr, '10.101.1.64/26');
      assert.equal((await cidr()).cidr, '10.101.2.0/24');
      assert.equal((await cidr({ cidr: '10.101.9.0/24' })).cidr, '10.101.9.0/24');
      const taken = await fromPool(net.id, p.id, { cidr: '10.101.9.0/25' });
      assert.deepEqual(error(taken), [409, 'SubnetAllocationError']);
      assert.equal(taken.body.NeutronError.message, 'Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.');
      assert.deepEqual(error(await fromPool(net.id, p.id, { prefixlen: 4 })), [400, 'MinPrefixSubnetAllocationError']);
      assert.deepEqual(error(await fromPool(net.id, p.id, { prefixlen: 33 })), [400, 'MaxPrefixSubnetAllocationError']);
      assert.deepEqual(error(await fromPool(net.id, p.id, { ip_version: 6 })), [400, 'BadRequest']);
      // A deleted subnet gives its prefix back.
      assert.equal((await api.del(`/v2.0/subnets/${first.id}`)).status, 204);
      assert.equal((await cidr()).cidr, '10.101.0.0/24');
      // Another network may take from the same pool, not from a second one for the same family.
      const other = await api.network();
      assert.equal((await fromPool(other.id, p.id)).body.subnet.cidr, '10.101.3.0/24');
      const plain = await api.post('/v2.0/subnets', { subnet: { network_id: other.id, ip_version: 4, cidr: '192.168.0.0/24' } });
      assert.deepEqual(error(plain), [400, 'NetworkSubnetPoolAffinityError']);
    });

    it('runs out with SubnetAllocationError and enforces default_quota', async () => {
      const small = await pool({ prefixes: ['10.102.0.0/28'], default_prefixlen: 29 });
      const net = await api.network();
      assert.equal((await fromPool(net.id, small.id)).status, 201);
      assert.equal((await fromPool(net.id, small.id)).status, 201);
      const full = await fromPool(net.id, small.id);
      assert.deepEqual(error(full), [409, 'SubnetAllocationError']);
      assert.equal(full.body.NeutronError.message, 'Failed to allocate subnet: Insufficient prefix space to allocate subnet size /29.');
      const quoted = await pool({ prefixes: ['10.103.0.0/16'], default_prefixlen: 24, default_quota: 512 });
      const n2 = await api.network();
      assert.equal((await fromPool(n2.id, quoted.id)).status, 201);
      assert.equal((await fromPool(n2.id, quoted.id)).status, 201);
      assert.deepEqual(error(await fromPool(n2.id, quoted.id)), [409, 'SubnetPoolQuotaExceeded']);
    });

    it('has one default pool per family, used by use_default_subnetpool', async () => {
      const def = await pool({ prefixes: ['10.104.0.0/16'], default_prefixlen: 26, is_default: true, shared: true });
      const second = await api.post('/v2.0/subnetpools', { subnetpool: { name: 'd2', prefixes: ['10.105.0.0/16'], is_default: true } });
      assert.deepEqual(error(second), [400, 'InvalidInput']);
      const net = await api.network({}, MEMBER);
      const s = await api.post('/v2.0/subnets', { subnet: { network_id: net.id, ip_version: 4, use_default_subnetpool: true } }, MEMBER);
      assert.equal(s.status, 201, s.text);
      assert.deepEqual([s.body.subnet.cidr, s.body.subnet.subnetpool_id], ['10.104.0.0/26', def.id]);
      const v6 = await api.post('/v2.0/subnets', { subnet: { network_id: net.id, ip_version: 6, use_default_subnetpool: true } }, MEMBER);
      assert.deepEqual(error(v6), [400, 'BadRequest']);
      assert.equal(v6.body.NeutronError.message, 'Bad subnets request: No default subnetpool found for IPv6.');
    });

    it("shares pools with every project; private pools are their owner's", async () => {
      const hidden = await pool({ prefixes: ['10.106.0.0/16'] });
      const mine = await api.network({}, OTHER);
      assert.deepEqual(error(await api.get(`/v2.0/subnetpools/${hidden.id}`, OTHER)), [404, 'SubnetPoolNotFound']);
      assert.deepEqual(error(await fromPool(mine.id, hidden.id, {}, OTHER)), [404, 'SubnetPoolNotFound']);
      assert.deepEqual(error(await api.post('/v2.0/subnetpools', { subnetpool: { name: 's', prefixes: ['10.1.0.0/16'], shared: true } }, OTHER)), [
        403,
        'PolicyNotAuthorized',
      ]);
      const own = await pool({ prefixes: ['10.107.0.0/16'], default_prefixlen: 24 }, OTHER);
      assert.equal((await fromPool(mine.id, own.id, {}, OTHER)).status, 201);
      const listed = (await api.get('/v2.0/subnetpools', OTHER)).body.subnetpools.map((p: { id: string }) => p.id);
      assert.ok(listed.includes(own.id) && !listed.includes(hidden.id));
    });

    it('grows prefixes, keeps bounds consistent, and refuses to delete a pool in use', async () => {
      const p = await pool({ prefixes: ['10.108.0.0/24'], default_prefixlen: 26 });
      const grow = await api.put(`/v2.0/subnetpools/${p.id}`, { subnetpool: { prefixes: ['10.108.0.0/24', '10.108.1.0/24'], name: 'grown' } });
      assert.equal(grow.status, 200, grow.text);
      assert.deepEqual([grow.body.subnetpool.prefixes, grow.body.subnetpool.name, grow.body.subnetpool.revision_number], [['10.108.0.0/23'], 'grown', 1]);
      assert.deepEqual(error(await api.put(`/v2.0/subnetpools/${p.id}`, { subnetpool: { prefixes: ['10.108.0.0/24'] } })), [
        400,
        'IllegalSubnetPoolPrefixUpdate',
      ]);
      assert.deepEqual(error(await api.put(`/v2.0/subnetpools/${p.id}`, { subnetpool: { min_prefixlen: 28 } })), [400, 'IllegalSubnetPoolPrefixBounds']);
      const net = await api.network();
      const s = await fromPool(net.id, p.id);
      const refused = await api.del(`/v2.0/subnetpools/${p.id}`);
      assert.deepEqual(error(refused), [400, 'SubnetPoolDeleteError']);
      assert.equal(refused.body.NeutronError.message, 'Unable to delete subnet pool: Subnet pool has existing allocations.');
      assert.equal((await api.del(`/v2.0/subnets/${s.body.subnet.id}`)).status, 204);
      assert.equal((await api.del(`/v2.0/subnetpools/${p.id}`)).status, 204);
      assert.deepEqual(error(await api.get(`/v2.0/subnetpools/${p.id}`)), [404, 'SubnetPoolNotFound']);
    });
  });
}
