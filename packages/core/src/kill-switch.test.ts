import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { BoundedEvent } from './events.js';
import { createGovernor } from './governor.js';
import { MemoryIdempotencyStore, MemoryKillSwitchStore, MemoryLimitsStore } from './stores/memory.js';
import type { LimitsStore } from './stores/types.js';
import type { ToolContext } from './types.js';

const hang = (_args: unknown, ctx: ToolContext) =>
  new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
  });

describe('kill switch', () => {
  it('stops in-flight runs of an agent at once, aborting their tools, and leaves other agents alone', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({ policy: {}, observers: [{ onEvent: e => void events.push(e) }] });
    const signals: AbortSignal[] = [];
    const target = governor.run({ agent: 'support' }, run =>
      run.tool('http.get', {}, (args, ctx) => {
        signals.push(ctx.signal);
        return hang(args, ctx);
      }),
    );
    const other = governor.run({ agent: 'billing' }, async run => {
      await sleep(40);
      return run.tool('kb.read', {}, async () => 'still fine');
    });
    await sleep(10);
    const started = performance.now();
    await governor.kill({ scope: 'agent', agent: 'support' }, { reason: 'runaway loop', by: 'oncall@example.com' });
    const result = await target;
    expect(performance.now() - started).toBeLessThan(50);
    expect(result).toMatchObject({
      status: 'stopped',
      stopReason: 'killed',
      detail: 'killed for agent support by oncall@example.com: runaway loop',
    });
    expect(signals[0]?.aborted).toBe(true);
    expect(await other).toMatchObject({ status: 'ok', output: 'still fine' });
    expect(events.find(e => e.type === 'kill')).toMatchObject({
      record: { reason: 'runaway loop', by: 'oncall@example.com' },
    });
  });

  it('refuses new runs until revived', async () => {
    const governor = createGovernor({ policy: {} });
    await governor.kill({ scope: 'global' }, { reason: 'incident 123', by: 'ops' });
    let ran = false;
    const refused = await governor.run({ agent: 'any' }, () => {
      ran = true;
    });
    expect(refused).toMatchObject({
      status: 'stopped',
      stopReason: 'killed',
      detail: 'killed globally by ops: incident 123',
    });
    expect(ran).toBe(false);
    expect(await governor.revive({ scope: 'global' })).toBe(true);
    expect(await governor.run({ agent: 'any' }, () => 'back')).toMatchObject({ status: 'ok', output: 'back' });
  });

  it('kills one run by id', async () => {
    const governor = createGovernor({ policy: {} });
    const victim = governor.run({ agent: 'a', runId: 'run-7' }, run => run.tool('x', {}, hang));
    const bystander = governor.run({ agent: 'a', runId: 'run-8' }, async () => {
      await sleep(30);
      return 'ok';
    });
    await sleep(5);
    await governor.kill({ scope: 'run', runId: 'run-7' });
    expect(await victim).toMatchObject({ stopReason: 'killed' });
    expect(await bystander).toMatchObject({ status: 'ok' });
  });

  it('is checked before every step, also when the store is shared and the kill came from elsewhere', async () => {
    const shared = new MemoryKillSwitchStore();
    const governor = createGovernor({ policy: {}, stores: { killSwitch: shared } });
    const result = await governor.run({ agent: 'a' }, async run => {
      await run.step();
      // Another governor (another part of the app) throws the switch.
      createGovernor({ policy: {}, stores: { killSwitch: shared } }).kill({ scope: 'agent', agent: 'a' });
      await run.step();
      return 'not reached';
    });
    expect(result).toMatchObject({ stopReason: 'killed', usage: { steps: 1 } });
  });

  it('can be switched off by policy: for new runs and for runs already going', async () => {
    const governor = createGovernor({ policy: { kill_switch: { enabled: false } } });
    const going = await governor.start({ agent: 'a' });
    await governor.kill({ scope: 'global' });
    expect(going.stopped).toBeUndefined();
    await expect(going.tool('x', {}, async () => 1)).resolves.toBe(1);
    await expect(going.end()).resolves.toMatchObject({ status: 'ok' });
    expect(await governor.run({ agent: 'a' }, async run => run.tool('x', {}, async () => 1))).toMatchObject({
      status: 'ok',
    });
  });
});

describe('calls still being admitted when the run stops', () => {
  const later = <T>(value: T) => sleep(5).then(() => value);
  const slowSchema = {
    '~standard': { version: 1 as const, vendor: 'test', validate: (value: unknown) => later({ value }) },
  };
  const memoryIdempotency = new MemoryIdempotencyStore();
  /** A limits store across a network: it takes a moment to answer a take. */
  const slowLimits = (limits: MemoryLimitsStore): LimitsStore => ({
    take: (requests, now) => later(limits.take(requests, now)),
    add: (requests, now) => limits.add(requests, now),
    used: (key, windowMs, sliding, now) => limits.used(key, windowMs, sliding, now),
    acquire: (key, limit) => limits.acquire(key, limit),
    releaseSlot: key => limits.releaseSlot(key),
  });
  const cases = {
    'an async argument schema': () => createGovernor({ policy: {}, tools: { 'crm.refund': { schema: slowSchema } } }),
    'an idempotency store that answers later': () =>
      createGovernor({
        policy: { idempotency: { tools: ['crm.*'] } },
        stores: {
          idempotency: {
            begin: (key, fingerprint, ttlMs) => later(memoryIdempotency.begin(key, fingerprint, ttlMs)),
            complete: (key, value, ttlMs) => memoryIdempotency.complete(key, value, ttlMs),
            release: key => memoryIdempotency.release(key),
          },
        },
      }),
    'a limits store that answers later': () =>
      createGovernor({
        policy: { limits: { per_agent: { tool_calls_per_hour: 1000 } } },
        stores: {
          limits: slowLimits(new MemoryLimitsStore()),
        },
      }),
  };

  it('gives back the cross-run spend a call took while it waited, when the run stops before it starts', async () => {
    const governor = createGovernor({
      policy: {
        limits: { per_agent: { usd_per_hour: 1 } },
        pricing: { tools: { 'crm.*': 0.4 } },
        tools: { on_refusal: 'continue' },
      },
      stores: {
        limits: slowLimits(new MemoryLimitsStore()),
      },
    });
    const caller = new AbortController();
    const stopped = governor.run({ agent: 'billing', signal: caller.signal }, run =>
      run.tool('crm.refund', { id: 1 }, async () => 'refunded'),
    );
    await sleep(1);
    caller.abort();
    expect(await stopped).toMatchObject({ status: 'stopped', stopReason: 'killed' });
    // $0.80 of the hour's $1 is still there: the stopped call's $0.40 came back.
    const next = await governor.run({ agent: 'billing' }, async run => [
      await run.tool('crm.refund', { id: 2 }, async () => 'refunded'),
      await run.tool('crm.refund', { id: 3 }, async () => 'refunded'),
    ]);
    expect(next).toMatchObject({ status: 'ok', output: ['refunded', 'refunded'] });
  });

  for (const [waitingOn, make] of Object.entries(cases)) {
    it(`never starts the tool once the kill lands or the caller aborts: ${waitingOn}`, async () => {
      for (const how of ['kill', 'abort'] as const) {
        const governor = make();
        const caller = new AbortController();
        let ran = 0;
        const result = governor.run({ agent: 'billing', signal: caller.signal }, run =>
          run.tool('crm.refund', { id: `${how}-1` }, async () => ++ran),
        );
        await sleep(1);
        if (how === 'kill') await governor.kill({ scope: 'agent', agent: 'billing' }, { reason: 'stop', by: 'oncall' });
        else caller.abort();
        expect(await result, `${waitingOn}, ${how}`).toMatchObject({ status: 'stopped', stopReason: 'killed' });
        await sleep(20);
        expect(ran, `${waitingOn}, ${how}`).toBe(0);
        if (how === 'kill') await governor.revive({ scope: 'agent', agent: 'billing' });
        // Nothing was left held (an idempotency lease, a reservation): the same call runs on the next run.
        const again = await governor.run({ agent: 'billing' }, run =>
          run.tool('crm.refund', { id: `${how}-1` }, async () => ++ran),
        );
        expect(again, `${waitingOn}, ${how}`).toMatchObject({ status: 'ok', output: 1 });
      }
    });
  }
});
