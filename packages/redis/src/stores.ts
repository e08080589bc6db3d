import { type CircuitStore, MemoryCircuitStore, type Stores } from '@bounded/core';
import type { Redis } from 'ioredis';
import { RedisAdmissionStore } from './admission.js';
import { RedisConnection, type RedisConnectionOptions } from './connection.js';
import { type RedisIdempotencyOptions, RedisIdempotencyStore } from './idempotency.js';
import { type RedisKillSwitchOptions, RedisKillSwitchStore } from './kill-switch.js';
import { type RedisLimitsOptions, RedisLimitsStore } from './limits.js';

export interface RedisStoresOptions
  extends RedisConnectionOptions,
    RedisIdempotencyOptions,
    RedisKillSwitchOptions,
    RedisLimitsOptions {}

/** Every store a governor needs, shared through Redis; pass it as `createGovernor({ stores })`. */
export interface RedisStores extends Stores {
  readonly idempotency: RedisIdempotencyStore;
  readonly killSwitch: RedisKillSwitchStore;
  /** Per process: a circuit opens on the failures this process sees (it needs no round trip per call). */
  readonly circuits: CircuitStore;
  readonly limits: RedisLimitsStore;
  readonly admission: RedisAdmissionStore;
  /** The command connection (for your own use, or to count what the stores send). */
  readonly redis: Redis;
  /** Stops the timers and closes the connections the stores opened. Leases and slots still held expire. */
  close(): Promise<void>;
}

/**
 * Connects to Redis, subscribes to kill-switch notices and reads the current kills, then returns the stores.
 *
 * ```ts
 * const stores = await redisStores({ url: process.env.REDIS_URL });
 * const governor = createGovernor({ policy, stores });
 * ```
 */
export async function redisStores(options: RedisStoresOptions): Promise<RedisStores> {
  const connection = await RedisConnection.open(options);
  const idempotency = new RedisIdempotencyStore(connection, options);
  const killSwitch = new RedisKillSwitchStore(connection, options);
  const limits = new RedisLimitsStore(connection, options);
  try {
    await Promise.all([idempotency.start(), killSwitch.start()]);
  } catch (error) {
    killSwitch.close();
    await connection.close();
    throw error;
  }
  return {
    idempotency,
    killSwitch,
    circuits: new MemoryCircuitStore(),
    limits,
    admission: new RedisAdmissionStore(connection, idempotency),
    redis: connection.client,
    async close() {
      killSwitch.close();
      limits.close();
      await idempotency.close();
      await connection.close();
    },
  };
}
