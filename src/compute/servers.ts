import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { RequestContext } from '../auth/index.js';
import { NeutronRequestError, ServiceUnreachableError } from '../client/index.js';
import { formatMicros } from '../db/index.js';
import { ApiError } from '../http/index.js';
import type { BootRequest, NetworkRequest } from './input.js';
import type { ComputeNeutron, NeutronNetwork, NeutronPort } from './neutron.js';
import type { AddressEntry, Server, ServerPort, ServerStore } from './store.js';

export interface ComputeSettings {
  /** binding:host_id of every port this service binds. */
  host: string;
  /** The host's VxLAN tunnel endpoint: the region's Neutron records it as the host's OVS agent (docs/compute.md). */
  tunnelIp: string;
  defaultAvailabilityZone: string;
}

/** What a failed Neutron call means to the caller of the compute API. */
function translate(err: unknown, notFound: () => string): unknown {
  if (err instanceof ServiceUnreachableError) return new ApiError('ServiceUnavailable', `${err.message}; try again later`);
  if (!(err instanceof NeutronRequestError)) return err;
  const message = `Neutron of region ${err.region}: ${err.neutronMessage}`;
  if (err.status === 404) return new ApiError('InvalidInput', notFound());
  if (err.type === 'OverQuota') return new ApiError('PolicyNotAuthorized', `Maximum number of ports exceeded: ${err.neutronMessage}`);
  if (err.status === 401 || err.status === 403) return new ApiError('PolicyNotAuthorized', message);
  if (err.status === 409) return new ApiError('Conflict', message);
  if (err.status >= 500) return new ApiError('ServiceUnavailable', message);
  return new ApiError('InvalidInput', message);
}

const isGone = (err: unknown) => err instanceof NeutronRequestError && err.status === 404;

function addressesOf(port: NeutronPort): AddressEntry[] {
  return port.fixed_ips.map((ip) => ({
    addr: ip.ip_address,
    version: ip.ip_address.includes(':') ? 6 : 4,
    'OS-EXT-IPS:type': 'fixed',
    'OS-EXT-IPS-MAC:mac_addr': port.mac_address,
  }));
}

/**
 * Boots and deletes servers with the Neutron calls Nova makes: get the network, create the
 * port (or claim the given one) for the server, bind it to this host, and the reverse.
 */
export class Servers {
  constructor(
    private readonly store: ServerStore,
    private readonly neutron: ComputeNeutron,
    private readonly settings: ComputeSettings,
    private readonly log: FastifyBaseLogger,
  ) {}

  async boot(ctx: RequestContext, request: BootRequest): Promise<Server> {
    const id = randomUUID();
    const zone = request.availabilityZone ?? this.settings.defaultAvailabilityZone;
    const owner = { device_id: id, device_owner: `compute:${zone}` };
    const ports: ServerPort[] = [];
    const addresses: Record<string, AddressEntry[]> = {};
    try {
      for (const wanted of request.networks) {
        const { port, network } = await this.attach(ctx, wanted, owner, ports);
        const bound = await this.neutron
          .updatePort(ctx, 'admin', port.id, {
            'binding:host_id': this.settings.host,
            'binding:profile': { tunnel_ip: this.settings.tunnelIp },
          })
          .catch((err: unknown) => {
            throw translate(err, () => `Port id ${port.id} could not be found.`);
          });
        (addresses[network.name] ??= []).push(...addressesOf(bound));
      }
      const now = formatMicros(new Date());
      const server: Server = {
        id,
        projectId: ctx.projectId ?? '',
        userId: ctx.userId,
        name: request.name,
        status: 'ACTIVE',
        flavorId: request.flavor.id,
        imageId: request.image.id,
        availabilityZone: zone,
        host: this.settings.host,
        ports,
        addresses,
        createdAt: now,
        updatedAt: now,
      };
      await this.store.insert(server);
      return server;
    } catch (err) {
      await this.release(ctx, ports, true);
      throw err;
    }
  }

  /** Creates or claims the port of one `networks` entry; records it in `ports` for the undo. */
  private async attach(
    ctx: RequestContext,
    wanted: NetworkRequest,
    owner: { device_id: string; device_owner: string },
    ports: ServerPort[],
  ): Promise<{ port: NeutronPort; network: NeutronNetwork }> {
    if ('port' in wanted) {
      const given = await this.neutron.port(ctx, wanted.port).catch((err: unknown) => {
        throw translate(err, () => `Port id ${wanted.port} could not be found.`);
      });
      if (given.device_id !== '') throw new ApiError('Conflict', `Port ${given.id} is still in use.`);
      const network = await this.neutron.network(ctx, given.network_id).catch((err: unknown) => {
        throw translate(err, () => `Network ${given.network_id} could not be found.`);
      });
      const port = await this.neutron.updatePort(ctx, 'user', given.id, owner).catch((err: unknown) => {
        throw translate(err, () => `Port id ${given.id} could not be found.`);
      });
      ports.push({ port_id: port.id, network_id: port.network_id, created: false });
      return { port, network };
    }
    const network = await this.neutron.network(ctx, wanted.network).catch((err: unknown) => {
      throw translate(err, () => `Network ${wanted.network} could not be found.`);
    });
    const fixedIps = wanted.fixedIp === undefined ? {} : { fixed_ips: [{ ip_address: wanted.fixedIp }] };
    const port = await this.neutron.createPort(ctx, { network_id: network.id, ...owner, ...fixedIps }).catch((err: unknown) => {
      throw translate(err, () => `Network ${network.id} could not be found.`);
    });
    ports.push({ port_id: port.id, network_id: port.network_id, created: true });
    return { port, network };
  }

  /**
   * Unbinds and deletes the ports the server created and unbinds and frees the ones it was
   * given. `bestEffort` (undoing a failed boot) logs failures instead of throwing them.
   */
  private async release(ctx: RequestContext, ports: ServerPort[], bestEffort: boolean): Promise<void> {
    for (const port of [...ports].reverse()) {
      try {
        if (port.created) {
          await this.neutron.updatePort(ctx, 'admin', port.port_id, { 'binding:host_id': '' }).catch((err: unknown) => {
            if (!isGone(err)) throw err;
          });
          await this.neutron.deletePort(ctx, port.port_id).catch((err: unknown) => {
            if (!isGone(err)) throw err;
          });
        } else {
          await this.neutron.updatePort(ctx, 'admin', port.port_id, { device_id: '', device_owner: '', 'binding:host_id': '' }).catch((err: unknown) => {
            if (!isGone(err)) throw err;
          });
        }
      } catch (err) {
        if (!bestEffort) throw translate(err, () => `Port id ${port.port_id} could not be found.`);
        this.log.warn({ err, port_id: port.port_id }, 'could not undo a port of a failed boot');
      }
    }
  }

  /** Releases the server's ports, then forgets it; when Neutron fails the server stays, to delete again. */
  async delete(ctx: RequestContext, server: Server): Promise<void> {
    await this.release(ctx, server.ports, false);
    await this.store.remove(server.id);
  }
}
