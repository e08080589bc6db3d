import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createGovernor } from './governor.js';
import type { Budgets, PolicyInput } from './policy/types.js';
import { MemoryLimitsStore } from './stores/memory.js';
import type { LimitsStore } from './stores/types.js';

describe('limits across runs', () => {
  it('tool calls per window are shared by every run of an agent', async () => {
    const governor = createGovernor({ policy: { limits: { per_agent: { tool_calls_per_hour: 5 } } } });
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push(
        await governor.run({ agent: 'support' }, async run => {
          await run.tool('kb.read', { i, n: 1 }, async () => 1);
          await run.tool('kb.read', { i, n: 2 }, async () => 1);
        }),
      );
    }
    expect(results.map(r => (r.status === 'ok' ? 'ok' : r.stopReason))).toEqual([
      'ok',
      'ok',
      'rate_limited:agent:support',
    ]);
    expect(results[2]).toMatchObject({ detail: 'agent:support made 5 tool calls this hour (limit 5)' });
    // Another agent has its own count.
    expect(await governor.run({ agent: 'billing' }, run => run.tool('kb.read', {}, async () => 1))).toMatchObject({
      status: 'ok',
    });
  });

  it('parallel calls that wait on a shared store still meet the per-run budgets', async () => {
    // A store across a network answers later: every call of the batch is waiting on it at once.
    const memory = new MemoryLimitsStore();
    const remote: LimitsStore = {
      take: async (requests, now) => memory.take(requests, now),
      add: async (requests, now) => memory.add(requests, now),
      used: async (key, windowMs, sliding, now) => memory.used(key, windowMs, sliding, now),
      acquire: async (key, limit) => memory.acquire(key, limit),
      releaseSlot: async key => memory.releaseSlot(key),
    };
    const run = async (budgets: Budgets) => {
      const governor = createGovernor({
        policy: {
          budgets,
          limits: { per_agent: { tool_calls_per_hour: 1000 } },
          pricing: { tools: { 'orders.*': 0.1 } },
          tools: { on_refusal: 'continue' },
        },
        stores: { limits: remote },
      });
      let executed = 0;
      const result = await governor.run({ agent: 'a' }, async run => {
        await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => run.tool('orders.get', { i }, async () => ++executed)),
        );
      });
      return { executed, toolCalls: result.usage.toolCalls, costUsd: result.usage.costUsd };
    };
    expect(await run({ max_tool_calls: 3 })).toEqual({ executed: 3, toolCalls: 3, costUsd: 0.3 });
    expect(await run({ per_tool: { 'orders.*': 2 } })).toEqual({ executed: 2, toolCalls: 2, costUsd: 0.2 });
    expect(await run({ max_usd: 0.45 })).toEqual({ executed: 4, toolCalls: 4, costUsd: 0.4 });
  });

  it('a USD cap reached exactly is not crossed: three $0.10 calls fit $0.30, per run and across runs', async () => {
    const calls = async (policy: PolicyInput) => {
      const governor = createGovernor({ policy: { ...policy, pricing: { tools: { 'orders.*': 0.1 } } } });
      let executed = 0;
      const result = await governor.run({ agent: 'a' }, async run => {
        for (let i = 0; i < 5; i++) await run.tool('orders.get', { i }, async () => ++executed);
      });
      return { executed, stopReason: result.status === 'stopped' ? result.stopReason : 'ok' };
    };
    expect(await calls({ budgets: { max_usd: 0.3 } })).toEqual({ executed: 3, stopReason: 'max_usd' });
    expect(await calls({ limits: { global: { usd_per_hour: 0.3 } } })).toEqual({ executed: 3, stopReason: 'max_usd' });

    const reported = await createGovernor({ policy: { budgets: { max_usd: 0.3 } } }).run({ agent: 'a' }, async run => {
      for (let i = 0; i < 3; i++) run.usage({ costUsd: 0.1 });
      return 'three reports, the cap reached, not crossed';
    });
    expect(reported).toMatchObject({ status: 'ok', usage: { costUsd: 0.3 } });
  });

  it('runs in flight per tenant', async () => {
    const governor = createGovernor({ policy: { limits: { per_tenant: { runs_in_flight: 1 } } } });
    let release!: () => void;
    const first = governor.run({ agent: 'a', tenant: 'acme' }, () => new Promise<void>(resolve => (release = resolve)));
    await sleep(5);
    const second = await governor.run({ agent: 'a', tenant: 'acme' }, () => 'ran');
    const otherTenant = await governor.run({ agent: 'a', tenant: 'globex' }, () => 'ran');
    release();
    await first;
    const third = await governor.run({ agent: 'a', tenant: 'acme' }, () => 'ran');
    expect(second).toMatchObject({
      stopReason: 'rate_limited:tenant:acme',
      detail: 'tenant:acme already has 1 run(s) in flight (limits.per_tenant.runs_in_flight)',
    });
    expect(otherTenant).toMatchObject({ status: 'ok' });
    expect(third).toMatchObject({ status: 'ok' });
  });

  it('USD per day across runs stops with max_usd', async () => {
    const governor = createGovernor({
      policy: {
        limits: { per_agent: { usd_per_day: 1 } },
        pricing: { models: { m: { input_per_1m: 400_000, output_per_1m: 0 } } },
      },
    });
    const spend = () =>
      governor.run({ agent: 'a' }, async run => {
        await run.step();
        run.usage({ inputTokens: 1, model: 'm' }); // $0.40
      });
    const results = [await spend(), await spend(), await spend(), await spend()];
    expect(results.map(r => (r.status === 'ok' ? 'ok' : r.stopReason))).toEqual(['ok', 'ok', 'ok', 'max_usd']);
    expect(results[3]).toMatchObject({
      detail: expect.stringMatching(/^agent:a spent \$1\.20 this day of \$1 \(limits\.per_agent\.usd_per_day\)$/),
    });
  });

  it('sliding windows weigh the previous window; fixed windows reset on the boundary', () => {
    const store = new MemoryLimitsStore();
    const minute = 60_000;
    const request = (sliding: boolean) => [{ key: `k:${sliding}`, amount: 1, limit: 10, windowMs: minute, sliding }];
    const t0 = 10 * minute;
    for (let i = 0; i < 10; i++) {
      expect(store.take(request(true), t0 + i).ok).toBe(true);
      expect(store.take(request(false), t0 + i).ok).toBe(true);
    }
    expect(store.take(request(true), t0 + 20).ok).toBe(false);
    // A quarter into the next window: fixed has reset; sliding still counts 75% of the previous 10.
    const later = t0 + minute + minute / 4;
    expect(store.take(request(false), later).ok).toBe(true);
    expect(store.used('k:true', minute, true, later)).toBeCloseTo(7.5, 5);
    expect(store.take(request(true), later).ok).toBe(true);
    expect(store.take(request(true), later).ok).toBe(true);
    expect(store.take(request(true), later).ok).toBe(false);
  });
});
