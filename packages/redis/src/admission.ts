import { randomUUID } from 'node:crypto';
import type { AdmissionOutcome, AdmissionRequest, AdmissionStore, KillRecord } from '@bounded/core';
import { guarded, type RedisConnection } from './connection.js';
import type { RedisIdempotencyStore, ReplyTail } from './idempotency.js';
import { limitLayout } from './limits.js';
import { ADMIT } from './scripts.js';

/**
 * Admits a governed tool call in one round trip: one Lua script checks the kill switch, checks and takes every
 * cross-run limit (reserving the call's price against USD caps), and begins the idempotency record.
 */
export class RedisAdmissionStore implements AdmissionStore {
  readonly #connection: RedisConnection;
  readonly #idempotency: RedisIdempotencyStore;
  readonly #kill: string;
  readonly #none: string;

  constructor(connection: RedisConnection, idempotency: RedisIdempotencyStore) {
    this.#connection = connection;
    this.#idempotency = idempotency;
    this.#kill = `${connection.prefix}kill:`;
    // A key the script never reads, for calls without an idempotency record.
    this.#none = `${connection.prefix}none`;
  }

  async admit(request: AdmissionRequest): Promise<AdmissionOutcome> {
    const record = request.idempotency;
    const token = record ? randomUUID() : '';
    const keys: string[] = [
      `${this.#kill}global`,
      `${this.#kill}agent:${request.agent}`,
      `${this.#kill}run:${request.runId}`,
      record ? this.#idempotency.recordKey(record.key) : this.#none,
    ];
    const args: (string | number)[] = [
      request.checkKill ? 1 : 0,
      record ? 1 : 0,
      record?.fingerprint ?? '',
      record ? Math.ceil(record.ttlMs) : 0,
      this.#idempotency.leaseMs,
      token,
      record?.onCrash ?? 'block',
      this.#idempotency.channel,
      request.now,
      request.limits.length,
    ];
    limitLayout(this.#connection.prefix, request.limits, request.now, keys, args);
    let reply: readonly unknown[];
    try {
      reply = (await guarded(ADMIT.run(this.#connection.client, keys, args))) as readonly unknown[];
    } catch (error) {
      // The script may have run before the reply was lost: give the lease back if it did.
      if (record) this.#idempotency.abandon(record.key, token);
      throw error;
    }
    switch (reply[0]) {
      case 'killed':
        return { status: 'killed', record: JSON.parse(reply[1] as string) as KillRecord };
      case 'limited':
        return { status: 'limited', index: Number(reply[1]), used: Number(reply[2]) };
      default:
        return {
          status: 'admitted',
          idempotency: record
            ? this.#idempotency.accept(record.key, reply.slice(1) as unknown as ReplyTail, token, record.fingerprint)
            : undefined,
        };
    }
  }
}
