import type { ApprovalDecision, ApprovalRequest, Approver, PendingApproval } from '@bounded/core';
import type { Redis } from 'ioredis';
import { guarded, RedisConnection, type RedisConnectionOptions, readOnce } from './connection.js';
import { DECIDE, DROP_DECISION } from './scripts.js';
import { type DecisionRefusal, requestDigest, signDecision, signingKey, verifyDecision } from './signing.js';

export interface RedisApprovalsOptions extends RedisConnectionOptions {
  /**
   * Signs decisions (HMAC-SHA256); at least 32 bytes, the same in every process that waits or decides, and never
   * stored in Redis: someone who can write to Redis but lacks it cannot approve anything.
   */
  readonly secret: string | Uint8Array;
  /** How long a decision stays valid after it is made; a later one is refused. Default 60 s. */
  readonly decisionTtlMs?: number;
  /** How often waiting requests look for a decision, in case a notice was missed. Default 500 ms. */
  readonly pollMs?: number;
  /** Recorded as the approver's name. Default `redis-queue`. */
  readonly name?: string;
}

export type DecideResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'not_pending' };

/** A decision that reached a waiting request and was refused (it stays pending). */
export interface RefusedDecision {
  readonly id: string;
  readonly reason: DecisionRefusal;
}

type Notice =
  | { readonly type: 'requested'; readonly pending: PendingApproval }
  | { readonly type: 'decided'; readonly id: string };

interface Waiting {
  readonly stored: string;
  readonly digest: string;
  readonly resolve: (decision: ApprovalDecision) => void;
  readonly done: () => void;
}

/**
 * An approval queue in Redis: writes wait in it, and any process (an admin service, the `bounded` CLI) lists and
 * decides them. Decisions are HMAC-signed and bound to the request; a forged, tampered, misdirected or expired
 * decision is refused and the request keeps waiting.
 *
 * ```ts
 * const approvals = await redisApprovals({ url: process.env.REDIS_URL, secret: process.env.APPROVAL_SECRET });
 * const governor = createGovernor({ policy, stores, approver: approvals });
 * // elsewhere, in another process:
 * for (const p of await approvals.pending()) await approvals.approve(p.id, { by: 'alice@example.com' });
 * ```
 */
export class RedisApprovalQueue implements Approver {
  readonly name: string;
  readonly #connection: RedisConnection;
  readonly #key: Buffer;
  readonly #decisionTtlMs: number;
  readonly #pollMs: number;
  readonly #waiting = new Map<string, Waiting>();
  readonly #requestListeners = new Set<(pending: PendingApproval) => void>();
  readonly #refusedListeners = new Set<(refused: RefusedDecision) => void>();
  #timer: NodeJS.Timeout | undefined;

  private constructor(connection: RedisConnection, options: RedisApprovalsOptions, key: Buffer) {
    this.#connection = connection;
    this.#key = key;
    this.name = options.name ?? 'redis-queue';
    this.#decisionTtlMs = options.decisionTtlMs ?? 60_000;
    this.#pollMs = options.pollMs ?? 500;
  }

  static async open(options: RedisApprovalsOptions): Promise<RedisApprovalQueue> {
    const key = signingKey(options.secret);
    const connection = await RedisConnection.open(options);
    const queue = new RedisApprovalQueue(connection, options, key);
    await connection.listen('approvals', message => queue.#onNotice(message));
    connection.onReconnect(() => void queue.#poll());
    return queue;
  }

  async request(request: ApprovalRequest): Promise<ApprovalDecision> {
    const pending: PendingApproval = {
      id: request.id,
      runId: request.runId,
      agent: request.agent,
      tenant: request.tenant,
      tool: request.tool,
      args: request.args,
      requestedAt: request.requestedAt,
      expiresAt: request.expiresAt,
    };
    const stored = JSON.stringify(pending);
    // The digest is of what the decider reads back from Redis, so both sides hash the same JSON.
    const digest = requestDigest(JSON.parse(stored));
    const notice: Notice = { type: 'requested', pending: JSON.parse(stored) as PendingApproval };
    const client = this.#connection.client;
    await guarded(
      client
        .multi()
        .hset(this.#pendingKey(), request.id, stored)
        .publish(this.#channel(), JSON.stringify(notice))
        .exec(),
    );
    return new Promise<ApprovalDecision>((resolve, reject) => {
      const onAbort = () => {
        done();
        reject(request.signal.reason);
        // Timed out or its run stopped: nobody should decide it any more.
        void client
          .multi()
          .hdel(this.#pendingKey(), request.id)
          .del(this.#decisionKey(request.id))
          .exec()
          .catch(() => {});
      };
      const done = () => {
        this.#waiting.delete(request.id);
        request.signal.removeEventListener('abort', onAbort);
        if (this.#waiting.size === 0) this.#stopPolling();
      };
      if (request.signal.aborted) return onAbort();
      request.signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.set(request.id, { stored, digest, resolve, done });
      this.#startPolling();
      // A decision may already be there (decided between the HSET and now).
      void this.#check([request.id]);
    });
  }

  /** Requests still waiting, in every process, oldest first. Expired leftovers (their process died) are dropped. */
  async pending(): Promise<PendingApproval[]> {
    const { live, stale } = await readPending(this.#connection.client, this.#connection.prefix);
    if (stale.length > 0) await guarded(this.#connection.client.hdel(this.#pendingKey(), ...stale));
    return live;
  }

  /** Called for every new request in any process (to notify a person). Returns an unsubscribe function. */
  onRequest(listener: (pending: PendingApproval) => void): () => void {
    this.#requestListeners.add(listener);
    return () => this.#requestListeners.delete(listener);
  }

  /** Called when a waiting request in this process refuses a decision (forged, tampered, expired, misdirected). */
  onRefused(listener: (refused: RefusedDecision) => void): () => void {
    this.#refusedListeners.add(listener);
    return () => this.#refusedListeners.delete(listener);
  }

  approve(id: string, options: { by: string; reason?: string }): Promise<DecideResult> {
    return this.#decide(id, true, options);
  }

  reject(id: string, options: { by: string; reason?: string }): Promise<DecideResult> {
    return this.#decide(id, false, options);
  }

  /** Stops waiting (requests in flight stay pending in Redis until they expire) and closes the connections. */
  async close(): Promise<void> {
    this.#stopPolling();
    await this.#connection.close();
  }

  async #decide(id: string, approved: boolean, options: { by: string; reason?: string }): Promise<DecideResult> {
    const client = this.#connection.client;
    const stored = await guarded(client.hget(this.#pendingKey(), id));
    if (stored === null) return { ok: false, reason: 'not_pending' };
    const now = Date.now();
    const decision = signDecision(this.#key, {
      id,
      approved,
      by: options.by,
      reason: options.reason ?? null,
      decidedAt: now,
      expiresAt: now + this.#decisionTtlMs,
      request: requestDigest(JSON.parse(stored)),
    });
    const notice: Notice = { type: 'decided', id };
    const decided = await guarded(
      DECIDE.run(
        client,
        [this.#pendingKey(), this.#decisionKey(id)],
        [id, JSON.stringify(decision), this.#decisionTtlMs, this.#channel(), JSON.stringify(notice)],
      ),
    );
    return decided === 1 ? { ok: true } : { ok: false, reason: 'not_pending' };
  }

  #onNotice(text: string): void {
    let notice: Notice;
    try {
      notice = JSON.parse(text) as Notice;
    } catch {
      return;
    }
    if (notice.type === 'decided') {
      if (this.#waiting.has(notice.id)) void this.#check([notice.id]);
      return;
    }
    if (notice.type === 'requested') {
      for (const listener of this.#requestListeners) {
        try {
          listener(notice.pending);
        } catch {
          // A failing notifier must not lose the request: it stays pending.
        }
      }
    }
  }

  /** Reads the decisions of waiting requests; accepts a valid one, refuses the rest. */
  async #check(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    let texts: (string | null)[];
    try {
      texts = await this.#connection.client.mget(...ids.map(id => this.#decisionKey(id)));
    } catch {
      return; // Redis is down; the poll looks again.
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const text = texts[i];
      const waiting = this.#waiting.get(id);
      if (text === null || text === undefined || !waiting) continue;
      const check = verifyDecision(this.#key, text, { id, request: waiting.digest });
      if (check.ok) {
        waiting.done();
        void this.#connection.client.del(this.#decisionKey(id)).catch(() => {});
        const { approved, by, reason } = check.decision;
        waiting.resolve(reason === null ? { approved, by } : { approved, by, reason });
        continue;
      }
      try {
        const dropped = await DROP_DECISION.run(
          this.#connection.client,
          [this.#pendingKey(), this.#decisionKey(id)],
          [text, id, waiting.stored],
        );
        // A notice and the poll can read the same bad decision at once: the one that drops it reports it.
        if (dropped !== 1) continue;
      } catch {
        continue; // Down: the poll meets the same decision again, and refuses (and reports) it then.
      }
      for (const listener of this.#refusedListeners) {
        try {
          listener({ id, reason: check.reason });
        } catch {
          // Listeners only observe.
        }
      }
    }
  }

  async #poll(): Promise<void> {
    await this.#check([...this.#waiting.keys()]);
  }

  #startPolling(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.#poll(), this.#pollMs);
    this.#timer.unref();
  }

  #stopPolling(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Read also by `readPending`. */
  #pendingKey(): string {
    return `${this.#connection.prefix}approvals`;
  }

  #decisionKey(id: string): string {
    return `${this.#connection.prefix}approval:${id}`;
  }

  #channel(): string {
    return `${this.#connection.prefix}approvals`;
  }
}

/** The waiting requests, oldest first, and the ids of those past their timeout. */
async function readPending(client: Redis, prefix: string): Promise<{ live: PendingApproval[]; stale: string[] }> {
  const entries = await guarded(client.hgetall(`${prefix}approvals`));
  const now = Date.now();
  const live: PendingApproval[] = [];
  const stale: string[] = [];
  for (const [id, text] of Object.entries(entries)) {
    const pending = JSON.parse(text) as PendingApproval;
    if (pending.expiresAt < now) stale.push(id);
    else live.push(pending);
  }
  return { live: live.sort((a, b) => a.requestedAt - b.requestedAt), stale };
}

/**
 * The writes waiting for a decision, oldest first, read once. Listing needs no signing secret (deciding does, through
 * `redisApprovals`): an operator can see what waits without holding the key that approves it.
 */
export function pendingApprovals(options: RedisConnectionOptions): Promise<PendingApproval[]> {
  return readOnce(options, async (client, prefix) => (await readPending(client, prefix)).live);
}

/** Connects and subscribes; the queue is then an `approver` for `createGovernor`, and lists and decides requests. */
export function redisApprovals(options: RedisApprovalsOptions): Promise<RedisApprovalQueue> {
  return RedisApprovalQueue.open(options);
}
