import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { IdempotencyConflictError } from './errors.js';
import type { BoundedEvent } from './events.js';
import { createGovernor } from './governor.js';
import { MemoryIdempotencyStore } from './stores/memory.js';

const policy = {
  tools: { allow: ['payments.charge', 'kb.read'] },
  writes: { tools: ['payments.*'], require_approval: false },
};

describe('idempotency', () => {
  it('100 concurrent identical calls execute once, and all 100 callers get the same result', async () => {
    const governor = createGovernor({ policy });
    let executions = 0;
    const charge = async (args: { customer: string; cents: number }) => {
      executions++;
      await sleep(20); // long enough that every caller arrives while the first is in flight
      return { chargeId: `ch_${executions}`, ...args };
    };
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        governor.run({ agent: 'billing' }, run => run.tool('payments.charge', { customer: 'c_1', cents: 500 }, charge)),
      ),
    );
    expect(executions).toBe(1);
    const outputs = results.map(result => (result.status === 'ok' ? result.output : result.stopReason));
    expect(new Set(outputs.map(o => JSON.stringify(o))).size).toBe(1);
    expect(outputs[0]).toEqual({ chargeId: 'ch_1', customer: 'c_1', cents: 500 });
    const dedups = results.reduce((sum, r) => sum + r.usage.decisions.dedup, 0);
    expect(dedups).toBe(99);
  });

  it('a retry after success replays the recorded result with decision dedup', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({ policy, observers: [{ onEvent: e => void events.push(e) }] });
    let executions = 0;
    const charge = async () => ({ chargeId: `ch_${++executions}` });
    const first = await governor.run({ agent: 'billing' }, run =>
      run.tool('payments.charge', { cents: 1, customer: 'c_9' }, charge),
    );
    // Key order does not make it a different call.
    const retry = await governor.run({ agent: 'billing' }, run =>
      run.tool('payments.charge', { customer: 'c_9', cents: 1 }, charge),
    );
    expect(first).toMatchObject({ status: 'ok', output: { chargeId: 'ch_1' } });
    expect(retry).toMatchObject({ status: 'ok', output: { chargeId: 'ch_1' } });
    expect(executions).toBe(1);
    const dedup = events.find(e => e.type === 'tool.decision' && e.decision === 'dedup');
    expect(dedup).toMatchObject({
      rule: 'idempotency',
      idempotencyKey: expect.stringMatching(/^billing:payments\.charge:[0-9a-f]{64}$/),
    });
    expect(events.filter(e => e.type === 'tool.end').map(e => (e as { outcome: string }).outcome)).toEqual([
      'ok',
      'dedup',
    ]);
  });

  it('different arguments are different calls; other agents have their own records', async () => {
    const governor = createGovernor({ policy });
    let executions = 0;
    const charge = async () => ++executions;
    await governor.run({ agent: 'billing' }, async run => {
      await run.tool('payments.charge', { cents: 1 }, charge);
      await run.tool('payments.charge', { cents: 2 }, charge);
    });
    await governor.run({ agent: 'other-agent' }, run => run.tool('payments.charge', { cents: 1 }, charge));
    expect(executions).toBe(3);
  });

  it("two tenants making the same call each get their own write, never each other's result", async () => {
    const governor = createGovernor({ policy });
    const db: Record<string, string[]> = { acme: [], globex: [] };
    const charge = (tenant: string) => async (args: { order: number }) => {
      db[tenant]!.push(`order ${args.order}`);
      return { tenant, charged: args.order };
    };
    const byTenant = async (tenant: string, idempotencyKey?: string) =>
      governor.run({ agent: 'billing', tenant }, run =>
        run.tool('payments.charge', { order: 42 }, charge(tenant), { idempotencyKey }),
      );
    for (const key of [undefined, 'order-42']) {
      db.acme = [];
      db.globex = [];
      await expect(byTenant('acme', key)).resolves.toMatchObject({ output: { tenant: 'acme' } });
      await expect(byTenant('globex', key)).resolves.toMatchObject({
        output: { tenant: 'globex' },
        usage: { decisions: { dedup: 0 } },
      });
      // Within a tenant, a retry is still deduplicated.
      await expect(byTenant('globex', key)).resolves.toMatchObject({ usage: { decisions: { dedup: 1 } } });
      expect(db).toEqual({ acme: ['order 42'], globex: ['order 42'] });
    }
  });

  it('a caller key deduplicates across different argument shapes only when the arguments match', async () => {
    const governor = createGovernor({ policy });
    let executions = 0;
    const charge = async () => ++executions;
    const first = await governor.run({ agent: 'a' }, run =>
      run.tool('payments.charge', { cents: 5, note: 'x' }, charge, { idempotencyKey: 'order-42' }),
    );
    const replay = await governor.run({ agent: 'b' }, run =>
      run.tool('payments.charge', { note: 'x', cents: 5 }, charge, { idempotencyKey: 'order-42' }),
    );
    const conflict = await governor.run({ agent: 'a' }, run =>
      run.tool('payments.charge', { cents: 6, note: 'x' }, charge, { idempotencyKey: 'order-42' }),
    );
    expect([first, replay]).toMatchObject([{ output: 1 }, { output: 1 }]);
    // The conflicting call is a denial, counted and recorded like any other.
    expect(conflict).toMatchObject({ status: 'stopped', stopReason: 'error', usage: { decisions: { deny: 1 } } });
    if (conflict.status === 'stopped') {
      expect(conflict.error).toBeInstanceOf(IdempotencyConflictError);
      expect(conflict.detail).toContain('Idempotency key "payments.charge:order-42" was already used');
    }
    expect(executions).toBe(1);
  });

  it('a failed call releases its lease, so a retry runs it again (at-least-once for failures)', async () => {
    const governor = createGovernor({ policy: { ...policy, circuit_breaker: { enabled: false } } });
    let attempts = 0;
    const flaky = async () => {
      attempts++;
      if (attempts === 1) throw new Error('gateway timeout');
      return 'charged';
    };
    const failed = await governor.run({ agent: 'a' }, run => run.tool('payments.charge', { cents: 1 }, flaky));
    const retried = await governor.run({ agent: 'a' }, run => run.tool('payments.charge', { cents: 1 }, flaky));
    expect(failed).toMatchObject({ status: 'stopped', stopReason: 'error', detail: 'Error: gateway timeout' });
    expect(retried).toMatchObject({ status: 'ok', output: 'charged' });
    expect(attempts).toBe(2);
  });

  it('callers waiting on a call that fails get their own attempt', async () => {
    const governor = createGovernor({ policy: { ...policy, circuit_breaker: { enabled: false } } });
    let attempts = 0;
    const flaky = async () => {
      attempts++;
      await sleep(10);
      if (attempts === 1) throw new Error('first attempt fails');
      return `ok on attempt ${attempts}`;
    };
    const results = await Promise.all(
      [1, 2, 3].map(() => governor.run({ agent: 'a' }, run => run.tool('payments.charge', { cents: 1 }, flaky))),
    );
    expect(results.map(r => r.status).sort()).toEqual(['ok', 'ok', 'stopped']);
    expect(attempts).toBe(2);
  });

  it('records expire after their TTL', async () => {
    const governor = createGovernor({ policy: { ...policy, idempotency: { ttl_seconds: 0.05 } } });
    let executions = 0;
    const charge = async () => ++executions;
    await governor.run({ agent: 'a' }, run => run.tool('payments.charge', { cents: 1 }, charge));
    await sleep(80);
    await governor.run({ agent: 'a' }, run => run.tool('payments.charge', { cents: 1 }, charge));
    expect(executions).toBe(2);
  });

  it('a run stopped while its write is in flight does not free the lease until the write really ends', async () => {
    const store = new MemoryIdempotencyStore();
    const governor = createGovernor({
      policy: { ...policy, budgets: { max_seconds: 0.05 } },
      stores: { idempotency: store },
    });
    let executions = 0;
    let finish!: () => void;
    const slowCharge = () =>
      new Promise<string>(resolve => {
        executions++;
        finish = () => resolve('charged late');
      });
    const first = await governor.run({ agent: 'a' }, run => run.tool('payments.charge', { cents: 1 }, slowCharge));
    expect(first).toMatchObject({ stopReason: 'max_seconds' });
    // The charge is still running: a retry must not start a second one.
    const retry = governor.run({ agent: 'a', budgets: { max_seconds: 5 } }, run =>
      run.tool('payments.charge', { cents: 1 }, slowCharge),
    );
    await sleep(20);
    expect(executions).toBe(1);
    finish();
    expect(await retry).toMatchObject({ status: 'ok', output: 'charged late' });
    expect(executions).toBe(1);
  });

  it('read tools are not deduplicated unless asked', async () => {
    const governor = createGovernor({ policy });
    let executions = 0;
    await governor.run({ agent: 'a' }, async run => {
      await run.tool('kb.read', { id: 1 }, async () => ++executions);
      await run.tool('kb.read', { id: 1 }, async () => ++executions);
    });
    expect(executions).toBe(2);
  });
});
