import { randomUUID } from 'node:crypto';
import type { IdempotencyBegin, IdempotencyOptions, IdempotencyStore, OnCrash } from '@bounded/core';
import { guarded, type RedisConnection } from './connection.js';
import { BEGIN_ONLY, COMPLETE, RELEASE, RENEW_LEASES } from './scripts.js';

export interface RedisIdempotencyOptions {
  /**
   * How long an in-flight call's lease lasts without renewal. The process running the call renews it every third
   * of this; when its process dies, the lease runs out and the tool's `onCrash` decides. Default 30 s: longer
   * than a Redis outage you want to ride out, shorter than you want a crashed call to block retries.
   */
  readonly leaseMs?: number;
  /** How often a caller waiting for another process's call looks again, in case a notification was missed. */
  readonly pollMs?: number;
}

/** A record as stored, for operators (`inspect`). */
export interface IdempotencyRecordInfo {
  readonly state: 'in_flight' | 'done' | 'crashed';
  readonly fingerprint: string;
  /** Epoch ms the in-flight lease runs to. */
  readonly leaseUntil: number | undefined;
  /** Times a crashed call was taken over and run again (`onCrash: 'retry'`). */
  readonly takeovers: number;
  readonly value: unknown;
  /** Milliseconds until the record expires. */
  readonly ttlMs: number;
}

type Pending =
  | {
      readonly kind: 'complete';
      readonly key: string;
      readonly token: string;
      readonly fingerprint: string;
      readonly encoded: string;
      readonly ttlMs: number;
    }
  | { readonly kind: 'release'; readonly key: string; readonly token: string };

interface Waiter {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Idempotency records in Redis, shared by every process: an in-flight lease (renewed while the call runs) and a
 * result record with a TTL. A second process with the same key waits for the first one's result and replays it.
 * Results travel as JSON (a `Date` comes back as a string).
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #connection: RedisConnection;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #channel: string;
  /** Records whose lease this process holds: key -> token and fingerprint. */
  readonly #held = new Map<string, { readonly token: string; readonly fingerprint: string }>();
  /** Settlements Redis did not take (it was down), by lease token: retried until it does, so no result is lost. */
  readonly #outbox = new Map<string, Pending>();
  readonly #waiters = new Map<string, Waiter>();
  /** Settlements on their way to Redis, awaited by `close()`. */
  readonly #sending = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(connection: RedisConnection, options: RedisIdempotencyOptions = {}) {
    this.#connection = connection;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#pollMs = options.pollMs ?? 250;
    this.#channel = `${connection.prefix}idem`;
    connection.onReconnect(() => void this.#tick());
  }

  /** Subscribes to settlement notices. Called once by `redisStores()`. */
  async start(): Promise<void> {
    await this.#connection.listen('idem', key => this.#settled(key));
  }

  get leaseMs(): number {
    return this.#leaseMs;
  }

  async begin(
    key: string,
    fingerprint: string,
    ttlMs: number,
    options?: IdempotencyOptions,
  ): Promise<IdempotencyBegin> {
    const token = randomUUID();
    const onCrash: OnCrash = options?.onCrash ?? 'block';
    const recordKey = this.recordKey(key);
    let reply: unknown;
    try {
      reply = await guarded(
        BEGIN_ONLY.run(
          this.#connection.client,
          [recordKey],
          [fingerprint, Math.ceil(ttlMs), this.#leaseMs, token, onCrash, this.#channel],
        ),
      );
    } catch (error) {
      // The script may have run before the reply was lost: give the lease back if it did.
      this.abandon(key, token);
      throw error;
    }
    return this.accept(key, reply as ReplyTail, token, fingerprint);
  }

  complete(key: string, value: unknown, ttlMs: number): Promise<void> {
    const held = this.#held.get(key);
    let encoded: string;
    try {
      encoded = JSON.stringify({ v: value }) ?? '{}';
    } catch (error) {
      // Not JSON (a BigInt, a cycle): it cannot be replayed, so let the next caller run it instead of hanging.
      process.emitWarning(
        `The result for idempotency key "${key}" is not JSON (${(error as Error).message}); released instead of recorded.`,
        { code: 'BOUNDED_IDEMPOTENCY_UNRECORDABLE' },
      );
      return this.release(key);
    }
    return this.#settle({
      kind: 'complete',
      key,
      token: held?.token ?? `unheld:${randomUUID()}`,
      fingerprint: held?.fingerprint ?? '',
      encoded,
      ttlMs: Math.ceil(ttlMs),
    });
  }

  release(key: string): Promise<void> {
    const held = this.#held.get(key);
    if (!held) return Promise.resolve();
    return this.#settle({ kind: 'release', key, token: held.token });
  }

  /** What Redis holds for a key, for operators; undefined when there is no record. */
  async inspect(key: string): Promise<IdempotencyRecordInfo | undefined> {
    const recordKey = this.recordKey(key);
    const [fields, ttl] = await guarded(
      Promise.all([this.#connection.client.hgetall(recordKey), this.#connection.client.pttl(recordKey)]),
    );
    if (!fields.state) return undefined;
    return {
      state: fields.state as IdempotencyRecordInfo['state'],
      fingerprint: fields.fp ?? '',
      leaseUntil: fields.lease === undefined ? undefined : Number(fields.lease),
      takeovers: Number(fields.takeovers ?? 0),
      value: fields.value === undefined ? undefined : decode(fields.value),
      ttlMs: ttl,
    };
  }

  /**
   * Deletes a record: after a crash blocked a key (`onCrash: 'block'`) and someone checked whether its side effect
   * happened, or to forget a recorded result. Returns whether there was one.
   */
  async clear(key: string): Promise<boolean> {
    const recordKey = this.recordKey(key);
    const removed = await guarded(this.#connection.client.del(recordKey));
    await guarded(this.#connection.client.publish(this.#channel, recordKey));
    return removed === 1;
  }

  /** Calls whose result is still waiting for Redis to come back. */
  get unsettled(): number {
    return this.#outbox.size;
  }

  /**
   * Sends the settlements still on their way (one last try for those Redis refused), then stops renewing leases;
   * waiters are released to look again. Leases of calls still running expire (their tool's `onCrash` applies).
   */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#sending]);
    if (this.#outbox.size > 0) await this.#tick();
    this.stop();
  }

  /** Stops at once, as a crash would: nothing more is sent, leases are no longer renewed. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const key of [...this.#waiters.keys()]) this.#settled(key);
  }

  // ---- shared with the admission store ----

  recordKey(key: string): string {
    return `${this.#connection.prefix}idem:${key}`;
  }

  get channel(): string {
    return this.#channel;
  }

  /** Turns the script's answer (status, detail) into a begin outcome; an acquired lease is renewed from now on. */
  accept(key: string, reply: ReplyTail, token: string, fingerprint: string): IdempotencyBegin {
    switch (reply[0]) {
      case 'acquired':
        this.#held.set(key, { token, fingerprint });
        this.#schedule();
        return { status: 'acquired' };
      case 'replay':
        return { status: 'replay', value: decode(reply[1] as string) };
      case 'in_flight':
        return { status: 'in_flight', settled: this.#wait(this.recordKey(key), Number(reply[1])) };
      case 'conflict':
        return { status: 'conflict' };
      case 'crashed':
        return { status: 'crashed' };
      default:
        throw new Error(`unexpected idempotency reply ${JSON.stringify(reply)}`);
    }
  }

  /** A begin whose reply never came: if the script ran, this process holds a lease it must give back. */
  abandon(key: string, token: string): void {
    this.#outbox.set(token, { kind: 'release', key, token });
    this.#schedule();
  }

  // ---- internals ----

  #settle(pending: Pending): Promise<void> {
    const sending = this.#apply(pending).catch(() => {
      // Redis is down: keep it, and keep renewing the lease, until Redis takes it.
      this.#outbox.set(pending.token, pending);
      this.#schedule();
    });
    this.#sending.add(sending);
    void sending.finally(() => this.#sending.delete(sending));
    return sending;
  }

  async #apply(pending: Pending): Promise<void> {
    const client = this.#connection.client;
    const key = pending.key;
    const recordKey = this.recordKey(key);
    if (pending.kind === 'complete') {
      await COMPLETE.run(
        client,
        [recordKey],
        [pending.token, pending.fingerprint, pending.encoded, pending.ttlMs, this.#channel],
      );
    } else {
      await RELEASE.run(client, [recordKey], [pending.token, this.#channel]);
    }
    this.#outbox.delete(pending.token);
    if (this.#held.get(key)?.token === pending.token) this.#held.delete(key);
  }

  #schedule(): void {
    if (this.#timer || this.#connection.closed) return;
    this.#timer = setInterval(() => void this.#tick(), Math.min(this.#leaseMs / 3, 1000));
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#held.size === 0 && this.#outbox.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    for (const pending of [...this.#outbox.values()]) {
      try {
        await this.#apply(pending);
      } catch {
        return; // still down
      }
    }
    if (this.#held.size === 0) return;
    const keys: string[] = [];
    const args: (string | number)[] = [this.#leaseMs];
    for (const [key, held] of this.#held) {
      keys.push(this.recordKey(key));
      args.push(held.token);
    }
    try {
      await RENEW_LEASES.run(this.#connection.client, keys, args);
    } catch {
      // Down: the lease is long enough to ride out a short outage; the next tick tries again.
    }
  }

  /** Resolves when the record settles (a notice from its holder) or after a poll interval, whichever is first. */
  #wait(recordKey: string, leaseRemainingMs: number): Promise<void> {
    const existing = this.#waiters.get(recordKey);
    if (existing) return existing.promise;
    let resolve!: () => void;
    const promise = new Promise<void>(r => {
      resolve = r;
    });
    const delay = Math.max(1, Math.min(this.#pollMs, leaseRemainingMs + 5));
    const timer = setTimeout(() => this.#settled(recordKey), delay);
    this.#waiters.set(recordKey, { promise, resolve, timer });
    return promise;
  }

  #settled(recordKey: string): void {
    const waiter = this.#waiters.get(recordKey);
    if (!waiter) return;
    this.#waiters.delete(recordKey);
    clearTimeout(waiter.timer);
    waiter.resolve();
  }
}

/** The part of a script reply after "admitted": the begin status and its detail. */
export type ReplyTail = readonly [string, ...unknown[]];

function decode(encoded: string): unknown {
  return (JSON.parse(encoded) as { v?: unknown }).v;
}
