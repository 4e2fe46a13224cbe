import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestDatabase } from './support/engines.js';
import { ADMIN, MEMBER, OTHER, call, neutronClient, startNeutronApi, type RunningNeutronApi } from './support/neutron-server.js';

// What networks get from the extensions around the framework, over real HTTP on every
// engine: tags (standard-attr-tag) and tag filters, quotas (quotas, quota_details) and
// their enforcement, the OpenAPI document and the extension list. Wording as real Neutron's.

const member = (project: string) => ({ 'x-user-id': `user-${project}`, 'x-project-id': project, 'x-roles': 'member' });
const error = (type: string, message: string) => ({ NeutronError: { type, message, detail: '' } });

for (const engine of await engines()) {
  describe(`Neutron tags, quotas and OpenAPI on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let server: RunningNeutronApi;
    let api: ReturnType<typeof neutronClient>;
    const revision = async (id: string) => (await api.get(`/v2.0/networks/${id}`)).body.network.revision_number as number;

    before(async () => {
      database = await engine.create();
      server = await startNeutronApi(database.connection, { QUOTAS: { quota_network: '3' } });
      api = neutronClient(server.url);
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    describe('tags', () => {
      it('adds, replaces, checks and removes tags, bumping the revision only on a change', async () => {
        const net = await api.network({ name: 'tagged' });
        const tags = `/v2.0/networks/${net.id}/tags`;
        assert.deepEqual((await api.get(tags)).body, { tags: [] });
        const added = await api.put(`${tags}/red`);
        assert.equal(added.status, 201);
        assert.equal(added.text, 'null');
        assert.equal(await revision(net.id), 2);
        assert.equal((await api.put(`${tags}/red`)).status, 201);
        assert.equal(await revision(net.id), 2, 'adding a tag it has changes nothing');
        assert.equal((await api.get(`${tags}/red`)).status, 204);
        assert.deepEqual((await api.get(`${tags}/blue`)).body, error('TagNotFound', 'Tag blue could not be found.'));

        const replaced = await api.put(tags, { tags: ['zeta', 'alpha', 'a b', 'x,y'] });
        assert.equal(replaced.status, 200);
        assert.deepEqual(replaced.body, { tags: ['zeta', 'alpha', 'a b', 'x,y'] });
        assert.equal(await revision(net.id), 3);
        assert.deepEqual((await api.get(tags)).body.tags, ['a b', 'alpha', 'x,y', 'zeta']);
        assert.deepEqual((await api.get(`/v2.0/networks/${net.id}`)).body.network.tags, ['a b', 'alpha', 'x,y', 'zeta']);
        assert.equal((await api.get(`${tags}/${encodeURIComponent('a b')}`)).status, 204);
        await api.put(tags, { tags: ['alpha', 'zeta', 'x,y', 'a b'] });
        assert.equal(await revision(net.id), 3, 'the same set in another order changes nothing');

        assert.equal((await api.del(`${tags}/alpha`)).status, 204);
        assert.deepEqual((await api.del(`${tags}/alpha`)).body, error('TagNotFound', 'Tag alpha could not be found.'));
        assert.equal(await revision(net.id), 4);
        assert.equal((await api.del(tags)).status, 204);
        assert.equal((await api.del(tags)).status, 204);
        assert.equal(await revision(net.id), 5);
        assert.deepEqual((await api.get(tags)).body.tags, []);

        // Deleting the network deletes its tags: a new tag on it finds no resource.
        await api.put(`${tags}/red`);
        assert.equal((await api.del(`/v2.0/networks/${net.id}`)).status, 204);
        assert.deepEqual((await api.get(tags)).body, error('TagResourceNotFound', `Resource networks ${net.id} could not be found.`));
      });

      it('validates tags as Neutron does', async () => {
        const net = await api.network({ name: 'validated' });
        const tags = `/v2.0/networks/${net.id}/tags`;
        const long = 'x'.repeat(256);
        const cases: Array<[string, unknown, string]> = [
          [`${tags}/${long}`, undefined, `Invalid input for operation: '${long}' exceeds maximum length of 255.`],
          [tags, { tags: [long] }, `Invalid input for operation: '${long}' exceeds maximum length of 255.`],
          [tags, { tags: ['a', 'b', 'a'] }, "Invalid input for operation: Duplicate items in the list: 'a'."],
          [tags, { tags: [1] }, "Invalid input for operation: '1' is not a valid string."],
          [tags, { tags: 'a' }, "Invalid input for operation: 'a' is not a list."],
          [tags, { tag: ['a'] }, 'Invalid input for operation: Invalid tags body.'],
          [tags, ['a'], 'Invalid input for operation: Invalid tags body.'],
        ];
        for (const [path, body, message] of cases) {
          const reply = await api.put(path, body);
          assert.equal(reply.status, 400, message);
          assert.deepEqual(reply.body, error('InvalidInput', message));
        }
        assert.equal((await api.put(`${tags}/${'y'.repeat(255)}`)).status, 201);
        assert.equal(await revision(net.id), 2, 'only the valid request changed it');
      });

      it("follows the network's visibility, and changing tags takes its owner", async () => {
        const own = await api.network({ name: 'member-tags' }, MEMBER);
        const shared = await api.network({ name: 'shared-tags', shared: true });
        assert.equal((await api.put(`/v2.0/networks/${own.id}/tags/mine`, undefined, MEMBER)).status, 201);
        for (const [method, path] of [
          ['GET', `/v2.0/networks/${own.id}/tags`],
          ['PUT', `/v2.0/networks/${own.id}/tags/theirs`],
          ['GET', `/v2.0/networks/${own.id}/tags/mine`],
          ['DELETE', `/v2.0/networks/${own.id}/tags`],
        ]) {
          const reply = await call(server.url, method!, path!, undefined, OTHER);
          assert.deepEqual(reply.body, error('TagResourceNotFound', `Resource networks ${own.id} could not be found.`), `${method} ${path}`);
        }
        await api.put(`/v2.0/networks/${shared.id}/tags/admins`);
        assert.deepEqual((await api.get(`/v2.0/networks/${shared.id}/tags`, OTHER)).body, { tags: ['admins'] });
        const refused = await api.put(`/v2.0/networks/${shared.id}/tags/others`, undefined, OTHER);
        assert.deepEqual(refused.body, error('PolicyNotAuthorized', 'rule:create_networks_tags is disallowed by policy'));
        assert.equal((await api.del(`/v2.0/networks/${shared.id}/tags`, OTHER)).status, 403);
        assert.deepEqual((await api.get(`/v2.0/networks/${own.id}/tags`)).body, { tags: ['mine'] }, 'admins see every tag');
      });

      it('filters by tags, tags-any, not-tags and not-tags-any, as lists or repeated', async () => {
        const project = member('tag-filters');
        await api.put('/v2.0/quotas/tag-filters', { quota: { network: -1 } });
        const sets = [['red'], ['red', 'blue'], ['blue', 'green'], [], ['red', 'blue', 'green']];
        const nets: string[] = [];
        for (const tags of sets) {
          const net = await api.network({ name: `t${nets.length}` }, project);
          if (tags.length) await api.put(`/v2.0/networks/${net.id}/tags`, { tags }, project);
          nets.push(net.id);
        }
        const expect = (predicate: (tags: string[]) => boolean) => nets.filter((_, i) => predicate(sets[i]!));
        const has = (tags: string[], t: string) => tags.includes(t);
        const cases: Array<[string, string[]]> = [
          ['tags=red', expect((t) => has(t, 'red'))],
          ['tags=red,blue', expect((t) => has(t, 'red') && has(t, 'blue'))],
          ['tags=red&tags=blue', expect((t) => has(t, 'red') && has(t, 'blue'))],
          ['tags-any=green,red', expect((t) => has(t, 'green') || has(t, 'red'))],
          ['not-tags=red,blue', expect((t) => !(has(t, 'red') && has(t, 'blue')))],
          ['not-tags-any=red&not-tags-any=green', expect((t) => !has(t, 'red') && !has(t, 'green'))],
          ['tags=blue&not-tags=green', expect((t) => has(t, 'blue') && !has(t, 'green'))],
          ['tags=nothing', []],
        ];
        for (const [query, expected] of cases) {
          const reply = await api.get(`/v2.0/networks?tenant_id=tag-filters&${query}`, project);
          assert.equal(reply.status, 200, reply.text);
          assert.deepEqual(reply.body.networks.map((n: { id: string }) => n.id).sort(), [...expected].sort(), query);
        }
        await api.del('/v2.0/quotas/tag-filters');
      });
    });

    describe('quotas', () => {
      const defaults = { network: 3, subnet: 100, subnetpool: -1, port: 500, router: 10, floatingip: 50, security_group: 10, security_group_rule: 100 };

      it('enforces the default limit and a per-project override on create, bulk included', async () => {
        const project = member('quota-a');
        for (let i = 0; i < 3; i++) await api.network({ name: `q${i}` }, project);
        const over = await api.post('/v2.0/networks', { network: { name: 'q3' } }, project);
        assert.equal(over.status, 409);
        assert.deepEqual(over.body, error('OverQuota', "Quota exceeded for resources: ['network']."));

        const set = await api.put('/v2.0/quotas/quota-a', { quota: { network: 4 } });
        assert.equal(set.status, 200);
        assert.deepEqual(set.body, { quota: { ...defaults, network: 4 } });
        const bulk = await api.post('/v2.0/networks', { networks: [{ name: 'q3' }, { name: 'q4' }] }, project);
        assert.equal(bulk.status, 409, 'two more would pass the limit of 4');
        assert.equal((await api.get('/v2.0/networks?tenant_id=quota-a', project)).body.networks.length, 3, 'and neither was written');
        await api.network({ name: 'q3' }, project);

        // check_limit refuses a limit below what is used (-1, unlimited, is never below); force is accepted.
        const below = await api.put('/v2.0/quotas/quota-a', { quota: { network: 3, check_limit: true } });
        assert.deepEqual(below.body, error('HTTPBadRequest', 'Quota limit 3 for network must be greater than or equal to already used 4'));
        assert.equal((await api.put('/v2.0/quotas/quota-a', { quota: { network: 4, check_limit: true } })).status, 200);
        assert.equal((await api.put('/v2.0/quotas/quota-a', { quota: { network: -1, check_limit: true, force: true } })).status, 200);
        await api.post('/v2.0/networks', { networks: [{ name: 'q4' }, { name: 'q5' }] }, project);
        const details = await api.get('/v2.0/quotas/quota-a/details', project);
        assert.deepEqual(details.body.quota.network, { limit: -1, used: 6, reserved: 0 });
        assert.deepEqual(details.body.quota.subnet, { limit: 100, used: 0, reserved: 0 });

        assert.equal((await api.del('/v2.0/quotas/quota-a')).status, 204);
        assert.deepEqual((await api.get('/v2.0/quotas/quota-a', project)).body, { quota: defaults });
        assert.equal((await api.post('/v2.0/networks', { network: {} }, project)).status, 409);
      });

      it('lists, shows and resets limits; members see their own only', async () => {
        assert.equal((await api.put('/v2.0/quotas/quota-b', { quota: { port: 7, router: '2' } })).status, 200);
        const listed = (await api.get('/v2.0/quotas')).body.quotas.find((q: { project_id: string }) => q.project_id === 'quota-b');
        assert.deepEqual(listed, { ...defaults, port: 7, router: 2, project_id: 'quota-b', tenant_id: 'quota-b' });
        assert.deepEqual((await api.get('/v2.0/quotas/quota-b/default')).body, { quota: defaults });
        assert.deepEqual((await api.get('/v2.0/quotas/quota-b', member('quota-b'))).body.quota.port, 7);
        assert.deepEqual((await api.get('/v2.0/quotas/tenant', member('quota-b'))).body, { tenant: { tenant_id: 'quota-b' } });

        const stranger = member('quota-c');
        const denied: Array<[string, string, unknown, object]> = [
          ['GET', '/v2.0/quotas', undefined, error('PolicyNotAuthorized', 'rule:get_quota is disallowed by policy')],
          ['GET', '/v2.0/quotas/quota-b', undefined, error('PolicyNotAuthorized', 'rule:get_quota is disallowed by policy')],
          ['GET', '/v2.0/quotas/quota-b/default', undefined, error('PolicyNotAuthorized', 'rule:get_quota is disallowed by policy')],
          [
            'GET',
            '/v2.0/quotas/quota-b/details',
            undefined,
            error('AdminRequired', 'User does not have admin privileges: Only admin is authorized to access quotas for another project.'),
          ],
          ['PUT', '/v2.0/quotas/quota-c', { quota: { network: 100 } }, error('PolicyNotAuthorized', 'rule:update_quota is disallowed by policy')],
          ['DELETE', '/v2.0/quotas/quota-b', undefined, error('PolicyNotAuthorized', 'rule:delete_quota is disallowed by policy')],
        ];
        for (const [method, path, body, expected] of denied) {
          const reply = await call(server.url, method, path, body, stranger);
          assert.equal(reply.status, 403, `${method} ${path}`);
          assert.deepEqual(reply.body, expected, `${method} ${path}`);
        }
        assert.equal((await api.del('/v2.0/quotas/quota-b')).status, 204);
        assert.deepEqual((await api.del('/v2.0/quotas/quota-b')).body, error('TenantQuotaNotFound', 'Quota for tenant quota-b could not be found.'));
        assert.equal((await api.get('/v2.0/quotas')).body.quotas.length, 0);
      });

      it('refuses bad limits as Neutron does and changes nothing', async () => {
        const cases: Array<[unknown, string, string]> = [
          [{ quota: { bogus: 5 } }, 'HTTPBadRequest', "Unrecognized attribute(s) 'bogus'"],
          [{ quota: { network: 'abc' } }, 'InvalidInput', "Invalid input for operation: 'abc' is not an integer."],
          [{ quota: { network: null } }, 'InvalidInput', "Invalid input for operation: 'None' is not an integer."],
          [{ quota: { network: 1.5 } }, 'InvalidInput', "Invalid input for operation: '1.5' is not an integer."],
          [{ quota: { network: -2 } }, 'HTTPBadRequest', "Invalid input for network. Reason: '-2' is too small - must be at least '-1'."],
          [
            { quota: { subnet: 99999999999 } },
            'HTTPBadRequest',
            "Invalid input for subnet. Reason: '99999999999' is too large - must be no larger than '2147483647'.",
          ],
          [{ quotas: { network: 1 } }, 'HTTPBadRequest', "Unable to find 'quota' in request body"],
          [{ quota: 5 }, 'HTTPBadRequest', 'Body contains invalid data'],
        ];
        for (const [body, type, message] of cases) {
          const reply = await api.put('/v2.0/quotas/quota-d', body);
          assert.equal(reply.status, 400, message);
          assert.deepEqual(reply.body, error(type, message));
        }
        // A valid resource beside an invalid one is not applied either.
        assert.equal((await api.put('/v2.0/quotas/quota-d', { quota: { router: 1, network: 'x' } })).status, 400);
        assert.deepEqual((await api.get('/v2.0/quotas')).body.quotas, []);
      });
    });

    it('serves an OpenAPI 3 document generated from the resource definitions', async () => {
      const doc = (await api.get('/v2.0/openapi.json')).body;
      assert.equal(doc.openapi, '3.0.3');
      for (const path of ['/v2.0/networks', '/v2.0/networks/{id}', '/v2.0/networks/{id}/tags', '/v2.0/networks/{id}/tags/{tag}'])
        assert.ok(doc.paths[path], path);
      assert.deepEqual(Object.keys(doc.paths['/v2.0/networks']).sort(), ['get', 'post']);
      assert.deepEqual(Object.keys(doc.paths['/v2.0/networks/{id}']).sort(), ['delete', 'get', 'parameters', 'put']);
      const network = doc.components.schemas.Network.properties;
      assert.deepEqual(network.mtu, { type: 'integer', nullable: true, default: null });
      assert.equal(network.shared.type, 'boolean');
      assert.equal(network.status.readOnly, true);
      assert.equal(network.tags.type, 'array');
      const create = doc.components.schemas.NetworkCreate;
      assert.equal(create.properties.status, undefined);
      assert.equal(create.properties['provider:network_type'].type, 'string');
      assert.deepEqual(Object.keys(doc.components.schemas.NetworkUpdate.properties).sort(), [
        'admin_state_up',
        'description',
        'mtu',
        'name',
        'port_security_enabled',
        'router:external',
        'shared',
      ]);
      const filters = doc.paths['/v2.0/networks'].get.parameters.map((p: { name: string }) => p.name);
      for (const name of ['limit', 'marker', 'sort_key', 'tags-any', 'name', 'shared', 'provider:network_type']) assert.ok(filters.includes(name), name);
      assert.ok(!filters.includes('subnets'));
    });

    it('lists the tag and quota extensions', async () => {
      const aliases = (await api.get('/v2.0/extensions')).body.extensions.map((e: { alias: string }) => e.alias);
      for (const alias of ['standard-attr-tag', 'quotas', 'quota_details', 'quota-check-limit']) assert.ok(aliases.includes(alias), alias);
      assert.equal((await api.get('/v2.0/extensions/standard-attr-tag', ADMIN)).body.extension.alias, 'standard-attr-tag');
    });
  });
}
