import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseCidr } from '../src/neutron/core/ip.js';
import { engines, type TestDatabase } from './support/engines.js';
import { neutronClient, startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// Global allocation under concurrency: two server instances on one database (as two hosts
// would run them) take addresses and prefixes at the same time. No address or prefix may
// be handed out twice, and running out must be Neutron's 409, never a 500.

const POOL_SIZE = 20;

for (const engine of await engines()) {
  const skip = engine.skip ?? (engine.name === 'sqlite' ? 'one writer at a time: SQLite has no concurrent transactions to race' : undefined);
  describe(`IPAM under concurrency on ${engine.name}`, { skip }, () => {
    let database: TestDatabase;
    let servers: RunningNeutronApi[];
    let clients: Array<ReturnType<typeof neutronClient>>;
    const any = (i: number) => clients[i % clients.length]!;

    before(async () => {
      database = await engine.create();
      servers = [];
      for (let i = 0; i < 2; i++) servers.push(await startNeutronApi(database.connection));
      clients = servers.map((s) => neutronClient(s.url));
    });
    after(async () => {
      for (const s of servers ?? []) await s.close();
      await database?.drop();
    });

    it(`gives 50 concurrent ports from two servers unique addresses, and ${50 - POOL_SIZE} of them IpAddressGenerationFailure`, async () => {
      const api = clients[0]!;
      const net = await api.network();
      const created = await api.post('/v2.0/subnets', {
        subnet: { network_id: net.id, ip_version: 4, cidr: '10.0.0.0/24', allocation_pools: [{ start: '10.0.0.10', end: `10.0.0.${9 + POOL_SIZE}` }] },
      });
      assert.equal(created.status, 201);
      const subnetId = created.body.subnet.id;
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => any(i).post('/v2.0/ports', { port: { network_id: net.id } })));
      const ok = replies.filter((r) => r.status === 201);
      const failed = replies.filter((r) => r.status !== 201);
      assert.equal(ok.length, POOL_SIZE, replies.map((r) => r.status).join());
      for (const r of failed) {
        assert.equal(r.status, 409, r.text);
        assert.deepEqual(r.body.NeutronError, {
          type: 'IpAddressGenerationFailure',
          message: `No more IP addresses available on network ${net.id}.`,
          detail: '',
        });
      }
      const taken = ok.map((r) => r.body.port.fixed_ips[0].ip_address);
      assert.equal(new Set(taken).size, POOL_SIZE);
      assert.deepEqual(
        [...taken].sort((a, b) => Number(a.split('.')[3]) - Number(b.split('.')[3])),
        Array.from({ length: POOL_SIZE }, (_, i) => `10.0.0.${10 + i}`),
      );
      const db = servers[0]!.db.kysely;
      const rows = await db.selectFrom('ip_allocations').select('ip_address').where('subnet_id', '=', subnetId).execute();
      assert.equal(rows.length, POOL_SIZE);
      assert.deepEqual(await db.selectFrom('ip_availability_ranges').selectAll().where('subnet_id', '=', subnetId).execute(), []);

      // Half of them go at once, from both servers; as many new ports get exactly those addresses back.
      const freed = ok.slice(0, POOL_SIZE / 2);
      const deletes = await Promise.all(freed.map((r, i) => any(i).del(`/v2.0/ports/${r.body.port.id}`)));
      assert.ok(deletes.every((d) => d.status === 204));
      const again = await Promise.all(Array.from({ length: POOL_SIZE / 2 + 3 }, (_, i) => any(i).post('/v2.0/ports', { port: { network_id: net.id } })));
      const reused = again.filter((r) => r.status === 201).map((r) => r.body.port.fixed_ips[0].ip_address);
      assert.deepEqual(reused.sort(), freed.map((r) => r.body.port.fixed_ips[0].ip_address).sort());
      assert.equal(again.filter((r) => r.status === 409).length, 3);
    });

    it('never hands the same requested address or MAC to two ports', async () => {
      const net = await clients[0]!.network();
      await clients[0]!.post('/v2.0/subnets', { subnet: { network_id: net.id, ip_version: 4, cidr: '10.1.0.0/24' } });
      const same = await Promise.all(
        Array.from({ length: 10 }, (_, i) => any(i).post('/v2.0/ports', { port: { network_id: net.id, fixed_ips: [{ ip_address: '10.1.0.50' }] } })),
      );
      assert.equal(same.filter((r) => r.status === 201).length, 1);
      assert.ok(same.every((r) => r.status === 201 || r.body.NeutronError.type === 'IpAddressAlreadyAllocated'));
      const mac = await Promise.all(
        Array.from({ length: 10 }, (_, i) => any(i).post('/v2.0/ports', { port: { network_id: net.id, mac_address: 'fa:16:3e:12:34:56', fixed_ips: [] } })),
      );
      assert.equal(mac.filter((r) => r.status === 201).length, 1);
      assert.ok(mac.every((r) => r.status === 201 || r.body.NeutronError.type === 'MacAddressInUse'));
    });

    it('applies concurrent updates of one port and one subnet one after the other', async () => {
      const net = await clients[0]!.network();
      const subnet = (await clients[0]!.post('/v2.0/subnets', { subnet: { network_id: net.id, ip_version: 4, cidr: '10.2.0.0/24' } })).body.subnet;
      const port = (await clients[0]!.post('/v2.0/ports', { port: { network_id: net.id } })).body.port;
      const updates = await Promise.all(
        Array.from({ length: 10 }, (_, i) => [
          any(i).put(`/v2.0/ports/${port.id}`, { port: { name: `p${i}` } }),
          any(i + 1).put(`/v2.0/subnets/${subnet.id}`, { subnet: { name: `s${i}` } }),
        ]).flat(),
      );
      assert.ok(updates.every((u) => u.status === 200));
      assert.equal((await clients[0]!.get(`/v2.0/ports/${port.id}`)).body.port.revision_number, port.revision_number + 10);
      assert.equal((await clients[0]!.get(`/v2.0/subnets/${subnet.id}`)).body.subnet.revision_number, subnet.revision_number + 10);
    });

    it('gives concurrent subnets from one pool, on two servers, prefixes that do not overlap', async () => {
      const pool = await clients[0]!.post('/v2.0/subnetpools', { subnetpool: { name: 'race', prefixes: ['10.200.0.0/20'], default_prefixlen: 24 } });
      const nets = await Promise.all(Array.from({ length: 20 }, (_, i) => any(i).network()));
      const replies = await Promise.all(
        nets.map((n, i) => any(i).post('/v2.0/subnets', { subnet: { network_id: n.id, ip_version: 4, subnetpool_id: pool.body.subnetpool.id } })),
      );
      const ok = replies.filter((r) => r.status === 201);
      assert.equal(ok.length, 16, replies.map((r) => `${r.status} ${r.body?.NeutronError?.type ?? ''}`).join());
      assert.ok(replies.filter((r) => r.status !== 201).every((r) => r.status === 409 && r.body.NeutronError.type === 'SubnetAllocationError'));
      const cidrs = ok.map((r) => r.body.subnet.cidr as string);
      assert.equal(new Set(cidrs).size, 16);
      assert.ok(cidrs.every((c) => parseCidr(c)!.prefixlen === 24 && c.startsWith('10.200.')));
    });
  });
}
