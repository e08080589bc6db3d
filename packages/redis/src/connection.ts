import { Redis, type RedisOptions } from 'ioredis';
import { RedisStoreOptionsError, StoreUnavailableError } from './errors.js';
import { ALL_SCRIPTS } from './scripts.js';

/** Where the stores find Redis. */
export interface RedisConnectionOptions {
  /** `redis://127.0.0.1:6379/0`: the stores open their own connections, with `failFastRedisOptions`. */
  readonly url?: string;
  /**
   * An ioredis client to use instead of `url` (the stores duplicate it for their subscription). Create it with
   * `failFastRedisOptions`, or a Redis outage makes calls wait in ioredis' queue instead of failing fast.
   */
  readonly redis?: Redis;
  /** Prefix of every key and channel, so several deployments can share one Redis. Default `bounded:`. */
  readonly prefix?: string;
  /** How long to wait for Redis when the stores are created. Default 10 s. */
  readonly connectTimeoutMs?: number;
}

/**
 * ioredis options for governance: a command fails at once while Redis is unreachable (the governor decides what
 * that means, per `fail_mode`) instead of waiting in a queue, and a command whose reply was lost in a disconnect is
 * failed, never sent twice.
 */
export const failFastRedisOptions: Readonly<RedisOptions> = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  commandTimeout: 2000,
  // Commands issued in the same tick leave in one write: many concurrent runs, few syscalls.
  enableAutoPipelining: true,
  retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
  // ioredis waits this long for a closing socket, and its timer outlives a socket that never connected: with the
  // default 2 s a command-line tool facing a Redis that is down took 2 s more to exit.
  disconnectTimeout: 250,
});

const SUBSCRIBER_OPTIONS: RedisOptions = {
  ...failFastRedisOptions,
  // A subscription only sends SUBSCRIBE: let it queue until the connection is back, and resubscribe then.
  enableOfflineQueue: true,
  maxRetriesPerRequest: null,
  autoResubscribe: true,
  enableAutoPipelining: false,
  commandTimeout: undefined,
};

const noop = () => {};

/** One command connection and one subscriber connection, shared by the stores of a process. */
export class RedisConnection {
  readonly client: Redis;
  readonly prefix: string;
  readonly #subscriber: Redis;
  readonly #ownsClient: boolean;
  readonly #handlers = new Map<string, (message: string) => void>();
  readonly #reconnectListeners = new Set<() => void>();
  #closed = false;

  private constructor(client: Redis, subscriber: Redis, ownsClient: boolean, prefix: string) {
    this.client = client;
    this.#subscriber = subscriber;
    this.#ownsClient = ownsClient;
    this.prefix = prefix;
    subscriber.on('message', (channel: string, message: string) => this.#handlers.get(channel)?.(message));
    // After a reconnect, state may have changed while nobody listened: the stores read it again.
    let connected = client.status === 'ready';
    client.on('ready', () => {
      if (connected) for (const listener of this.#reconnectListeners) listener();
      connected = true;
    });
    let subscribed = false;
    subscriber.on('ready', () => {
      if (subscribed) for (const listener of this.#reconnectListeners) listener();
      subscribed = true;
    });
  }

  static async open(options: RedisConnectionOptions): Promise<RedisConnection> {
    const prefix = options.prefix ?? 'bounded:';
    if (options.redis === undefined && (typeof options.url !== 'string' || options.url.length === 0)) {
      throw new RedisStoreOptionsError('pass `url` (redis://host:port) or an ioredis client as `redis`');
    }
    const client = options.redis ?? new Redis(options.url!, { ...failFastRedisOptions, connectionName: 'bounded' });
    const ownsClient = options.redis === undefined;
    const subscriber = ownsClient
      ? new Redis(options.url!, { ...SUBSCRIBER_OPTIONS, connectionName: 'bounded-sub' })
      : client.duplicate(SUBSCRIBER_OPTIONS);
    // Errors surface as failed commands; without a listener ioredis would also print each reconnect attempt.
    if (ownsClient) client.on('error', noop);
    subscriber.on('error', noop);
    const connection = new RedisConnection(client, subscriber, ownsClient, prefix);
    const loadScripts = () => Promise.all(ALL_SCRIPTS.map(script => script.load(client)));
    try {
      await Promise.all([
        ready(client, options.connectTimeoutMs ?? 10_000),
        ready(subscriber, options.connectTimeoutMs ?? 10_000),
      ]);
      await loadScripts();
      // A restarted Redis has forgotten them; until they are back a call pays one extra round trip (EVAL).
      connection.onReconnect(() => void loadScripts().catch(() => {}));
    } catch (error) {
      await connection.close();
      throw new StoreUnavailableError(error);
    }
    return connection;
  }

  /** Calls `handler` for every message on `channel` (prefixed). */
  async listen(channel: string, handler: (message: string) => void): Promise<void> {
    const name = this.prefix + channel;
    this.#handlers.set(name, handler);
    await this.#subscriber.subscribe(name);
  }

  /** Called after the connection came back from an outage. */
  onReconnect(listener: () => void): () => void {
    this.#reconnectListeners.add(listener);
    return () => this.#reconnectListeners.delete(listener);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#reconnectListeners.clear();
    await Promise.all([quit(this.#subscriber), this.#ownsClient ? quit(this.client, true) : undefined]);
  }
}

async function quit(client: Redis, flush = false): Promise<void> {
  try {
    // QUIT skips ioredis' auto-pipeline queue: a PING goes through it, so what was queued before is sent first.
    if (flush && client.status === 'ready') await client.ping();
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}

function ready(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError: unknown;
    const onError = (error: unknown) => {
      lastError = error;
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(lastError ?? new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    };
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/**
 * One plain command connection for a single read, closed afterwards: no subscriber and no scripts, so a user who may
 * only read (an operator listing what waits) can use it.
 */
export async function readOnce<T>(
  options: RedisConnectionOptions,
  read: (client: Redis, prefix: string) => Promise<T>,
): Promise<T> {
  const prefix = options.prefix ?? 'bounded:';
  if (options.redis !== undefined) return read(options.redis, prefix);
  if (typeof options.url !== 'string' || options.url.length === 0) {
    throw new RedisStoreOptionsError('pass `url` (redis://host:port) or an ioredis client as `redis`');
  }
  // No ready check: it runs INFO, which a read-only user may not (and ioredis would warn about it on the console).
  const client = new Redis(options.url, {
    ...failFastRedisOptions,
    connectionName: 'bounded-reader',
    enableReadyCheck: false,
  });
  client.on('error', noop);
  try {
    await guarded(ready(client, options.connectTimeoutMs ?? 10_000));
    return await read(client, prefix);
  } finally {
    client.disconnect();
  }
}

/** Wraps a Redis failure so the governor (and callers) see one error type with a stable code. */
export async function guarded<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw StoreUnavailableError.is(error) ? error : new StoreUnavailableError(error);
  }
}
