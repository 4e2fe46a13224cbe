import { sql, type CreateTableBuilder, type Kysely } from 'kysely';
import type { DialectName } from '../connect.js';

// The Neutron server's tables (the central Neutron keeps them in the Tricircle database, a
// local Neutron in its own). Booleans are 0/1 integers and lists or maps are JSON text, so
// the same rows read alike on SQLite, PostgreSQL and MariaDB; timestamps are ISO 8601 UTC
// text as Neutron shows them. Uniqueness that Neutron guarantees is a constraint here, so
// concurrent servers cannot break it: addresses and MACs per network, segments per range,
// one default security group per project.

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const createTable = (name: string) => {
    const builder = db.schema.createTable(name);
    return dialect === 'mysql' ? builder.modifyEnd(sql`ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`) : builder;
  };
  // id, project, name, description, timestamps and revision: Neutron's "standard attributes".
  const standard = <T extends string>(builder: CreateTableBuilder<T>) =>
    builder
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('project_id', 'varchar(255)')
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(1));
  const index = (table: string, columns: string[]) =>
    db.schema
      .createIndex(`${table}0${columns.join('0')}`)
      .on(table)
      .columns(columns)
      .execute();

  await standard(createTable('networks'))
    .addColumn('admin_state_up', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('shared', 'integer', (c) => c.notNull())
    .addColumn('mtu', 'integer')
    .addColumn('port_security_enabled', 'integer', (c) => c.notNull())
    .addColumn('router_external', 'integer', (c) => c.notNull())
    .addColumn('availability_zone_hints', 'text', (c) => c.notNull())
    .execute();
  await index('networks', ['project_id']);

  await createTable('network_segments')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id').onDelete('cascade'))
    .addColumn('network_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('physical_network', 'varchar(64)')
    .addColumn('segmentation_id', 'integer')
    .addColumn('segment_index', 'integer', (c) => c.notNull())
    .execute();
  await index('network_segments', ['network_id']);

  // One row per segment in use; the key is the allocation lock (physical_network '' for tunnels).
  await createTable('segment_allocations')
    .addColumn('network_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('physical_network', 'varchar(64)', (c) => c.notNull())
    .addColumn('segmentation_id', 'integer', (c) => c.notNull())
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull())
    .addPrimaryKeyConstraint('segment_allocations_pk', ['network_type', 'physical_network', 'segmentation_id'])
    .execute();
  await index('segment_allocations', ['network_id']);

  await standard(createTable('subnetpools'))
    .addColumn('ip_version', 'integer', (c) => c.notNull())
    .addColumn('prefixes', 'text', (c) => c.notNull())
    .addColumn('default_prefixlen', 'integer', (c) => c.notNull())
    .addColumn('min_prefixlen', 'integer', (c) => c.notNull())
    .addColumn('max_prefixlen', 'integer', (c) => c.notNull())
    .addColumn('shared', 'integer', (c) => c.notNull())
    .addColumn('is_default', 'integer', (c) => c.notNull())
    .addColumn('default_quota', 'integer')
    .execute();

  await standard(createTable('subnets'))
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id'))
    .addColumn('ip_version', 'integer', (c) => c.notNull())
    .addColumn('cidr', 'varchar(64)', (c) => c.notNull())
    .addColumn('gateway_ip', 'varchar(64)')
    .addColumn('enable_dhcp', 'integer', (c) => c.notNull())
    .addColumn('ipv6_ra_mode', 'varchar(16)')
    .addColumn('ipv6_address_mode', 'varchar(16)')
    .addColumn('subnetpool_id', 'varchar(36)', (c) => c.references('subnetpools.id'))
    .addColumn('segment_id', 'varchar(36)')
    .addColumn('allocation_pools', 'text', (c) => c.notNull())
    .addColumn('dns_nameservers', 'text', (c) => c.notNull())
    .addColumn('host_routes', 'text', (c) => c.notNull())
    .execute();
  await index('subnets', ['network_id']);
  await index('subnets', ['subnetpool_id']);

  // Free address ranges of each subnet's pools (first/last as fixed-width hex, which sorts
  // numerically): allocation takes the first address of a range instead of searching.
  await createTable('ip_availability_ranges')
    .addColumn('subnet_id', 'varchar(36)', (c) => c.notNull().references('subnets.id').onDelete('cascade'))
    .addColumn('first_ip', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_ip', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('ip_availability_ranges_pk', ['subnet_id', 'first_ip'])
    .execute();

  await standard(createTable('ports'))
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id'))
    .addColumn('mac_address', 'varchar(32)', (c) => c.notNull())
    .addColumn('admin_state_up', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('device_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('device_owner', 'varchar(255)', (c) => c.notNull())
    .addColumn('binding_host_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('binding_vif_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('binding_vif_details', 'text', (c) => c.notNull())
    .addColumn('binding_vnic_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('binding_profile', 'text', (c) => c.notNull())
    .addColumn('port_security_enabled', 'integer', (c) => c.notNull())
    .addColumn('allowed_address_pairs', 'text', (c) => c.notNull())
    .addColumn('extra_dhcp_opts', 'text', (c) => c.notNull())
    .addUniqueConstraint('ports0network_id0mac_address', ['network_id', 'mac_address'])
    .execute();
  await index('ports', ['project_id']);
  await index('ports', ['device_id']);

  // The ground truth of address use: one row per address per network.
  await createTable('ip_allocations')
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('ip_address', 'varchar(64)', (c) => c.notNull())
    .addColumn('subnet_id', 'varchar(36)', (c) => c.notNull().references('subnets.id'))
    .addColumn('port_id', 'varchar(36)', (c) => c.references('ports.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('ip_allocations_pk', ['network_id', 'ip_address'])
    .execute();
  await index('ip_allocations', ['port_id']);
  await index('ip_allocations', ['subnet_id']);

  await standard(createTable('securitygroups'))
    .addColumn('stateful', 'integer', (c) => c.notNull())
    .execute();
  await index('securitygroups', ['project_id']);
  // Its key makes "create the project's default group on first use" safe under concurrency.
  await createTable('default_security_groups')
    .addColumn('project_id', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('securitygroups.id').onDelete('cascade'))
    .execute();

  await createTable('securitygrouprules')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)')
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('securitygroups.id').onDelete('cascade'))
    .addColumn('remote_group_id', 'varchar(36)', (c) => c.references('securitygroups.id').onDelete('cascade'))
    .addColumn('direction', 'varchar(16)', (c) => c.notNull())
    .addColumn('ethertype', 'varchar(8)', (c) => c.notNull())
    .addColumn('protocol', 'varchar(40)')
    .addColumn('port_range_min', 'integer')
    .addColumn('port_range_max', 'integer')
    .addColumn('remote_ip_prefix', 'varchar(64)')
    .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(1))
    // The rule's normalized content: the unique key that turns a duplicate rule into a 409.
    .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull().unique())
    .execute();
  await index('securitygrouprules', ['security_group_id']);

  await createTable('port_security_groups')
    .addColumn('port_id', 'varchar(36)', (c) => c.notNull().references('ports.id').onDelete('cascade'))
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('securitygroups.id'))
    .addPrimaryKeyConstraint('port_security_groups_pk', ['port_id', 'security_group_id'])
    .execute();
  await index('port_security_groups', ['security_group_id']);

  await standard(createTable('routers'))
    .addColumn('admin_state_up', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('gw_port_id', 'varchar(36)', (c) => c.references('ports.id'))
    .addColumn('enable_snat', 'integer', (c) => c.notNull())
    .addColumn('distributed', 'integer', (c) => c.notNull())
    .addColumn('ha', 'integer', (c) => c.notNull())
    .addColumn('availability_zone_hints', 'text', (c) => c.notNull())
    .addColumn('routes', 'text', (c) => c.notNull())
    .execute();
  await index('routers', ['project_id']);

  // A router's interface and gateway ports; a subnet may sit on one router only.
  await createTable('router_ports')
    .addColumn('router_id', 'varchar(36)', (c) => c.notNull().references('routers.id').onDelete('cascade'))
    .addColumn('port_id', 'varchar(36)', (c) => c.primaryKey().references('ports.id').onDelete('cascade'))
    .addColumn('port_type', 'varchar(255)', (c) => c.notNull())
    .execute();
  await index('router_ports', ['router_id']);

  await createTable('floatingips')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)')
    .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('floating_network_id', 'varchar(36)', (c) => c.notNull().references('networks.id'))
    .addColumn('floating_ip_address', 'varchar(64)', (c) => c.notNull())
    .addColumn('floating_port_id', 'varchar(36)', (c) => c.notNull().references('ports.id'))
    .addColumn('fixed_port_id', 'varchar(36)', (c) => c.references('ports.id'))
    .addColumn('fixed_ip_address', 'varchar(64)')
    .addColumn('router_id', 'varchar(36)', (c) => c.references('routers.id'))
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(1))
    // A fixed address takes at most one floating IP.
    .addUniqueConstraint('floatingips0fixed_port_id0fixed_ip_address', ['fixed_port_id', 'fixed_ip_address'])
    .execute();
  await index('floatingips', ['project_id']);

  await createTable('tags')
    .addColumn('resource_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('tag', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('tags_pk', ['resource_type', 'resource_id', 'tag'])
    .execute();
  await index('tags', ['resource_type', 'tag']);

  await createTable('quotas')
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('resource', 'varchar(255)', (c) => c.notNull())
    .addColumn('limit', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'resource'])
    .execute();
}
