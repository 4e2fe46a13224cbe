import assert from 'node:assert/strict';
import { ADMIN, neutronClient, type Headers, type NeutronTestDb } from './neutron-server.js';

// Shared set-up of the router and floating IP tests: networks with one subnet, an external
// network, and a count of every table an L3 operation writes (to show a refused one wrote nothing).

export type Api = ReturnType<typeof neutronClient>;

/** A network with one IPv4 subnet; returns both ids. */
export async function netWithSubnet(
  api: Api,
  cidr: string,
  attrs: Record<string, unknown> = {},
  headers: Headers = ADMIN,
  subnet: Record<string, unknown> = {},
) {
  const network = await api.network(attrs, headers);
  const reply = await api.post('/v2.0/subnets', { subnet: { network_id: network.id, cidr, ip_version: 4, ...subnet } }, headers);
  assert.equal(reply.status, 201, reply.text);
  return { networkId: network.id as string, subnetId: reply.body.subnet.id as string };
}

/** An external network (admin-made, as Neutron requires). */
export const externalNet = (api: Api, cidr: string) => netWithSubnet(api, cidr, { 'router:external': true, shared: true });

export async function router(api: Api, attrs: Record<string, unknown> = {}, headers: Headers = ADMIN): Promise<Record<string, any>> {
  const reply = await api.post('/v2.0/routers', { router: attrs }, headers);
  assert.equal(reply.status, 201, reply.text);
  return reply.body.router;
}

const TABLES = ['routers', 'router_ports', 'floatingips', 'ports', 'ip_allocations'];

/** Row counts of the tables L3 operations write. */
export async function counts(db: NeutronTestDb): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const table of TABLES) {
    const row = await db.kysely
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    result[table] = Number(row.n);
  }
  return result;
}

/** Asserts a Neutron error reply. */
export function assertError(reply: { status: number; body: any; text: string }, status: number, type: string, message?: string | RegExp): void {
  assert.equal(reply.status, status, reply.text);
  assert.equal(reply.body?.NeutronError?.type, type, reply.text);
  if (typeof message === 'string') assert.equal(reply.body.NeutronError.message, message);
  else if (message) assert.match(reply.body.NeutronError.message, message);
}
