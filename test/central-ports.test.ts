import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines } from './support/engines.js';
import { ok, USER } from './support/region-cloud.js';
import { startTricircleCloud, type TricircleCloud } from './support/tricircle-cloud.js';

// The central role's ports and security groups end to end over real HTTP: binding reports
// from a region's local Neutron (routing rows, seg_rule_setup), a region's gateway port made
// once for concurrent callers, rules converging into the region copies of the groups (remote
// group rules as CIDR rules), user updates reaching the region copy, and deletes removing
// region copies. SQLite only: the routing-row lock and the jobs are covered on every engine
// by their own tests; this is about what the central role does with them.

type Json = Record<string, any>;

const [sqlite] = await engines();

/** The rules of a region's copy of a group as comparable strings (read without a token: local rows only). */
async function regionRules(cloud: TricircleCloud, region: string, groupId: string): Promise<string[]> {
  const group = (await ok(cloud.regions[region]!.neutron.get(`/v2.0/security-groups/${groupId}`))).security_group as Json;
  return (group.security_group_rules as Json[])
    .map((r) =>
      [r.direction, r.ethertype, r.protocol ?? '*', r.port_range_min ?? '', r.remote_ip_prefix ?? '', r.remote_group_id ? 'group' : '']
        .filter((part) => part !== '')
        .join(' '),
    )
    .sort();
}

/** The resources of the jobs of a type that ended SUCCESS (moved to the job log), each once. */
async function doneJobs(cloud: TricircleCloud, type: string): Promise<string[]> {
  const rows = await cloud.db.kysely.selectFrom('async_job_logs').select('resource_id').where('type', '=', type).execute();
  return [...new Set(rows.map((row) => row.resource_id))];
}

describe('central ports and security groups (sqlite)', () => {
  let cloud: TricircleCloud;
  const central = () => cloud.centralNeutron;
  let network: Json;
  let subnet: Json;
  let port: Json;
  let defaultGroup: string;

  before(async () => {
    cloud = await startTricircleCloud({ engine: sqlite! });
    network = await central().network({ name: 'net1' }, USER);
    subnet = (await ok(central().post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '10.60.1.0/24' } }, USER), 201)).subnet;
    const server = (await ok(cloud.regions.RegionOne!.nova.boot('vm1', [{ uuid: network.id }]), 202)).server;
    port = ((await ok(central().get(`/v2.0/ports?device_id=${server.id}`))).ports as Json[])[0]!;
    defaultGroup = (port.security_groups as string[])[0]!;
  });
  after(() => cloud.close());

  it('records the routing rows of a VM port bound in RegionOne, and syncs the default group with its remote-group rules as CIDR rules', async () => {
    const podId = cloud.podIds.RegionOne!;
    for (const [id, type] of [
      [port.id, 'port'],
      [network.id, 'network'],
      [subnet.id, 'subnet'],
      [defaultGroup, 'security_group'],
    ]) {
      const rows = await cloud.routings(id);
      assert.deepEqual(
        rows.map((r) => [r.pod_id, r.resource_type, r.bottom_id]),
        [[podId, type, id]],
        `${type} ${id} is mapped to RegionOne under its own id`,
      );
    }
    // The compute host's agent, which the region reported with the binding on this VxLAN network.
    const agents = await cloud.db.kysely.selectFrom('shadow_agents').select(['pod_id', 'host', 'type']).execute();
    assert.deepEqual(agents, [{ pod_id: podId, host: 'RegionOne-compute1', type: 'Open vSwitch agent' }]);
    // The region's own gateway on the subnet came from central's interface_RegionOne_<subnet>.
    const [gatewayPort] = (await ok(central().get(`/v2.0/ports?name=interface_RegionOne_${subnet.id}`))).ports as Json[];
    assert.deepEqual(
      (await cloud.routings(`interface_RegionOne_${subnet.id}`)).map((r) => [r.pod_id, r.bottom_id]),
      [[podId, gatewayPort!.id]],
    );
    assert.deepEqual(await cloud.settle(), []);
    assert.deepEqual(await doneJobs(cloud, 'seg_rule_setup'), ['p2'], "the project's rules were synchronised");
    // Ingress from the group itself becomes ingress from the project's subnet; IPv6 has no subnet to expand to.
    assert.deepEqual(await regionRules(cloud, 'RegionOne', defaultGroup), ['egress IPv4 *', 'egress IPv6 *', 'ingress IPv4 * 10.60.1.0/24']);
  });

  it('gives concurrent callers one gateway port of a region on a subnet, and refuses bad names without creating anything', async () => {
    const name = `interface_RegionTwo_${subnet.id}`;
    const body = { port: { name, network_id: network.id, device_id: 'reserved_gateway_port', device_owner: 'network:router_interface' } };
    const replies = await Promise.all(Array.from({ length: 8 }, () => ok(central().post('/v2.0/ports', body, USER), 201)));
    const ids = new Set(replies.map((reply) => reply.port.id));
    assert.equal(ids.size, 1, 'one port for every caller');
    const [id] = ids;
    const named = (await ok(central().get(`/v2.0/ports?name=${name}`))).ports as Json[];
    assert.deepEqual(
      named.map((p) => [p.id, p.device_id, p.device_owner]),
      [[id, '', 'network:router_interface']],
    );
    assert.deepEqual(
      (await cloud.routings(name)).map((r) => [r.pod_id, r.resource_type, r.bottom_id]),
      [[cloud.podIds.RegionTwo, 'port', id]],
    );

    const before = (await ok(central().get(`/v2.0/ports?network_id=${network.id}`))).ports.length;
    for (const bad of [`interface_Nowhere_${subnet.id}`, 'interface_RegionTwo_', 'gateway']) {
      const reply = await central().post('/v2.0/ports', { port: { ...body.port, name: bad } }, USER);
      assert.equal(reply.status, 400, reply.text);
      assert.equal(reply.body.NeutronError.type, 'InvalidInput');
    }
    const bulk = await central().post('/v2.0/ports', { ports: [body.port, { network_id: network.id }] }, USER);
    assert.equal(bulk.status, 400, bulk.text);
    const unknownSubnet = await central().post(
      '/v2.0/ports',
      { port: { ...body.port, name: 'interface_RegionTwo_4d1bd7a6-0000-4000-8000-000000000000' } },
      USER,
    );
    assert.equal(unknownSubnet.status, 404, unknownSubnet.text);
    assert.equal((await ok(central().get(`/v2.0/ports?network_id=${network.id}`))).ports.length, before, 'no port made by a bad request');
  });

  it("carries a user's port update to the region copy (not the name), and refuses address and bound-MAC changes without changing anything", async () => {
    await ok(central().put(`/v2.0/ports/${port.id}`, { port: { name: 'renamed', description: 'web server' } }, USER));
    const copy = (await ok(cloud.regions.RegionOne!.neutron.get(`/v2.0/ports/${port.id}`))).port;
    assert.equal(copy.description, 'web server');
    assert.equal(copy.name, port.name, 'names stay as they were in the region');

    const ips = await central().put(`/v2.0/ports/${port.id}`, { port: { fixed_ips: [{ subnet_id: subnet.id, ip_address: '10.60.1.200' }] } }, USER);
    assert.equal(ips.status, 400, ips.text);
    assert.equal(ips.body.NeutronError.type, 'InvalidInput');
    const mac = await central().put(`/v2.0/ports/${port.id}`, { port: { mac_address: 'fa:16:3e:00:00:01' } });
    assert.equal(mac.status, 409, mac.text);
    assert.equal(mac.body.NeutronError.type, 'PortBound');
    const now = (await ok(central().get(`/v2.0/ports/${port.id}`))).port;
    assert.deepEqual([now.fixed_ips, now.mac_address], [port.fixed_ips, port.mac_address]);

    // A region that cannot take the change: central keeps what it had.
    await cloud.stopNeutron('RegionOne');
    try {
      const down = await central().put(`/v2.0/ports/${port.id}`, { port: { description: 'lost' } }, USER);
      assert.equal(down.status, 502, down.text);
      assert.equal(down.body.NeutronError.type, 'BottomPodOperationFailure');
    } finally {
      await cloud.restartNeutron('RegionOne');
    }
    assert.equal((await ok(central().get(`/v2.0/ports/${port.id}`))).port.description, 'web server');

    const unknownRegion = await central().put(`/v2.0/ports/${port.id}`, { port: { 'binding:profile': { region: 'Nowhere', device: 'compute:nova' } } });
    assert.equal(unknownRegion.status, 400, unknownRegion.text);
    assert.equal((await ok(central().get(`/v2.0/ports/${port.id}`))).port['binding:profile'].region, 'RegionOne', 'the binding stays');
  });

  it('converges rule changes of a group the port takes on: added, removed, and remote-group rules as CIDR rules', async () => {
    const web = (await ok(central().post('/v2.0/security-groups', { security_group: { name: 'web' } }, USER), 201)).security_group;
    await ok(central().put(`/v2.0/ports/${port.id}`, { port: { security_groups: [defaultGroup, web.id] } }, USER));
    assert.deepEqual((await ok(cloud.regions.RegionOne!.neutron.get(`/v2.0/ports/${port.id}`))).port.security_groups.sort(), [defaultGroup, web.id].sort());
    assert.deepEqual(
      (await cloud.routings(web.id)).map((r) => [r.pod_id, r.resource_type]),
      [[cloud.podIds.RegionOne, 'security_group']],
    );

    const rule = (
      await ok(
        central().post(
          '/v2.0/security-group-rules',
          { security_group_rule: { security_group_id: web.id, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 } },
          USER,
        ),
        201,
      )
    ).security_group_rule;
    assert.deepEqual(await cloud.settle(), []);
    assert.deepEqual(await regionRules(cloud, 'RegionOne', web.id), ['egress IPv4 *', 'egress IPv6 *', 'ingress IPv4 tcp 22']);

    await ok(central().del(`/v2.0/security-group-rules/${rule.id}`, USER), 204);
    const fromWeb = { security_group_id: web.id, direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_group_id: web.id };
    await ok(central().post('/v2.0/security-group-rules', { security_group_rule: fromWeb }, USER), 201);
    assert.deepEqual(await cloud.settle(), []);
    assert.deepEqual(await regionRules(cloud, 'RegionOne', web.id), ['egress IPv4 *', 'egress IPv6 *', 'ingress IPv4 tcp 80 10.60.1.0/24']);

    // More subnets of the project widen every expanded rule, each of its own ethertype; one in the bridge range does not.
    await ok(central().post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '10.60.2.0/24' } }, USER), 201);
    await ok(central().post('/v2.0/subnets', { subnet: { network_id: network.id, ip_version: 6, cidr: 'fd00:60::/64' } }, USER), 201);
    const other = await central().network({ name: 'in-bridge-range' }, USER);
    await ok(central().post('/v2.0/subnets', { subnet: { network_id: other.id, ip_version: 4, cidr: '100.0.9.0/24' } }, USER), 201);
    await ok(central().post('/v2.0/security-group-rules', { security_group_rule: { ...fromWeb, protocol: 'udp' } }, USER), 201);
    assert.deepEqual(await cloud.settle(), []);
    assert.deepEqual(await regionRules(cloud, 'RegionOne', web.id), [
      'egress IPv4 *',
      'egress IPv6 *',
      'ingress IPv4 tcp 80 10.60.1.0/24',
      'ingress IPv4 tcp 80 10.60.2.0/24',
      'ingress IPv4 udp 80 10.60.1.0/24',
      'ingress IPv4 udp 80 10.60.2.0/24',
    ]);
    assert.deepEqual(await regionRules(cloud, 'RegionOne', defaultGroup), [
      'egress IPv4 *',
      'egress IPv6 *',
      'ingress IPv4 * 10.60.1.0/24',
      'ingress IPv4 * 10.60.2.0/24',
      'ingress IPv6 * fd00:60::/64',
    ]);
  });

  it("deletes a group's region copies with it, and refuses while a port uses it without deleting anything", async () => {
    const [web] = (await ok(central().get('/v2.0/security-groups?name=web', USER))).security_groups as Json[];
    const inUse = await central().del(`/v2.0/security-groups/${web!.id}`, USER);
    assert.equal(inUse.status, 409, inUse.text);
    assert.equal(inUse.body.NeutronError.type, 'SecurityGroupInUse');
    await ok(cloud.regions.RegionOne!.neutron.get(`/v2.0/security-groups/${web!.id}`));

    await ok(central().put(`/v2.0/ports/${port.id}`, { port: { security_groups: [defaultGroup] } }, USER));
    await ok(central().del(`/v2.0/security-groups/${web!.id}`, USER), 204);
    assert.equal((await cloud.regions.RegionOne!.neutron.get(`/v2.0/security-groups/${web!.id}`)).status, 404, 'the region copy is gone');
    assert.deepEqual(await cloud.routings(web!.id), []);
    assert.equal((await central().get(`/v2.0/security-groups/${web!.id}`, USER)).status, 404);
    assert.deepEqual(await cloud.settle(), []);
  });

  it("records a region's VxLAN agent from a binding report, and forgets the port's copy there when the region reports it unbound", async () => {
    const report = (profile: Json) => central().put(`/v2.0/ports/${port.id}`, { port: { 'binding:profile': { region: 'RegionOne', ...profile } } });
    const agents = () => cloud.db.kysely.selectFrom('shadow_agents').select(['pod_id', 'host', 'type', 'tunnel_ip']).where('host', '=', 'host-a').execute();
    const bound = {
      device: 'compute:nova',
      status: 'ACTIVE',
      'binding:host_id': 'host-a',
      'binding:vnic_type': 'normal',
      host: 'host-a',
      type: 'Open vSwitch agent',
    };
    await ok(report({ ...bound, tunnel_ip: '192.0.2.10' }));
    await ok(report({ ...bound, tunnel_ip: '192.0.2.11' }));
    assert.deepEqual(await agents(), [{ pod_id: cloud.podIds.RegionOne, host: 'host-a', type: 'Open vSwitch agent', tunnel_ip: '192.0.2.11' }]);
    const shown = (await ok(central().get(`/v2.0/ports/${port.id}`))).port;
    assert.deepEqual([shown['binding:host_id'], shown['binding:vif_type'], shown.status], ['host-a', 'ovs', 'ACTIVE']);

    await ok(report({ device: '', status: 'DOWN', 'binding:host_id': '' }));
    assert.deepEqual(
      (await cloud.routings(port.id)).map((r) => r.resource_type),
      [],
      "the port's copy is no longer RegionOne's",
    );
    assert.equal((await cloud.routings(network.id)).length, 1, 'the network stays mapped');
    await ok(report(bound));
    assert.deepEqual(
      (await cloud.routings(port.id)).map((r) => [r.pod_id, r.resource_type]),
      [[cloud.podIds.RegionOne, 'port']],
    );
    assert.deepEqual(await cloud.settle(), []);
  });

  it('sets up a non-local router in the region where a VM on one of its networks is bound', async () => {
    const net2 = await central().network({ name: 'net2' }, USER);
    const sub2 = (await ok(central().post('/v2.0/subnets', { subnet: { network_id: net2.id, ip_version: 4, cidr: '10.61.1.0/24' } }, USER), 201)).subnet;
    const router = (await ok(central().post('/v2.0/routers', { router: { name: 'r1' } }, USER), 201)).router;
    await ok(central().put(`/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub2.id }, USER));
    assert.deepEqual(await cloud.settle(), []);
    assert.equal((await ok(cloud.regions.RegionTwo!.neutron.get(`/v2.0/routers?name=${router.id}`))).routers.length, 0, 'no VM in RegionTwo yet');

    await ok(cloud.regions.RegionTwo!.nova.boot('vm2', [{ uuid: net2.id }]), 202);
    assert.deepEqual(await cloud.settle(), []);
    assert.ok((await doneJobs(cloud, 'router_setup')).includes(`${cloud.podIds.RegionTwo}#${router.id}#${net2.id}`));
    const [bottom] = (await ok(cloud.regions.RegionTwo!.neutron.get(`/v2.0/routers?name=${router.id}`))).routers as Json[];
    const interfaces = (await ok(cloud.regions.RegionTwo!.neutron.get(`/v2.0/ports?device_id=${bottom!.id}&device_owner=network:router_interface`)))
      .ports as Json[];
    assert.deepEqual(
      interfaces.map((p) => p.network_id),
      [net2.id],
    );
  });

  it('refuses reads and deletes of a group being deleted', async () => {
    const group = (await ok(central().post('/v2.0/security-groups', { security_group: { name: 'doomed' } }, USER), 201)).security_group;
    const mark = { resource_id: group.id, resource_type: 'security_group', deleted_at: new Date().toISOString().slice(0, 19).replace('T', ' ') };
    await cloud.db.kysely.insertInto('deleting_resources').values(mark).execute();
    for (const reply of [await central().get(`/v2.0/security-groups/${group.id}`, USER), await central().del(`/v2.0/security-groups/${group.id}`, USER)]) {
      assert.equal(reply.status, 409, reply.text);
      assert.equal(reply.body.NeutronError.type, 'ResourceIsInDeleting');
    }
    await cloud.db.kysely.deleteFrom('deleting_resources').where('resource_id', '=', group.id).execute();
    await ok(central().del(`/v2.0/security-groups/${group.id}`, USER), 204);
  });

  it("deleting the server's port centrally removes the region's copy", async () => {
    await ok(central().del(`/v2.0/ports/${port.id}`, USER), 204);
    assert.deepEqual(await cloud.settle(), []);
    assert.equal((await cloud.regions.RegionOne!.neutron.get(`/v2.0/ports/${port.id}`)).status, 404);
    assert.deepEqual(
      (await cloud.routings(port.id)).filter((r) => r.resource_type === 'port'),
      [],
    );
    assert.deepEqual(await doneJobs(cloud, 'port_delete'), [`${cloud.podIds.RegionOne}#${port.id}`]);
  });
});
