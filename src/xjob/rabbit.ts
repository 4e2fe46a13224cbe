import amqp, { type Channel, type ChannelModel } from 'amqplib';
import type { Logger } from 'pino';
import type { JobKey, JobWaker } from '../tricircle/index.js';

// Wake-ups across processes through RabbitMQ. A message only says "jobs of this key are
// waiting"; the jobs themselves are in the database, so a lost message delays a job until
// the next poll and loses nothing. Publishers send to the [DEFAULT] control_exchange with
// routing key `xjob`; every xjob process consumes the one shared queue, so each wake-up goes
// to one process, and a process takes no more messages than it has free workers.

const ROUTING_KEY = 'xjob';
const queueOf = (exchange: string) => `${exchange}.xjob`;

/**
 * The AMQP URLs of an oslo.messaging transport_url: `rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost`
 * names one broker per comma; each becomes an amqp:// URL, tried in turn.
 */
export function amqpUrls(transportUrl: string): string[] {
  const match = /^(?:rabbit|amqp):\/\/([^/]*)(\/.*)?$/.exec(transportUrl.trim());
  if (!match) throw new Error(`'${transportUrl}' is not a rabbit:// transport URL`);
  const vhost = match[2] ?? '/';
  // A URL's path is the vhost, percent-encoded; '/' alone names the default vhost '/'.
  const path = vhost === '/' ? '/%2F' : vhost;
  return match[1]!.split(',').map((host) => `amqp://${host}${path}`);
}

const KEY_MESSAGE = (key: JobKey) => Buffer.from(JSON.stringify({ type: key.type, resource_id: key.resourceId, project_id: key.projectId }));

function parseKey(content: Buffer): JobKey | null {
  try {
    const body = JSON.parse(content.toString('utf8')) as { type?: unknown; resource_id?: unknown; project_id?: unknown };
    if (typeof body.type !== 'string' || typeof body.resource_id !== 'string') return null;
    return { type: body.type, resourceId: body.resource_id, projectId: typeof body.project_id === 'string' ? body.project_id : null };
  } catch {
    return null;
  }
}

/** One connection and channel to the broker, re-established by itself whenever it drops. */
export class RabbitLink {
  private connection: ChannelModel | null = null;
  private channelNow: Channel | null = null;
  private closed = false;
  private failures = 0;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly urls: string[],
    private readonly logger: Logger,
    /** Declares what this side needs on a fresh channel (exchange, queue, consumer). */
    private readonly setup: (channel: Channel) => Promise<void>,
  ) {}

  /** The channel while connected, else null. */
  get channel(): Channel | null {
    return this.channelNow;
  }

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const url = this.urls[this.failures % this.urls.length]!;
    const where = url.replace(/\/\/[^@]*@/, '//');
    try {
      const connection = await amqp.connect(url, { timeout: 5000 });
      connection.on('error', (err) => this.logger.warn({ err: err.message }, 'message broker connection error'));
      connection.on('close', () => this.lost(connection));
      const channel = await connection.createChannel();
      channel.on('error', (err) => this.logger.warn({ err: err.message }, 'message broker channel error'));
      channel.on('close', () => this.lost(connection));
      await this.setup(channel);
      if (this.closed) {
        await connection.close().catch(() => undefined);
        return;
      }
      this.connection = connection;
      this.channelNow = channel;
      if (this.failures > 0) this.logger.info({ broker: where }, 'message broker reconnected');
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.logger.warn({ err: (err as Error).message, broker: where }, 'message broker unreachable; retrying');
      this.schedule();
    }
  }

  private lost(connection: ChannelModel): void {
    if (this.connection !== connection) return;
    this.connection = null;
    this.channelNow = null;
    if (this.closed) return;
    this.logger.warn('message broker connection lost; reconnecting');
    void connection.close().catch(() => undefined);
    this.failures++;
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.retry) return;
    const delay = Math.min(10_000, 250 * 2 ** Math.min(this.failures, 6)) * (0.5 + Math.random() / 2);
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, delay);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const connection = this.connection;
    this.connection = null;
    this.channelNow = null;
    await connection?.close().catch(() => undefined);
  }
}

/** Publishes wake-ups for the jobs this process registers. */
export class RabbitWaker implements JobWaker {
  private readonly link: RabbitLink;

  constructor(
    urls: string[],
    private readonly exchange: string,
    private readonly logger: Logger,
  ) {
    this.link = new RabbitLink(urls, logger, async (channel) => {
      await channel.assertExchange(exchange, 'direct', { durable: true });
    });
    this.link.start();
  }

  wake(keys: readonly JobKey[]): void {
    const channel = this.link.channel;
    // Without a broker the database poll finds the jobs: a wake-up is a shortcut, not the record.
    if (!channel) return;
    for (const key of keys) {
      try {
        channel.publish(this.exchange, ROUTING_KEY, KEY_MESSAGE(key), { contentType: 'application/json' });
      } catch (err) {
        this.logger.debug({ err: (err as Error).message }, 'wake-up not published');
        return;
      }
    }
  }

  close(): Promise<void> {
    return this.link.close();
  }
}

/** Where consumed wake-ups go: the engine, which acknowledges each once a run has dealt with it. */
export interface WakeupSink {
  deliver(key: JobKey, ack: () => void): void;
}

/** Consumes wake-ups from the shared queue, at most `prefetch` unacknowledged at a time. */
export class RabbitListener {
  private readonly link: RabbitLink;

  constructor(urls: string[], exchange: string, prefetch: number, sink: WakeupSink, logger: Logger) {
    this.link = new RabbitLink(urls, logger, async (channel) => {
      await channel.assertExchange(exchange, 'direct', { durable: true });
      const queue = queueOf(exchange);
      await channel.assertQueue(queue, { durable: true });
      await channel.bindQueue(queue, exchange, ROUTING_KEY);
      await channel.prefetch(prefetch);
      await channel.consume(queue, (message) => {
        if (!message) return;
        const key = parseKey(message.content);
        // An ack on a channel that has since closed is moot: the broker redelivers, and that is harmless.
        const ack = () => {
          if (this.link.channel === channel) channel.ack(message);
        };
        if (key) sink.deliver(key, ack);
        else {
          logger.warn('ignoring a malformed wake-up message');
          ack();
        }
      });
    });
    this.link.start();
  }

  close(): Promise<void> {
    return this.link.close();
  }
}
