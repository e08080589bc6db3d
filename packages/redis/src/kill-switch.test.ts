import { setTimeout as sleep } from 'node:timers/promises';
import { createGovernor, type KillRecord, type ToolContext } from '@bounded/core';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type RedisStores, redisStores } from './stores.js';
import { describeWithRedis, uniquePrefix } from './test-utils/redis.js';

const hang = (_args: unknown, ctx: ToolContext) =>
  new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));

describeWithRedis('RedisKillSwitchStore', url => {
  let prefix: string;
  let a: RedisStores;
  let b: RedisStores;
  beforeEach(async () => {
    prefix = uniquePrefix();
    [a, b] = await Promise.all([redisStores({ url, prefix }), redisStores({ url, prefix })]);
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('a kill in one process stops the runs of another at once, and new runs until revived', async () => {
    const ops = createGovernor({ policy: {}, stores: a });
    const worker = createGovernor({ policy: {}, stores: b });
    const running = worker.run({ agent: 'support' }, run => run.tool('http.get', {}, hang));
    const other = worker.run({ agent: 'billing' }, async run => {
      await sleep(80);
      return run.tool('kb.read', {}, async () => 'fine');
    });
    await sleep(20);
    const started = performance.now();
    await ops.kill({ scope: 'agent', agent: 'support' }, { reason: 'runaway', by: 'oncall' });
    expect(await running).toMatchObject({
      stopReason: 'killed',
      detail: 'killed for agent support by oncall: runaway',
    });
    expect(performance.now() - started).toBeLessThan(100);
    expect(await other).toMatchObject({ status: 'ok', output: 'fine' });
    expect(await worker.run({ agent: 'support' }, () => 1)).toMatchObject({ stopReason: 'killed' });
    expect(await b.killSwitch.list()).toEqual([expect.objectContaining({ reason: 'runaway', by: 'oncall' })]);
    expect(await ops.revive({ scope: 'agent', agent: 'support' })).toBe(true);
    await sleep(20);
    expect(b.killSwitch.check('support', 'r1')).toBeUndefined();
    expect(await worker.run({ agent: 'support' }, () => 'back')).toMatchObject({ status: 'ok', output: 'back' });
  });

  it('a process that starts later reads the kills already in force', async () => {
    await a.killSwitch.kill({ scope: 'global' }, { reason: 'incident', by: 'ops' });
    const late = await redisStores({ url, prefix });
    try {
      expect(late.killSwitch.check('any', 'any')).toMatchObject({ target: { scope: 'global' }, reason: 'incident' });
    } finally {
      await late.close();
    }
  });

  it('a kill whose notice was missed is found by the resync, and reaches the listeners', async () => {
    const seen: KillRecord[] = [];
    b.killSwitch.subscribe(record => seen.push(record));
    // Written straight into Redis, without the notice: as if b's subscription was down when it happened.
    const raw = new Redis(url);
    const record: KillRecord = { target: { scope: 'run', runId: 'r-9' }, reason: 'missed', by: 'ops', at: Date.now() };
    await raw.set(`${prefix}kill:run:r-9`, JSON.stringify(record));
    await raw.sadd(`${prefix}kills`, `${prefix}kill:run:r-9`);
    await raw.quit();
    expect(b.killSwitch.check('x', 'r-9')).toBeUndefined();
    await b.killSwitch.resync();
    expect(b.killSwitch.check('x', 'r-9')).toEqual(record);
    expect(seen).toEqual([record]);
  });

  it('kills of one run expire; the admission script refuses a call even before the notice arrives', async () => {
    const short = await redisStores({ url, prefix: uniquePrefix(), runKillTtlMs: 100 });
    try {
      await short.killSwitch.kill({ scope: 'run', runId: 'r-1' });
      expect(await short.killSwitch.list()).toHaveLength(1);
      await sleep(200);
      expect(await short.killSwitch.list()).toHaveLength(0);
    } finally {
      await short.close();
    }
    const raw = new Redis(url);
    const record: KillRecord = { target: { scope: 'agent', agent: 'x' }, reason: 'at the source', by: 'ops', at: 1 };
    await raw.set(`${prefix}kill:agent:x`, JSON.stringify(record));
    await raw.quit();
    const governor = createGovernor({ policy: { limits: { per_agent: { tool_calls_per_hour: 100 } } }, stores: b });
    let ran = false;
    const result = await governor.run({ agent: 'x' }, run =>
      run.tool('kb.read', {}, async () => {
        ran = true;
      }),
    );
    expect(result).toMatchObject({ stopReason: 'killed', detail: 'killed for agent x by ops: at the source' });
    expect(ran).toBe(false);
  });
});
