import type { KillRecord, KillTarget } from '../events.js';

export type MaybePromise<T> = T | Promise<T>;

/**
 * Where idempotency records live. In memory by default; `@bounded/redis` shares them across processes.
 *
 * `begin` either hands the caller the lease (`acquired`: run the tool, then `complete` or `release`), replays a
 * recorded result, says another caller holds the lease (`in_flight`: wait on `settled`, then call `begin` again),
 * or reports that the key was used with different arguments (`conflict`).
 */
export interface IdempotencyStore {
  begin(key: string, fingerprint: string, ttlMs: number): MaybePromise<IdempotencyBegin>;
  complete(key: string, value: unknown, ttlMs: number): MaybePromise<void>;
  /** The call failed: drop the lease so a retry may run it. */
  release(key: string): MaybePromise<void>;
}

export type IdempotencyBegin =
  | { readonly status: 'acquired' }
  | { readonly status: 'replay'; readonly value: unknown }
  | { readonly status: 'in_flight'; readonly settled: Promise<void> }
  | { readonly status: 'conflict' };

/**
 * The kill switch. `check` is synchronous and reads local state (kept current by the store's own subscription),
 * because it runs before every step and tool call.
 */
export interface KillSwitchStore {
  check(agent: string, runId: string): KillRecord | undefined;
  kill(target: KillTarget, info?: { readonly reason?: string; readonly by?: string }): MaybePromise<KillRecord>;
  revive(target: KillTarget): MaybePromise<boolean>;
  list(): MaybePromise<readonly KillRecord[]>;
  /** Called for every kill, from this process or (for shared stores) any other. */
  subscribe(listener: (record: KillRecord) => void): () => void;
}

/**
 * Per-tool failure tracking for the circuit breaker, shared by every run of a governor. After the cool-down the
 * circuit is half-open: calls go through, one more failure re-opens it at once, a success closes it.
 */
export interface CircuitStore {
  /** Epoch ms until which the tool's circuit is open, or 0 when closed. Called on every tool call: keep it cheap. */
  openUntil(tool: string): number;
  recordSuccess(tool: string): void;
  /** Returns the epoch ms until which the circuit is now open (0 while still closed). */
  recordFailure(tool: string, threshold: number, cooldownMs: number, now: number): number;
}

/** One counter to check and add to in a cross-run limit. */
export interface LimitRequest {
  /** e.g. `agent:support:tool_calls:3600000`. */
  readonly key: string;
  readonly amount: number;
  readonly limit: number;
  readonly windowMs: number;
  readonly sliding: boolean;
}

export type LimitOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly index: number; readonly used: number };

/** Counters for limits across runs (per agent, tenant, globally), in windows of time. */
export interface LimitsStore {
  /** Checks every request; adds all amounts only when every one fits. */
  take(requests: readonly LimitRequest[], now: number): MaybePromise<LimitOutcome>;
  /** Adds without checking (spend that already happened, refunds as negative amounts). */
  add(requests: readonly LimitRequest[], now: number): MaybePromise<void>;
  /** Current use in the window. */
  used(key: string, windowMs: number, sliding: boolean, now: number): MaybePromise<number>;
  /** Runs in flight: increments when below the limit. */
  acquire(key: string, limit: number): MaybePromise<boolean>;
  releaseSlot(key: string): MaybePromise<void>;
}

export interface Stores {
  readonly idempotency: IdempotencyStore;
  readonly killSwitch: KillSwitchStore;
  readonly circuits: CircuitStore;
  readonly limits: LimitsStore;
}
