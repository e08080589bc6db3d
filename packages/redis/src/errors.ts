import { BoundedError } from '@bounded/core';

/**
 * Redis could not be reached (or did not answer in time). The governor turns it into `store_unavailable` for
 * writes, and for other calls unless `fail_mode.reads` is `open`.
 */
export class StoreUnavailableError extends BoundedError {
  declare readonly code: 'STORE_UNAVAILABLE';

  constructor(cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('STORE_UNAVAILABLE', `Redis unavailable: ${why}`, { cause });
    this.name = 'StoreUnavailableError';
  }

  static is(error: unknown): error is StoreUnavailableError {
    return BoundedError.isInstance(error) && error.code === 'STORE_UNAVAILABLE';
  }
}

/** Options that cannot work (no Redis address, a secret too short to sign with). */
export class RedisStoreOptionsError extends BoundedError {
  declare readonly code: 'REDIS_OPTIONS';

  constructor(message: string) {
    super('REDIS_OPTIONS', message);
    this.name = 'RedisStoreOptionsError';
  }
}
