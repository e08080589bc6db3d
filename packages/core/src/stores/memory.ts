import type { KillRecord, KillTarget } from '../events.js';
import type {
  CircuitStore,
  IdempotencyBegin,
  IdempotencyStore,
  KillSwitchStore,
  LimitOutcome,
  LimitRequest,
  LimitsStore,
  Stores,
} from './types.js';

interface IdempotencyRecord {
  fingerprint: string;
  state: 'in_flight' | 'done';
  value: unknown;
  expiresAt: number;
  settle: () => void;
  settled: Promise<void>;
}

/** Idempotency records in this process. Concurrent identical calls share one execution. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #records = new Map<string, IdempotencyRecord>();
  #sweepAt = 0;

  begin(key: string, fingerprint: string, ttlMs: number): IdempotencyBegin {
    const now = Date.now();
    this.#sweep(now);
    const existing = this.#records.get(key);
    if (existing && existing.expiresAt > now) {
      if (existing.fingerprint !== fingerprint) return { status: 'conflict' };
      if (existing.state === 'done') return { status: 'replay', value: existing.value };
      return { status: 'in_flight', settled: existing.settled };
    }
    // An expired lease is taken over; whoever waited on it retries.
    existing?.settle();
    let settle!: () => void;
    const settled = new Promise<void>(resolve => {
      settle = resolve;
    });
    this.#records.set(key, {
      fingerprint,
      state: 'in_flight',
      value: undefined,
      expiresAt: now + ttlMs,
      settle,
      settled,
    });
    return { status: 'acquired' };
  }

  complete(key: string, value: unknown, ttlMs: number): void {
    const record = this.#records.get(key);
    if (!record) return;
    record.state = 'done';
    record.value = value;
    record.expiresAt = Date.now() + ttlMs;
    record.settle();
  }

  release(key: string): void {
    const record = this.#records.get(key);
    if (!record || record.state === 'done') return;
    this.#records.delete(key);
    record.settle();
  }

  get size(): number {
    return this.#records.size;
  }

  // Expired records are dropped at most once a second, so memory stays bounded without a timer.
  #sweep(now: number): void {
    if (now < this.#sweepAt) return;
    this.#sweepAt = now + 1000;
    for (const [key, record] of this.#records) {
      if (record.expiresAt <= now && record.state === 'done') this.#records.delete(key);
    }
  }
}

function targetKey(target: KillTarget): string {
  switch (target.scope) {
    case 'global':
      return 'global';
    case 'agent':
      return `agent:${target.agent}`;
    case 'run':
      return `run:${target.runId}`;
  }
}

/** The kill switch for one process. */
export class MemoryKillSwitchStore implements KillSwitchStore {
  readonly #records = new Map<string, KillRecord>();
  readonly #listeners = new Set<(record: KillRecord) => void>();

  check(agent: string, runId: string): KillRecord | undefined {
    if (this.#records.size === 0) return undefined;
    return this.#records.get('global') ?? this.#records.get(`agent:${agent}`) ?? this.#records.get(`run:${runId}`);
  }

  kill(target: KillTarget, info: { reason?: string; by?: string } = {}): KillRecord {
    const record: KillRecord = {
      target,
      reason: info.reason ?? 'kill switch',
      by: info.by ?? 'unknown',
      at: Date.now(),
    };
    this.#records.set(targetKey(target), record);
    for (const listener of this.#listeners) {
      try {
        listener(record);
      } catch {
        // One failing listener must not keep the kill from the others.
      }
    }
    return record;
  }

  revive(target: KillTarget): boolean {
    return this.#records.delete(targetKey(target));
  }

  list(): readonly KillRecord[] {
    return [...this.#records.values()];
  }

  subscribe(listener: (record: KillRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

interface CircuitState {
  failures: number;
  openUntil: number;
  cooldownMs: number;
  /** A half-open trial call is out. */
  trial: boolean;
  /** Which trial was handed out last (1, 2, …): a late release of an earlier one leaves it alone. */
  trialGeneration: number;
}

/** Circuit-breaker state for one process. */
export class MemoryCircuitStore implements CircuitStore {
  readonly #circuits = new Map<string, CircuitState>();
  #trials = 0;

  openUntil(tool: string): number {
    if (this.#circuits.size === 0) return 0;
    const state = this.#circuits.get(tool);
    if (!state || state.openUntil === 0) return 0;
    const now = Date.now();
    if (state.openUntil > now) return state.openUntil;
    // Half-open: this call is the trial. The others are refused until its outcome closes the circuit (a success)
    // or opens it again (a failure); a trial that never answers lets another through after one more cool-down.
    state.openUntil = now + state.cooldownMs;
    state.trial = true;
    // Numbered across the store, so one handed out before the circuit closed and opened again never matches.
    state.trialGeneration = ++this.#trials;
    return -state.trialGeneration;
  }

  recordSuccess(tool: string): void {
    if (this.#circuits.size > 0) this.#circuits.delete(tool);
  }

  recordFailure(tool: string, threshold: number, cooldownMs: number, now: number): number {
    let state = this.#circuits.get(tool);
    if (!state) {
      state = { failures: 0, openUntil: 0, cooldownMs, trial: false, trialGeneration: 0 };
      this.#circuits.set(tool, state);
    }
    state.cooldownMs = cooldownMs;
    state.trial = false;
    state.failures++;
    // Opens on the threshold-th consecutive failure; a failure while half-open (count still past it) re-opens.
    if (state.failures >= threshold) state.openUntil = now + cooldownMs;
    return state.openUntil > now ? state.openUntil : 0;
  }

  releaseTrial(tool: string, trial?: number): void {
    const state = this.#circuits.get(tool);
    // This store always says which call is the trial: a call that does not know is not it.
    if (!state?.trial || trial !== state.trialGeneration) return;
    state.trial = false;
    state.openUntil = Date.now();
  }
}

interface WindowCounter {
  windowStart: number;
  current: number;
  previous: number;
}

/** Cross-run limit counters for one process, in fixed or sliding windows. */
export class MemoryLimitsStore implements LimitsStore {
  readonly #windows = new Map<string, WindowCounter>();
  readonly #slots = new Map<string, number>();

  take(requests: readonly LimitRequest[], now: number): LimitOutcome {
    for (let i = 0; i < requests.length; i++) {
      const request = requests[i]!;
      const used = this.#usedIn(this.#counter(request.key, request.windowMs, now), request, now);
      // The tolerance: a sum of prices reaching a USD limit exactly is not over it (0.1 + 0.1 + 0.1 > 0.3).
      if (used + request.amount > request.limit + 1e-9) return { ok: false, index: i, used };
    }
    this.add(requests, now);
    return { ok: true };
  }

  add(requests: readonly LimitRequest[], now: number): void {
    for (const request of requests) {
      this.#counter(request.key, request.windowMs, now).current += request.amount;
    }
  }

  used(key: string, windowMs: number, sliding: boolean, now: number): number {
    return this.#usedIn(this.#counter(key, windowMs, now), { windowMs, sliding }, now);
  }

  acquire(key: string, limit: number): boolean {
    const inFlight = this.#slots.get(key) ?? 0;
    if (inFlight >= limit) return false;
    this.#slots.set(key, inFlight + 1);
    return true;
  }

  releaseSlot(key: string): void {
    const inFlight = this.#slots.get(key) ?? 0;
    if (inFlight <= 1) this.#slots.delete(key);
    else this.#slots.set(key, inFlight - 1);
  }

  #counter(key: string, windowMs: number, now: number): WindowCounter {
    const windowStart = now - (now % windowMs);
    let counter = this.#windows.get(key);
    if (!counter) {
      counter = { windowStart, current: 0, previous: 0 };
      this.#windows.set(key, counter);
    } else if (counter.windowStart !== windowStart) {
      // Roll over: the window just ended becomes "previous"; older ones count for nothing.
      counter.previous = windowStart - counter.windowStart === windowMs ? counter.current : 0;
      counter.current = 0;
      counter.windowStart = windowStart;
    }
    return counter;
  }

  #usedIn(counter: WindowCounter, request: { windowMs: number; sliding: boolean }, now: number): number {
    if (!request.sliding) return counter.current;
    // Sliding-window estimate: the previous window weighted by how much of it the sliding window still covers.
    const overlap = 1 - (now - counter.windowStart) / request.windowMs;
    return counter.current + counter.previous * overlap;
  }
}

/** A fresh set of in-memory stores (what `createGovernor` uses for anything not passed in). */
export function memoryStores(): Stores {
  return {
    idempotency: new MemoryIdempotencyStore(),
    killSwitch: new MemoryKillSwitchStore(),
    circuits: new MemoryCircuitStore(),
    limits: new MemoryLimitsStore(),
  };
}
