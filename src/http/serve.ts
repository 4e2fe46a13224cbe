import type { FastifyInstance } from 'fastify';

export interface Service {
  name: string;
  app: FastifyInstance;
  host: string;
  port: number;
  /** Who listens, for the port-clash message (e.g. 'the central Neutron'); defaults to `name`. */
  description?: string;
  /** What to change when the port is taken, for the port-clash message (e.g. '[neutron] bind_port'). */
  portOption?: string;
}

/** Starts listening and returns the bound address (port 0 picks a free port); a taken port is a one-line error naming the option to change. */
export async function listen(service: Service): Promise<string> {
  let address: string;
  try {
    address = await service.app.listen({ host: service.host, port: service.port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const change = service.portOption ? `; set ${service.portOption}` : '';
    throw new Error(`port ${service.port} on ${service.host} is in use (${service.description ?? service.name}${change})`);
  }
  service.app.log.info({ service: service.name, address }, 'listening');
  return address;
}

/**
 * On SIGTERM or SIGINT: stop accepting, let in-flight requests finish (at most
 * `timeoutSeconds`), then run the closers (database, ...) and exit.
 */
export function closeOnSignal(apps: FastifyInstance[], closers: Array<() => Promise<void>>, timeoutSeconds: number, log: (message: string) => void): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log(`${signal} received: finishing in-flight requests`);
    const timer = setTimeout(() => {
      log(`graceful shutdown took longer than ${timeoutSeconds}s; closing anyway`);
      process.exit(1);
    }, timeoutSeconds * 1000);
    timer.unref();
    await Promise.allSettled(apps.map((app) => app.close()));
    for (const close of closers) await close().catch(() => undefined);
    clearTimeout(timer);
    log('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
