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
  begin(key: string, fingerprint: string, ttlMs: number, options?: IdempotencyOptions): MaybePromise<IdempotencyBegin>;
  complete(key: string, value: unknown, ttlMs: number): MaybePromise<void>;
  /** The call failed: drop the lease so a retry may run it. */
  release(key: string): MaybePromise<void>;
}

export type IdempotencyBegin =
  | { readonly status: 'acquired' }
  | { readonly status: 'replay'; readonly value: unknown }
  | { readonly status: 'in_flight'; readonly settled: Promise<void> }
  | { readonly status: 'conflict' }
  /** The holder of the lease died before recording a result, and the tool runs at most once (`onCrash: 'block'`). */
  | { readonly status: 'crashed' };

/**
 * What to do when the process holding a call's lease dies before recording its result (only stores shared by
 * processes can tell): `retry` lets the next caller run it again (at least once), `block` refuses every later
 * call with that key until someone clears it (at most once).
 */
export type OnCrash = 'retry' | 'block';

export interface IdempotencyOptions {
  readonly onCrash: OnCrash;
}

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
  /**
   * Epoch ms until which the tool's circuit is open, or 0 when closed. When the cool-down has passed, the one caller
   * let through as the half-open trial gets a negative number naming that trial (-1, -2, …), which it passes back to
   * `releaseTrial`; a store that does not tell may return 0. Called on every tool call: keep it cheap.
   */
  openUntil(tool: string): number;
  recordSuccess(tool: string): void;
  /** Returns the epoch ms until which the circuit is now open (0 while still closed). */
  recordFailure(tool: string, threshold: number, cooldownMs: number, now: number): number;
  /**
   * A call ended that says nothing of the tool's health. When it was the half-open trial, the next call may be the
   * trial at once, rather than after another cool-down. With numbered trials (`openUntil` returned `-trial`), core
   * calls this for the trial refused before it ran or whose input was at fault (`ToolInputError`), and a later trial
   * is left alone. A store that does not number its trials is called, without `trial`, for every call whose input was
   * at fault: it cannot tell whether that call was its trial.
   */
  releaseTrial?(tool: string, trial?: number): void;
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

/**
 * Optional, for stores across a network: admits a tool call in one round trip. When a store set has it, a call
 * that needs cross-run limits or idempotency makes this one call instead of `limits.take` then `idempotency.begin`,
 * and the kill switch is checked once more at the source. Same semantics as those calls, in that order.
 */
export interface AdmissionStore {
  admit(request: AdmissionRequest): MaybePromise<AdmissionOutcome>;
}

export interface AdmissionRequest {
  readonly agent: string;
  readonly runId: string;
  readonly tool: string;
  /** Check the shared kill switch (policy `kill_switch.enabled`). */
  readonly checkKill: boolean;
  /** Counters to take from, as in `LimitsStore.take`; may be empty. */
  readonly limits: readonly LimitRequest[];
  /** The idempotency record to begin after the limits are taken, as in `IdempotencyStore.begin`. */
  readonly idempotency:
    | { readonly key: string; readonly fingerprint: string; readonly ttlMs: number; readonly onCrash: OnCrash }
    | undefined;
  readonly now: number;
}

export type AdmissionOutcome =
  | { readonly status: 'killed'; readonly record: KillRecord }
  /** A limit ran out (nothing was taken, no record begun); `index` is into `limits`. */
  | { readonly status: 'limited'; readonly index: number; readonly used: number }
  | { readonly status: 'admitted'; readonly idempotency: IdempotencyBegin | undefined };

export interface Stores {
  readonly idempotency: IdempotencyStore;
  readonly killSwitch: KillSwitchStore;
  readonly circuits: CircuitStore;
  readonly limits: LimitsStore;
  /** Only shared stores have it; the in-memory ones are already one function call each. */
  readonly admission?: AdmissionStore;
}
