import { setTimeout as sleep } from 'node:timers/promises';
import { createGovernor, type LimitRequest, MemoryLimitsStore } from '@bounded/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type RedisStores, redisStores } from './stores.js';
import { describeWithRedis, uniquePrefix } from './test-utils/redis.js';

describeWithRedis('RedisLimitsStore', url => {
  let stores: RedisStores;
  beforeEach(async () => {
    stores = await redisStores({ url, prefix: uniquePrefix() });
  });
  afterEach(() => stores.close());

  it('gives the same answers as the in-memory store, step by step, in fixed and sliding windows', async () => {
    const memory = new MemoryLimitsStore();
    // A deterministic walk across window boundaries: takes of one or two counters, plain adds, refunds, reads.
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const windowMs = 1000;
    const counters = [
      { key: 'agent:a:tool_calls:1000', limit: 5, sliding: false },
      { key: 'agent:a:usd:1000', limit: 2, sliding: true },
      { key: 'tenant:t:tool_calls:1000', limit: 8, sliding: true },
    ];
    let now = 1_700_000_000_000;
    for (let step = 0; step < 300; step++) {
      now += Math.floor(random() * 180);
      const pick = counters.filter(() => random() < 0.6);
      // Multiples of 1/4: exact in binary, so the two stores' sums cannot differ at a boundary.
      const requests: LimitRequest[] = pick.map(c => ({ ...c, windowMs, amount: Math.ceil(random() * 4) / 4 }));
      const roll = random();
      if (roll < 0.7) {
        expect(await stores.limits.take(requests, now), `take at step ${step}`).toEqual(memory.take(requests, now));
      } else if (roll < 0.85) {
        const refunds = requests.map(r => ({ ...r, amount: -r.amount / 2 }));
        await stores.limits.add(refunds, now);
        memory.add(refunds, now);
      }
      for (const c of counters) {
        const used = await stores.limits.used(c.key, windowMs, c.sliding, now);
        expect(used, `${c.key} at step ${step}`).toBeCloseTo(memory.used(c.key, windowMs, c.sliding, now), 9);
      }
    }
  });

  it('takes every counter or none', async () => {
    const now = Date.now();
    const a = { key: 'a', amount: 1, limit: 10, windowMs: 60_000, sliding: false };
    const b = { key: 'b', amount: 1, limit: 1, windowMs: 60_000, sliding: false };
    expect(await stores.limits.take([a, b], now)).toEqual({ ok: true });
    expect(await stores.limits.take([a, b], now)).toEqual({ ok: false, index: 1, used: 1 });
    expect(await stores.limits.used('a', 60_000, false, now)).toBe(1);
  });

  it('runs in flight: slots up to the limit, freed by release, and by lease expiry when a process dies', async () => {
    const prefix = uniquePrefix();
    const a = await redisStores({ url, prefix, slotLeaseMs: 300 });
    const b = await redisStores({ url, prefix, slotLeaseMs: 300 });
    try {
      expect(await a.limits.acquire('k', 2)).toBe(true);
      expect(await b.limits.acquire('k', 2)).toBe(true);
      expect(await b.limits.acquire('k', 2)).toBe(false);
      await b.limits.releaseSlot('k');
      expect(await b.limits.acquire('k', 2)).toBe(true);
      // A live process keeps its slots past the lease (it renews them) ...
      await sleep(500);
      expect(await b.limits.acquire('k', 2)).toBe(false);
      // ... and a dead one's slots free themselves.
      a.limits.close();
      await sleep(400);
      expect(await b.limits.acquire('k', 2)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('through the governor: calls per hour shared by two processes, and USD per day', async () => {
    const prefix = uniquePrefix();
    const other = await redisStores({ url, prefix });
    const here = await redisStores({ url, prefix });
    try {
      const policy = {
        limits: { per_agent: { tool_calls_per_hour: 3, usd_per_day: 1 } },
        pricing: { tools: { 'search.*': 0.4 } },
      };
      const g1 = createGovernor({ policy, stores: here });
      const g2 = createGovernor({ policy, stores: other });
      const call = (g: typeof g1, id: number) =>
        g.run({ agent: 'support' }, run => run.tool('kb.read', { id }, async () => id));
      expect(await call(g1, 1)).toMatchObject({ status: 'ok' });
      expect(await call(g2, 2)).toMatchObject({ status: 'ok' });
      expect(await call(g1, 3)).toMatchObject({ status: 'ok' });
      expect(await call(g2, 4)).toMatchObject({
        stopReason: 'rate_limited:agent:support',
        detail: 'agent:support made 3 tool calls this hour (limit 3)',
      });
      const spend = (g: typeof g1, q: string) =>
        g.run({ agent: 'research' }, run => run.tool('search.read', { q }, async () => q));
      expect(await spend(g1, 'a')).toMatchObject({ status: 'ok' });
      expect(await spend(g2, 'b')).toMatchObject({ status: 'ok' });
      expect(await spend(g1, 'c')).toMatchObject({
        stopReason: 'max_usd',
        detail: 'agent:research spent $0.80 this day of $1',
      });
    } finally {
      await here.close();
      await other.close();
    }
  });
});
