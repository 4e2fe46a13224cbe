import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestDatabase } from './support/engines.js';
import { MEMBER, OTHER, call, startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// Bad input to security groups and rules, on every engine: each case gets the status,
// Neutron exception type (and, where Neutron's wording is specific, message) that the real
// Neutron (Zed) gives, and writes nothing.

interface Case {
  what: string;
  method: string;
  /** $SG: the member's group, $DEF: its default group, $RULE: a rule of $SG, $OSG / $ORULE: another project's. */
  path: string;
  body?: unknown;
  status: number;
  type: string;
  message?: string;
}

const group = (body: Record<string, unknown>) => ({ security_group: body });
const rule = (body: Record<string, unknown>) => ({ security_group_rule: { security_group_id: '$SG', direction: 'ingress', ...body } });
const post = (what: string, body: unknown, status: number, type: string, message?: string): Case => ({
  what,
  method: 'POST',
  path: (body as Record<string, unknown>).security_group ? '/security-groups' : '/security-group-rules',
  body,
  status,
  type,
  message,
});

const CASES: Case[] = [
  // Groups.
  post('name of the wrong type', group({ name: 5 }), 400, 'HTTPBadRequest', "Invalid input for name. Reason: '5' is not a valid string."),
  post('a second group named default', group({ name: 'default' }), 409, 'SecurityGroupDefaultAlreadyExists', 'Default security group already exists.'),
  post('a group named DEFAULT', group({ name: 'DEFAULT' }), 409, 'SecurityGroupDefaultAlreadyExists'),
  post('an unknown attribute', group({ name: 'x', color: 'red' }), 400, 'HTTPBadRequest', "Unrecognized attribute(s) 'color'"),
  post('stateful not a boolean', group({ stateful: 'maybe' }), 400, 'InvalidInput', "Invalid input for operation: 'maybe' cannot be converted to boolean."),
  post('an id', group({ id: 'x' }), 400, 'HTTPBadRequest', "Attribute 'id' not allowed in POST"),
  post('rules in a group create', group({ security_group_rules: [] }), 400, 'HTTPBadRequest', "Attribute 'security_group_rules' not allowed in POST"),
  post('another project as a member', group({ name: 'x', tenant_id: 'p3' }), 400, 'HTTPBadRequest'),
  post('a description too long', group({ description: 'x'.repeat(256) }), 400, 'HTTPBadRequest'),
  { what: 'no security_group key', method: 'POST', path: '/security-groups', body: { group: {} }, status: 400, type: 'HTTPBadRequest' },
  {
    what: 'renaming the default group',
    method: 'PUT',
    path: '/security-groups/$DEF',
    body: group({ name: 'mine' }),
    status: 409,
    type: 'SecurityGroupCannotUpdateDefault',
  },
  {
    what: 'renaming a group to default',
    method: 'PUT',
    path: '/security-groups/$SG',
    body: group({ name: 'Default' }),
    status: 409,
    type: 'SecurityGroupDefaultAlreadyExists',
  },
  { what: 'changing the project', method: 'PUT', path: '/security-groups/$SG', body: group({ tenant_id: 'p3' }), status: 400, type: 'HTTPBadRequest' },
  {
    what: "updating another project's group",
    method: 'PUT',
    path: '/security-groups/$OSG',
    body: group({ description: 'x' }),
    status: 404,
    type: 'SecurityGroupNotFound',
  },
  { what: "showing another project's group", method: 'GET', path: '/security-groups/$OSG', status: 404, type: 'SecurityGroupNotFound' },
  {
    what: 'deleting the default group',
    method: 'DELETE',
    path: '/security-groups/$DEF',
    status: 409,
    type: 'SecurityGroupCannotRemoveDefault',
    message: 'Insufficient rights for removing default security group.',
  },
  { what: "deleting another project's group", method: 'DELETE', path: '/security-groups/$OSG', status: 404, type: 'SecurityGroupNotFound' },
  {
    what: 'deleting an unknown group',
    method: 'DELETE',
    path: '/security-groups/nope',
    status: 404,
    type: 'SecurityGroupNotFound',
    message: 'Security group nope does not exist',
  },
  { what: 'filtering on stateful', method: 'GET', path: '/security-groups?stateful=true', status: 400, type: 'HTTPBadRequest' },
  { what: 'sorting on stateful', method: 'GET', path: '/security-groups?sort_key=stateful&sort_dir=asc', status: 400, type: 'HTTPBadRequest' },
  // Rules.
  post(
    'no direction',
    { security_group_rule: { security_group_id: '$SG' } },
    400,
    'HTTPBadRequest',
    "Failed to parse request. Required attribute 'direction' not specified",
  ),
  post('no group', { security_group_rule: { direction: 'ingress' } }, 400, 'HTTPBadRequest'),
  post('group id of the wrong type', rule({ security_group_id: 5 }), 400, 'HTTPBadRequest'),
  post('a bad direction', rule({ direction: 'sideways' }), 400, 'HTTPBadRequest', 'Invalid input for direction. Reason: sideways is not in valid_values.'),
  post('a bad ethertype', rule({ ethertype: 'IPv5' }), 400, 'SecurityGroupRuleInvalidEtherType'),
  post('an unknown protocol', rule({ protocol: 'bogus' }), 400, 'SecurityGroupRuleInvalidProtocol'),
  post('protocol 256', rule({ protocol: 256 }), 400, 'SecurityGroupRuleInvalidProtocol'),
  post('protocol -1', rule({ protocol: '-1' }), 400, 'SecurityGroupRuleInvalidProtocol'),
  post('protocol true', rule({ protocol: true }), 400, 'SecurityGroupRuleInvalidProtocol'),
  post('a port that is not a number', rule({ protocol: 'tcp', port_range_min: 'abc' }), 400, 'SecurityGroupInvalidPortValue', 'Invalid value for port abc'),
  post('port 65536', rule({ protocol: 'tcp', port_range_min: 1, port_range_max: 65536 }), 400, 'SecurityGroupInvalidPortValue'),
  post('TCP port 0', rule({ protocol: 'tcp', port_range_min: 0, port_range_max: 10 }), 400, 'SecurityGroupInvalidPortValue', 'Invalid value for port 0'),
  post('min above max', rule({ protocol: 'udp', port_range_min: 10, port_range_max: 9 }), 400, 'SecurityGroupInvalidPortRange'),
  post('min without max', rule({ protocol: 'tcp', port_range_min: 10 }), 400, 'SecurityGroupInvalidPortRange'),
  post('ports without protocol', rule({ port_range_min: 10, port_range_max: 20 }), 400, 'SecurityGroupProtocolRequiredWithPorts'),
  post(
    'ports on GRE',
    rule({ protocol: 'gre', port_range_min: 10, port_range_max: 20 }),
    400,
    'SecurityGroupInvalidProtocolForPort',
    'Ports cannot be specified for protocol 47. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.',
  ),
  post('ICMP type 256', rule({ protocol: 'icmp', port_range_min: 256 }), 400, 'SecurityGroupInvalidIcmpValue'),
  post('ICMP code without type', rule({ protocol: 'icmp', port_range_max: 0 }), 400, 'SecurityGroupMissingIcmpType'),
  post(
    'ICMPv6 in an IPv4 rule',
    rule({ protocol: 'icmpv6' }),
    400,
    'SecurityGroupEthertypeConflictWithProtocol',
    'Invalid ethertype IPv4 for protocol icmpv6.',
  ),
  post('not a prefix', rule({ remote_ip_prefix: 'bogus' }), 400, 'InvalidCIDR', 'Invalid CIDR bogus given as IP prefix.'),
  post('a /33', rule({ remote_ip_prefix: '10.0.0.0/33' }), 400, 'InvalidCIDR'),
  post('a prefix of the wrong type', rule({ remote_ip_prefix: 5 }), 400, 'InvalidCIDR'),
  post(
    'an IPv6 prefix in an IPv4 rule',
    rule({ remote_ip_prefix: '::/0' }),
    400,
    'SecurityGroupRuleParameterConflict',
    'Conflicting value ethertype IPv4 for CIDR ::/0',
  ),
  post('an IPv4 prefix in an IPv6 rule', rule({ ethertype: 'IPv6', remote_ip_prefix: '10.0.0.0/8' }), 400, 'SecurityGroupRuleParameterConflict'),
  post('both remote prefix and group', rule({ remote_ip_prefix: '10.0.0.0/8', remote_group_id: '$SG' }), 400, 'SecurityGroupMultipleRemoteEntites'),
  post("another project's remote group", rule({ remote_group_id: '$OSG' }), 404, 'SecurityGroupNotFound'),
  post("another project's group", rule({ security_group_id: '$OSG' }), 404, 'SecurityGroupNotFound'),
  post('an unknown group', rule({ security_group_id: 'nope' }), 404, 'SecurityGroupNotFound', 'Security group nope does not exist'),
  post('an unknown attribute', rule({ color: 'red' }), 400, 'HTTPBadRequest'),
  post('normalized_cidr', rule({ normalized_cidr: '10.0.0.0/8' }), 400, 'HTTPBadRequest', "Attribute 'normalized_cidr' not allowed in POST"),
  post('a rule the group has', rule({ protocol: 'tcp', port_range_min: 22, port_range_max: 22 }), 409, 'SecurityGroupRuleExists'),
  post(
    'rules of two groups in bulk',
    { security_group_rules: [rule({}).security_group_rule, rule({ security_group_id: '$DEF', protocol: 'udp' }).security_group_rule] },
    400,
    'SecurityGroupNotSingleGroupRules',
  ),
  post(
    'one rule twice in bulk',
    { security_group_rules: [rule({ protocol: 'udp' }).security_group_rule, rule({ protocol: '17' }).security_group_rule] },
    409,
    'DuplicateSecurityGroupRuleInPost',
    'Duplicate Security Group Rule in POST.',
  ),
  {
    what: 'changing a rule',
    method: 'PUT',
    path: '/security-group-rules/$RULE',
    body: { security_group_rule: { protocol: 'udp' } },
    status: 400,
    type: 'HTTPBadRequest',
  },
  { what: "deleting another project's rule", method: 'DELETE', path: '/security-group-rules/$ORULE', status: 404, type: 'HTTPNotFound' },
  { what: 'deleting an unknown rule', method: 'DELETE', path: '/security-group-rules/nope', status: 404, type: 'SecurityGroupRuleNotFound' },
  { what: 'filtering on a bad ethertype', method: 'GET', path: '/security-group-rules?ethertype=ipv5', status: 400, type: 'SecurityGroupRuleInvalidEtherType' },
  { what: 'filtering on a bad port', method: 'GET', path: '/security-group-rules?port_range_min=x', status: 400, type: 'SecurityGroupInvalidPortValue' },
];

for (const engine of await engines()) {
  describe(`Neutron security groups bad input on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let api: RunningNeutronApi;
    const ids: Record<string, string> = {};
    const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = MEMBER) =>
      call(api.url, method, `/v2.0${path}`, body, headers);
    const fill = (text: string) => text.replace(/\$(ORULE|OSG|RULE|SG|DEF)/g, (_, key: string) => ids[key]!);
    const snapshot = async () => {
      const tables = ['securitygroups', 'securitygrouprules', 'default_security_groups', 'port_security_groups', 'tags'];
      return Promise.all(tables.map(async (t) => (await api.db.kysely.selectFrom(t).selectAll().execute()).map((r) => JSON.stringify(r)).sort()));
    };

    before(async () => {
      database = await engine.create();
      api = await startNeutronApi(database.connection);
      ids.DEF = (await req('GET', '/security-groups')).body.security_groups[0].id;
      ids.SG = (await req('POST', '/security-groups', group({ name: 'mine' }))).body.security_group.id;
      ids.RULE = (
        await req('POST', '/security-group-rules', JSON.parse(fill(JSON.stringify(rule({ protocol: 'tcp', port_range_min: 22, port_range_max: 22 })))))
      ).body.security_group_rule.id;
      ids.OSG = (await req('POST', '/security-groups', group({ name: 'theirs' }), OTHER)).body.security_group.id;
      const theirs = { security_group_rule: { security_group_id: ids.OSG, direction: 'ingress', protocol: 'tcp' } };
      ids.ORULE = (await req('POST', '/security-group-rules', theirs, OTHER)).body.security_group_rule.id;
    });
    after(async () => {
      await api?.close();
      await database?.drop();
    });

    for (const c of CASES) {
      it(`${c.what}: ${c.status} ${c.type}`, async () => {
        const before = await snapshot();
        const body = typeof c.body === 'string' ? c.body : c.body === undefined ? undefined : JSON.parse(fill(JSON.stringify(c.body)));
        const r = await req(c.method, fill(c.path), body);
        assert.equal(r.status, c.status, r.text);
        assert.equal(r.body?.NeutronError?.type, c.type, r.text);
        if (c.message) assert.equal(r.body.NeutronError.message, c.message);
        assert.deepEqual(await snapshot(), before, 'nothing written');
      });
    }
  });
}
