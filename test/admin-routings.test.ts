import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, MEMBER, call, startAdminApi, type RunningAdminApi } from './support/admin-server.js';
import { engines, type TestDatabase } from './support/engines.js';

interface Routing {
  id: number;
  top_id: string;
  bottom_id: string;
  pod_id: string;
  project_id: string;
  resource_type: string;
  created_at: string;
  updated_at: string | null;
}

for (const engine of await engines()) {
  describe(`routings on ${engine.name}`, { skip: engine.skip }, () => {
    let database: TestDatabase;
    let api: RunningAdminApi;
    let url: string;
    let podA: string;
    let podB: string;
    const created: Routing[] = [];
    const get = (path: string, headers: Record<string, string> = ADMIN) => call(url, 'GET', path, undefined, headers);

    before(async () => {
      database = await engine.create();
      api = await startAdminApi(database.connection, { DEFAULT: { pagination_max_limit: '5' } });
      url = api.url;
      await call(url, 'POST', '/v1.0/pods', { pod: { region_name: 'CentralRegion' } });
      podA = (await call(url, 'POST', '/v1.0/pods', { pod: { region_name: 'RegionOne', az_name: 'az1' } })).body.pod.pod_id;
      podB = (await call(url, 'POST', '/v1.0/pods', { pod: { region_name: 'RegionTwo', az_name: 'az2' } })).body.pod.pod_id;
    });
    after(async () => {
      await api?.close();
      await database?.drop();
    });

    it('creates routings and returns each with an integer id and timestamps', async () => {
      const specs = [
        ['net-1', podA, 'p1', 'network'],
        ['net-1', podB, 'p1', 'network'],
        ['subnet-1', podA, 'p1', 'subnet'],
        ['port-1', podA, 'p2', 'port'],
        ['router-1', podB, 'p2', 'router'],
        ['sg-1', podB, 'p2', 'security_group'],
        ['port-2', podB, 'p1', 'port'],
      ] as const;
      for (const [top, pod, project, type] of specs) {
        const r = await call(url, 'POST', '/v1.0/routings', {
          routing: { top_id: top, bottom_id: `${top}-bottom`, pod_id: pod, project_id: project, resource_type: type },
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(typeof r.body.routing.id, 'number');
        assert.match(r.body.routing.created_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        assert.equal(r.body.routing.updated_at, null);
        created.push(r.body.routing);
      }
      const ids = created.map((r) => r.id);
      assert.deepEqual(
        [...ids].sort((a, b) => a - b),
        ids,
        'ids increase',
      );
    });

    it('refuses a duplicate (top_id, pod_id, resource_type) with 409', async () => {
      const r = await call(url, 'POST', '/v1.0/routings', {
        routing: { top_id: 'net-1', bottom_id: 'other', pod_id: podA, project_id: 'p9', resource_type: 'network' },
      });
      assert.equal(r.status, 409);
      assert.equal(r.body.conflictingRequest.message, 'Resource routing already exists');
    });

    it('lists newest first across every project for an admin, in pages capped by pagination_max_limit', async () => {
      const all = await get('/v1.0/routings');
      assert.equal(all.status, 200);
      const newest = [...created].reverse();
      assert.deepEqual(
        all.body.routings.map((r: Routing) => r.id),
        newest.slice(0, 5).map((r) => r.id),
      );
      assert.ok(all.body.routings_links[0].href.startsWith('/v1.0/routings?'));
    });

    it('follows routings_links through every page, visiting each routing once, for several limits', async () => {
      for (const limit of [1, 2, 3, 7]) {
        const seen: number[] = [];
        let path: string | undefined = `/v1.0/routings?limit=${limit}`;
        let pages = 0;
        while (path) {
          const page = await get(path);
          assert.equal(page.status, 200, page.text);
          seen.push(...page.body.routings.map((r: Routing) => r.id));
          path = page.body.routings_links?.[0]?.href;
          pages++;
        }
        assert.deepEqual(
          seen,
          [...created].reverse().map((r) => r.id),
          `limit ${limit}`,
        );
        assert.equal(pages, Math.ceil(created.length / Math.min(limit, 5)));
      }
    });

    it('filters on every column, repeats mean "any of", and links keep the filters', async () => {
      // The newest routing, so that it is on the first page of every filter that matches it.
      const first = created[created.length - 1]!;
      for (const [name, value] of Object.entries(first)) {
        if (value === null) continue;
        const r = await get(`/v1.0/routings?${name}=${encodeURIComponent(String(value))}`);
        assert.equal(r.status, 200, `${name}: ${r.text}`);
        assert.ok(
          r.body.routings.some((x: Routing) => x.id === first.id),
          name,
        );
        assert.ok(
          r.body.routings.every((x: Routing) => String(x[name as keyof Routing]) === String(value)),
          name,
        );
      }
      const ports = await get('/v1.0/routings?resource_type=port&resource_type=router');
      assert.deepEqual(ports.body.routings.map((r: Routing) => r.top_id).sort(), ['port-1', 'port-2', 'router-1']);
      const paged = await get('/v1.0/routings?project_id=p1&limit=2');
      assert.equal(paged.body.routings.length, 2);
      const next = new URL(paged.body.routings_links[0].href, url);
      assert.equal(next.searchParams.get('project_id'), 'p1');
      const rest = await get(`${next.pathname}${next.search}`);
      assert.ok(rest.body.routings.every((r: Routing) => r.project_id === 'p1'));
      assert.equal(rest.body.routings_links, undefined);
      assert.deepEqual((await get('/v1.0/routings?top_id=nothing')).body, { routings: [] });
    });

    it('gives no next link on the last page, whatever the ids are', async () => {
      const oldest = created[0]!;
      const r = await get(`/v1.0/routings?limit=2&marker=${created[2]!.id}`);
      assert.deepEqual(
        r.body.routings.map((x: Routing) => x.id),
        [created[1]!.id, oldest.id],
      );
      assert.equal(r.body.routings_links, undefined);
    });

    it('shows, updates and deletes one routing', async () => {
      const target = created[3]!;
      const shown = await get(`/v1.0/routings/${target.id}`);
      assert.deepEqual(shown.body.routing, target);
      const updated = await call(url, 'PUT', `/v1.0/routings/${target.id}`, { routing: { bottom_id: 'new-bottom', resource_type: 'router' } });
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.body.routing.bottom_id, 'new-bottom');
      assert.equal(updated.body.routing.resource_type, 'router');
      assert.equal(updated.body.routing.top_id, target.top_id);
      assert.match(updated.body.routing.updated_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      const moved = await call(url, 'PUT', `/v1.0/routings/${target.id}`, { routing: { pod_id: podB } });
      assert.equal(moved.body.routing.pod_id, podB);
      const deleted = await call(url, 'DELETE', `/v1.0/routings/${target.id}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.text, '');
      assert.equal((await get(`/v1.0/routings/${target.id}`)).status, 404);
      assert.equal((await call(url, 'DELETE', `/v1.0/routings/${target.id}`)).status, 404);
    });

    it('refuses an update that would duplicate another routing with 409 and changes nothing', async () => {
      const [a, b] = [created[0]!, created[1]!];
      const r = await call(url, 'PUT', `/v1.0/routings/${b.id}`, { routing: { pod_id: a.pod_id } });
      assert.equal(r.status, 409);
      assert.equal((await get(`/v1.0/routings/${b.id}`)).body.routing.pod_id, b.pod_id);
    });

    it('denies non-admins every routing operation with 403', async () => {
      const id = created[0]!.id;
      for (const [method, path, body] of [
        ['GET', '/v1.0/routings'],
        ['GET', `/v1.0/routings/${id}`],
        ['POST', '/v1.0/routings', { routing: { top_id: 'x', bottom_id: 'y', pod_id: podA, project_id: 'p', resource_type: 'network' } }],
        ['PUT', `/v1.0/routings/${id}`, { routing: { bottom_id: 'z' } }],
        ['DELETE', `/v1.0/routings/${id}`],
      ] as Array<[string, string, unknown?]>) {
        const r = await call(url, method, path, body, MEMBER);
        assert.equal(r.status, 403, `${method} ${path}`);
        assert.equal(r.body.forbidden.code, 403);
      }
      assert.equal((await get(`/v1.0/routings/${id}`)).body.routing.bottom_id, created[0]!.bottom_id);
    });
  });
}
