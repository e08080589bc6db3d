import { randomUUID } from 'node:crypto';
import type { LimitOutcome, LimitRequest, LimitsStore } from '@bounded/core';
import { guarded, type RedisConnection } from './connection.js';
import { ACQUIRE_SLOT, ADD, RENEW_SLOTS, TAKE } from './scripts.js';

/** Keys and arguments of the window counters, in the layout the Lua scripts read (see scripts.ts). */
export function limitLayout(
  prefix: string,
  requests: readonly LimitRequest[],
  now: number,
  keys: string[],
  args: (string | number)[],
): void {
  for (const request of requests) {
    const start = now - (now % request.windowMs);
    const base = `${prefix}limit:${request.key}:`;
    keys.push(base + start, base + (start - request.windowMs));
    args.push(request.amount, request.limit, request.windowMs, request.sliding ? 1 : 0, start);
  }
}

export interface RedisLimitsOptions {
  /**
   * How long a `runs_in_flight` slot lasts without renewal. A live process renews its slots every third of it;
   * a crashed one's slots free themselves after this. Default 60 s.
   */
  readonly slotLeaseMs?: number;
}

/**
 * Cross-run limits in Redis: window counters (fixed or sliding, same arithmetic as the in-memory store) that every
 * process takes from atomically, and runs-in-flight slots that expire when their process dies.
 */
export class RedisLimitsStore implements LimitsStore {
  readonly #connection: RedisConnection;
  readonly #slotLeaseMs: number;
  /** Slot key -> the tokens this process holds there (one per run in flight). */
  readonly #slots = new Map<string, string[]>();
  #renewTimer: NodeJS.Timeout | undefined;

  constructor(connection: RedisConnection, options: RedisLimitsOptions = {}) {
    this.#connection = connection;
    this.#slotLeaseMs = options.slotLeaseMs ?? 60_000;
  }

  async take(requests: readonly LimitRequest[], now: number): Promise<LimitOutcome> {
    if (requests.length === 0) return { ok: true };
    const keys: string[] = [];
    const args: (string | number)[] = [now, requests.length];
    limitLayout(this.#connection.prefix, requests, now, keys, args);
    const reply = (await guarded(TAKE.run(this.#connection.client, keys, args))) as [] | [number, string];
    if (reply.length === 0) return { ok: true };
    return { ok: false, index: Number(reply[0]), used: Number(reply[1]) };
  }

  async add(requests: readonly LimitRequest[], now: number): Promise<void> {
    if (requests.length === 0) return;
    const keys: string[] = [];
    const args: (string | number)[] = [now, requests.length];
    limitLayout(this.#connection.prefix, requests, now, keys, args);
    await guarded(ADD.run(this.#connection.client, keys, args));
  }

  async used(key: string, windowMs: number, sliding: boolean, now: number): Promise<number> {
    const start = now - (now % windowMs);
    const base = `${this.#connection.prefix}limit:${key}:`;
    const [current, previous] = await guarded(this.#connection.client.mget(base + start, base + (start - windowMs)));
    const used = Number(current ?? 0);
    if (!sliding) return used;
    return used + Number(previous ?? 0) * (1 - (now - start) / windowMs);
  }

  async acquire(key: string, limit: number): Promise<boolean> {
    const token = randomUUID();
    const slotKey = `${this.#connection.prefix}slots:${key}`;
    const acquired = await guarded(
      ACQUIRE_SLOT.run(this.#connection.client, [slotKey], [limit, token, this.#slotLeaseMs]),
    );
    if (acquired !== 1) return false;
    const tokens = this.#slots.get(slotKey);
    if (tokens) tokens.push(token);
    else this.#slots.set(slotKey, [token]);
    this.#scheduleRenewal();
    return true;
  }

  async releaseSlot(key: string): Promise<void> {
    const slotKey = `${this.#connection.prefix}slots:${key}`;
    const tokens = this.#slots.get(slotKey);
    const token = tokens?.pop();
    if (tokens?.length === 0) this.#slots.delete(slotKey);
    if (token === undefined) return;
    // If this fails the slot frees itself when its lease runs out.
    await guarded(this.#connection.client.zrem(slotKey, token));
  }

  /** Stops renewing slots (they expire on their own). */
  close(): void {
    clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
  }

  #scheduleRenewal(): void {
    if (this.#renewTimer) return;
    this.#renewTimer = setInterval(() => void this.#renew(), this.#slotLeaseMs / 3);
    this.#renewTimer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#slots.size === 0) {
      this.close();
      return;
    }
    const keys: string[] = [];
    const args: (string | number)[] = [this.#slotLeaseMs];
    for (const [slotKey, tokens] of this.#slots) {
      for (const token of tokens) {
        keys.push(slotKey);
        args.push(token);
      }
    }
    try {
      await RENEW_SLOTS.run(this.#connection.client, keys, args);
    } catch {
      // Redis is down: the next tick tries again; a lease is long enough to ride out short outages.
    }
  }
}
