import { setTimeout as sleep } from 'node:timers/promises';
import { createGovernor, IdempotencyCrashedError } from '@bounded/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type RedisStores, redisStores } from './stores.js';
import { describeWithRedis, uniquePrefix } from './test-utils/redis.js';

const DAY = 86_400_000;

describeWithRedis('RedisIdempotencyStore', url => {
  // Two store sets on one prefix: two processes of one fleet, as far as Redis can tell.
  let a: RedisStores;
  let b: RedisStores;
  beforeEach(async () => {
    const prefix = uniquePrefix();
    [a, b] = await Promise.all([
      redisStores({ url, prefix, leaseMs: 300 }),
      redisStores({ url, prefix, leaseMs: 300 }),
    ]);
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('acquires, records, and replays the result in another process; other arguments are a conflict', async () => {
    expect(await a.idempotency.begin('k', 'fp1', DAY)).toEqual({ status: 'acquired' });
    await a.idempotency.complete('k', { chargeId: 'ch_1', at: new Date(0) }, DAY);
    expect(await b.idempotency.begin('k', 'fp1', DAY)).toEqual({
      status: 'replay',
      value: { chargeId: 'ch_1', at: '1970-01-01T00:00:00.000Z' }, // results travel as JSON
    });
    expect(await b.idempotency.begin('k', 'fp2', DAY)).toEqual({ status: 'conflict' });
    const info = await b.idempotency.inspect('k');
    expect(info).toMatchObject({ state: 'done', fingerprint: 'fp1', takeovers: 0 });
    expect(info!.ttlMs).toBeGreaterThan(DAY - 10_000);
  });

  it('a second process waits for the first one and is told at once when it settles', async () => {
    expect(await a.idempotency.begin('k', 'fp', DAY)).toEqual({ status: 'acquired' });
    const waiting = await b.idempotency.begin('k', 'fp', DAY);
    expect(waiting.status).toBe('in_flight');
    await sleep(20);
    const completedAt = performance.now();
    await a.idempotency.complete('k', 42, DAY);
    if (waiting.status === 'in_flight') await waiting.settled;
    expect(performance.now() - completedAt).toBeLessThan(100); // a notice, not the poll
    expect(await b.idempotency.begin('k', 'fp', DAY)).toEqual({ status: 'replay', value: 42 });
  });

  it('a released lease (the call failed) lets the next caller run it', async () => {
    await a.idempotency.begin('k', 'fp', DAY);
    await a.idempotency.release('k');
    expect(await b.idempotency.begin('k', 'fp', DAY)).toEqual({ status: 'acquired' });
  });

  it('a live holder keeps its lease past leaseMs by renewing it', async () => {
    await a.idempotency.begin('k', 'fp', DAY);
    await sleep(700);
    expect((await b.idempotency.begin('k', 'fp', DAY)).status).toBe('in_flight');
  });

  it("a holder that died: onCrash 'retry' runs it again, 'block' refuses until the key is cleared", async () => {
    await a.idempotency.begin('retry-me', 'fp', DAY, { onCrash: 'retry' });
    await a.idempotency.begin('block-me', 'fp', DAY, { onCrash: 'block' });
    a.idempotency.stop(); // the process dies: its leases are no longer renewed
    await sleep(400);
    expect(await b.idempotency.begin('retry-me', 'fp', DAY, { onCrash: 'retry' })).toEqual({ status: 'acquired' });
    expect(await b.idempotency.inspect('retry-me')).toMatchObject({ state: 'in_flight', takeovers: 1 });
    expect(await b.idempotency.begin('block-me', 'fp', DAY, { onCrash: 'block' })).toEqual({ status: 'crashed' });
    expect(await b.idempotency.begin('block-me', 'fp', DAY, { onCrash: 'block' })).toEqual({ status: 'crashed' });
    expect(await b.idempotency.clear('block-me')).toBe(true);
    expect(await b.idempotency.begin('block-me', 'fp', DAY)).toEqual({ status: 'acquired' });
  });

  it('through the governor: a crashed at-most-once write is refused with IdempotencyCrashedError', async () => {
    const policy = { writes: { tools: ['payments.*'], require_approval: false } };
    const crashed = createGovernor({ policy, stores: a });
    const survivor = createGovernor({ policy, stores: b });
    let executions = 0;
    const run = crashed.run({ agent: 'billing' }, r =>
      r.tool('payments.charge', { cents: 100 }, async () => {
        executions++;
        return new Promise(() => {}); // never returns: its process is about to die
      }),
    );
    void run;
    await sleep(50);
    a.idempotency.stop();
    await sleep(400);
    const result = await survivor.run({ agent: 'billing' }, r =>
      r.tool('payments.charge', { cents: 100 }, async () => ++executions),
    );
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'error' });
    expect(result.status === 'stopped' && result.error).toBeInstanceOf(IdempotencyCrashedError);
    expect(executions).toBe(1);
  });

  it('through the governor: concurrent identical writes in two processes run once', async () => {
    const policy = { writes: { tools: ['payments.*'], require_approval: false } };
    const governors = [createGovernor({ policy, stores: a }), createGovernor({ policy, stores: b })];
    let executions = 0;
    const charge = async () => {
      executions++;
      await sleep(50);
      return { chargeId: `ch_${executions}` };
    };
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        governors[i % 2]!.run({ agent: 'billing' }, run =>
          run.tool('payments.charge', { order: 7 }, charge, { idempotencyKey: 'order-7' }),
        ),
      ),
    );
    expect(executions).toBe(1);
    expect(new Set(results.map(r => JSON.stringify(r.status === 'ok' ? r.output : r.stopReason)))).toEqual(
      new Set([JSON.stringify({ chargeId: 'ch_1' })]),
    );
  });
});
