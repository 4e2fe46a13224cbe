import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RequestContext } from '../../auth/index.js';
import { loadConfig } from '../../config/index.js';
import { migrateToLatest, openDb, parseConnection, type Db } from '../../db/index.js';
import { parseCreate } from '../api/body.js';
import { NETWORK, PORT, SUBNET } from '../resources/index.js';
import { createNeutronCore } from './index.js';
import type { PortOperations } from './ports.js';
import type { NeutronDb } from './store.js';

// The port entry points routers and floating IPs use inside their own transactions.

const admin = { projectId: 'admin', isAdmin: true, roles: ['admin'] } as RequestContext;

describe('ports made for network services', () => {
  let db: Db;
  let core: ReturnType<typeof createNeutronCore>;

  before(async () => {
    const { config } = loadConfig({ env: {}, overrides: { DEFAULT: { log_level: 'silent' } } });
    db = openDb(parseConnection('sqlite://', '.'));
    await migrateToLatest(db);
    core = createNeutronCore(config, db.kysely as unknown as NeutronDb);
  });
  after(() => db.close());

  it('creates an owned port with default or requested addresses, and attaches a port to a device', async () => {
    // Items as the API hands them over: defaults filled in by the resource definitions.
    const items = (def: typeof NETWORK, body: Record<string, unknown>) => parseCreate(def, admin, { [def.name]: body }).items;
    const [net] = await core.plugin.networks!.create(admin, items(NETWORK, { name: 'n' }));
    const [subnet] = await core.plugin.subnets!.create(admin, items(SUBNET, { network_id: net!.id, ip_version: 4, cidr: '10.0.0.0/24' }));
    const ports = core.plugin.ports as PortOperations;
    const kysely = db.kysely as unknown as NeutronDb;
    const gateway = await kysely.transaction().execute((tx) =>
      ports.createOwned(tx, {
        network_id: String(net!.id),
        project_id: '',
        device_id: 'router-1',
        device_owner: 'network:router_interface',
        fixed_ips: [{ subnet_id: String(subnet!.id), ip_address: '10.0.0.1' }],
      }),
    );
    assert.deepEqual(gateway.fixed_ips, [{ subnet_id: subnet!.id, ip_address: '10.0.0.1' }]);
    assert.deepEqual([gateway.status, gateway.port_security_enabled, gateway.security_groups], ['ACTIVE', false, []]);
    const fip = await kysely
      .transaction()
      .execute((tx) => ports.createOwned(tx, { network_id: String(net!.id), project_id: '', device_id: 'fip-1', device_owner: 'network:floatingip' }));
    assert.deepEqual(fip.fixed_ips, [{ subnet_id: subnet!.id, ip_address: '10.0.0.2' }]);
    const [user] = await core.plugin.ports!.create(admin, items(PORT, { network_id: net!.id }));
    await kysely.transaction().execute((tx) => ports.attach(tx, String(user!.id), 'router-1', 'network:router_interface'));
    const attached = await ports.get(admin, String(user!.id));
    assert.deepEqual(
      [attached.device_id, attached.device_owner, attached.status, attached.revision_number],
      ['router-1', 'network:router_interface', 'ACTIVE', 2],
    );
  });
});
