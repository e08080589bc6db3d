import type { KillRecord, KillSwitchStore, KillTarget } from '@bounded/core';
import { guarded, type RedisConnection } from './connection.js';
import { KILL, REVIVE } from './scripts.js';

export interface RedisKillSwitchOptions {
  /** How long a kill of one run stays recorded (runs do not come back). Default 24 h. */
  readonly runKillTtlMs?: number;
  /** How often the local copy is read again from Redis, in case a notice was missed. Default 5 s. */
  readonly resyncMs?: number;
}

type Message =
  | { readonly op: 'kill'; readonly record: KillRecord }
  | { readonly op: 'revive'; readonly target: string };

export function killTargetKey(target: KillTarget): string {
  switch (target.scope) {
    case 'global':
      return 'global';
    case 'agent':
      return `agent:${target.agent}`;
    case 'run':
      return `run:${target.runId}`;
  }
}

/**
 * The kill switch in Redis: one key per target, and a notice on a channel that every process listens to. `check()`
 * reads a local copy kept current by those notices (it runs before every step and tool call, so it cannot wait for
 * a round trip); the admission script also reads the keys themselves, so a call is refused even before the notice
 * arrives.
 */
export class RedisKillSwitchStore implements KillSwitchStore {
  readonly #connection: RedisConnection;
  readonly #runKillTtlMs: number;
  readonly #resyncMs: number;
  readonly #records = new Map<string, KillRecord>();
  /** Kills made here while Redis was down: they still apply here, whatever a resync reads, until revived. */
  readonly #localOnly = new Map<string, KillRecord>();
  readonly #listeners = new Set<(record: KillRecord) => void>();
  /** Counts notices, so a resync that raced one reads again instead of undoing it. */
  #notices = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(connection: RedisConnection, options: RedisKillSwitchOptions = {}) {
    this.#connection = connection;
    this.#runKillTtlMs = options.runKillTtlMs ?? 86_400_000;
    this.#resyncMs = options.resyncMs ?? 5000;
  }

  /** Subscribes and reads the current kills. Called once by `redisStores()`. */
  async start(): Promise<void> {
    await this.#connection.listen('kill', message => this.#onMessage(message));
    await this.resync();
    this.#connection.onReconnect(() => void this.resync().catch(() => {}));
    this.#timer = setInterval(() => void this.resync().catch(() => {}), this.#resyncMs);
    this.#timer.unref();
  }

  check(agent: string, runId: string): KillRecord | undefined {
    if (this.#records.size === 0) return undefined;
    return this.#records.get('global') ?? this.#records.get(`agent:${agent}`) ?? this.#records.get(`run:${runId}`);
  }

  async kill(target: KillTarget, info: { reason?: string; by?: string } = {}): Promise<KillRecord> {
    const record: KillRecord = {
      target,
      reason: info.reason ?? 'kill switch',
      by: info.by ?? 'unknown',
      at: Date.now(),
    };
    const targetKey = killTargetKey(target);
    // This process acts at once; the others when the notice arrives.
    this.#apply(targetKey, record);
    const message: Message = { op: 'kill', record };
    try {
      await guarded(
        KILL.run(
          this.#connection.client,
          [this.#key(targetKey), this.#indexKey()],
          [
            JSON.stringify(record),
            target.scope === 'run' ? this.#runKillTtlMs : 0,
            `${this.#connection.prefix}kill`,
            JSON.stringify(message),
          ],
        ),
      );
    } catch (error) {
      this.#localOnly.set(targetKey, record);
      throw error;
    }
    return record;
  }

  async revive(target: KillTarget): Promise<boolean> {
    const targetKey = killTargetKey(target);
    const message: Message = { op: 'revive', target: targetKey };
    const removed = await guarded(
      REVIVE.run(
        this.#connection.client,
        [this.#key(targetKey), this.#indexKey()],
        [`${this.#connection.prefix}kill`, JSON.stringify(message)],
      ),
    );
    const local = this.#localOnly.delete(targetKey);
    this.#records.delete(targetKey);
    return removed === 1 || local;
  }

  async list(): Promise<readonly KillRecord[]> {
    const client = this.#connection.client;
    const keys = await guarded(client.smembers(this.#indexKey()));
    if (keys.length === 0) return [...this.#localOnly.values()];
    const values = await guarded(client.mget(...keys));
    const records: KillRecord[] = [...this.#localOnly.values()];
    const gone: string[] = [];
    values.forEach((value, i) => {
      if (value === null) gone.push(keys[i]!);
      else records.push(JSON.parse(value) as KillRecord);
    });
    // Kills of single runs expire; drop them from the index too.
    if (gone.length > 0) await guarded(client.srem(this.#indexKey(), ...gone));
    return records;
  }

  subscribe(listener: (record: KillRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads every kill from Redis into the local copy; kills not seen before reach the listeners. */
  async resync(): Promise<void> {
    let records: readonly KillRecord[];
    for (let attempt = 0; ; attempt++) {
      const seen = this.#notices;
      records = await this.list();
      if (seen === this.#notices || attempt === 3) break;
    }
    const next = new Map<string, KillRecord>();
    for (const record of records) next.set(killTargetKey(record.target), record);
    const fresh = records.filter(record => !sameRecord(this.#records.get(killTargetKey(record.target)), record));
    this.#records.clear();
    for (const [key, record] of next) this.#records.set(key, record);
    for (const record of fresh) this.#notify(record);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #onMessage(text: string): void {
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch {
      return;
    }
    this.#notices++;
    if (message.op === 'kill') this.#apply(killTargetKey(message.record.target), message.record);
    else if (message.op === 'revive' && !this.#localOnly.has(message.target)) this.#records.delete(message.target);
  }

  #apply(targetKey: string, record: KillRecord): void {
    // This process's own notice comes back through the channel: the listeners heard it already.
    if (sameRecord(this.#records.get(targetKey), record)) return;
    this.#records.set(targetKey, record);
    this.#notify(record);
  }

  #notify(record: KillRecord): void {
    for (const listener of this.#listeners) {
      try {
        listener(record);
      } catch {
        // One failing listener must not keep the kill from the others.
      }
    }
  }

  #key(targetKey: string): string {
    return `${this.#connection.prefix}kill:${targetKey}`;
  }

  #indexKey(): string {
    return `${this.#connection.prefix}kills`;
  }
}

function sameRecord(a: KillRecord | undefined, b: KillRecord): boolean {
  return a !== undefined && a.at === b.at && a.by === b.by && a.reason === b.reason;
}
