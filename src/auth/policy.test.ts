import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Policy, PolicyParseError, readPolicyFile } from './policy.js';

const admin = { roles: ['admin'], is_admin: true, project_id: 'p1', user_id: 'u1' };
const member = { roles: ['member'], is_admin: false, project_id: 'p2', user_id: 'u2' };

describe('policy rules', () => {
  const policy = new Policy({
    admin_api: 'is_admin:True',
    'thing:create': 'rule:admin_api',
    'thing:show': 'rule:admin_or_owner',
    'thing:mixed': '(role:reader or role:member) and not project_id:%(project_id)s',
    'thing:open': '',
    'thing:never': '!',
    loop: 'rule:loop',
  });

  it('evaluates role, generic, rule and boolean checks', () => {
    assert.equal(policy.check('thing:create', admin, {}), true);
    assert.equal(policy.check('thing:create', member, {}), false);
    assert.equal(policy.check('thing:show', member, { project_id: 'p2' }), true);
    assert.equal(policy.check('thing:show', member, { project_id: 'p1' }), false);
    assert.equal(policy.check('thing:mixed', member, { project_id: 'p1' }), true);
    assert.equal(policy.check('thing:mixed', member, { project_id: 'p2' }), false);
    assert.equal(policy.check('thing:open', member, {}), true);
    assert.equal(policy.check('thing:never', admin, {}), false);
  });

  it('falls back to the default rule for an unknown name and denies a rule that loops', () => {
    assert.equal(policy.check('not:defined', member, { project_id: 'p2' }), true);
    assert.equal(policy.check('not:defined', member, { project_id: 'p1' }), false);
    assert.equal(policy.check('loop', admin, {}), false);
  });

  it('rejects malformed rules with the rule named', () => {
    assert.throws(
      () => new Policy({ broken: 'role:admin or' }),
      (err: Error) => err instanceof PolicyParseError && /broken/.test(err.message),
    );
    assert.throws(() => new Policy({ broken: '(role:admin' }), /unclosed parenthesis/);
    assert.throws(() => new Policy({ broken: 'admin' }), /is not a check/);
  });

  it('reads overrides from YAML and JSON files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tricircle-policy-'));
    const yaml = join(dir, 'policy.yaml');
    writeFileSync(yaml, '"thing:create": "role:member"\n');
    const json = join(dir, 'policy.json');
    writeFileSync(json, '{"thing:create": "role:operator"}');
    const fromYaml = new Policy({ 'thing:create': 'rule:admin_api' }, readPolicyFile(yaml));
    assert.equal(fromYaml.check('thing:create', member, {}), true);
    const fromJson = new Policy({ 'thing:create': 'rule:admin_api' }, readPolicyFile(json));
    assert.equal(fromJson.check('thing:create', member, {}), false);
    writeFileSync(json, '["not", "a", "map"]');
    assert.throws(() => readPolicyFile(json), /not a map/);
  });
});
