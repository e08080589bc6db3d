import { createGovernor } from '@bounded/core';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type RedisStores, redisStores } from './stores.js';
import { describeWithRedis, uniquePrefix } from './test-utils/redis.js';

/** Counts the commands a client sends (each is one request and one reply). */
export function countCommands(client: Redis): { readonly names: string[] } {
  const names: string[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    names.push(command.name);
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof client.sendCommand;
  return { names };
}

describeWithRedis('RedisAdmissionStore', url => {
  let stores: RedisStores;
  beforeEach(async () => {
    stores = await redisStores({ url, prefix: uniquePrefix() });
  });
  afterEach(() => stores.close());

  const policy = {
    writes: { tools: ['crm.*'], require_approval: false },
    limits: {
      per_agent: { tool_calls_per_hour: 1_000, usd_per_day: 100 },
      per_tenant: { tool_calls_per_minute: 1_000, window: 'fixed' as const },
    },
    pricing: { tools: { 'search.*': 0.01 } },
  };

  it('one round trip per governed call: kill switch, four limits and the reservation in one script', async () => {
    const governor = createGovernor({ policy, stores });
    const sent = countCommands(stores.redis);
    const result = await governor.run({ agent: 'support', tenant: 'acme' }, async run => {
      for (let i = 0; i < 10; i++) await run.tool('search.read', { q: i }, async () => i);
    });
    expect(result).toMatchObject({ status: 'ok' });
    expect(sent.names).toEqual(Array(10).fill('evalsha'));
    const now = Date.now();
    expect(await stores.limits.used('agent:support:tool_calls:3600000', 3_600_000, true, now)).toBe(10);
    expect(await stores.limits.used('tenant:acme:tool_calls:60000', 60_000, false, now)).toBe(10);
    expect(await stores.limits.used('agent:support:usd:86400000', 86_400_000, true, now)).toBeCloseTo(0.1, 9);
  });

  it('a deduplicated write: one round trip to admit it, one to record its result; a replay is one', async () => {
    const governor = createGovernor({ policy, stores });
    const sent = countCommands(stores.redis);
    await governor.run({ agent: 'support' }, run => run.tool('crm.update', { id: 1 }, async () => 'saved'));
    await stores.redis.ping(); // the result is recorded as the call returns; let it leave
    expect(sent.names).toEqual(['evalsha', 'evalsha', 'ping']);
    sent.names.length = 0;
    const replay = await governor.run({ agent: 'support' }, run =>
      run.tool('crm.update', { id: 1 }, async () => 'again'),
    );
    await stores.redis.ping();
    expect(replay).toMatchObject({ status: 'ok', output: 'saved' });
    expect(sent.names).toEqual(['evalsha', 'ping']);
  });

  it('refuses with the same stop reasons as the in-memory stores', async () => {
    const governor = createGovernor({
      policy: {
        limits: { per_tenant: { tool_calls_per_hour: 2 }, global: { usd_per_hour: 0.015 } },
        pricing: policy.pricing,
      },
      stores,
    });
    const calls = await governor.run({ agent: 'a', tenant: 'acme' }, async run => {
      for (let i = 0; ; i++) await run.tool('kb.read', { i }, async () => i);
    });
    expect(calls).toMatchObject({
      stopReason: 'rate_limited:tenant:acme',
      detail: 'tenant:acme made 2 tool calls this hour (limit 2)',
    });
    const usd = await governor.run({ agent: 'a', tenant: 'globex' }, async run => {
      for (let i = 0; ; i++) await run.tool('search.read', { i }, async () => i);
    });
    expect(usd).toMatchObject({ stopReason: 'max_usd', detail: 'global spent $0.01 this hour of $0.015' });
  });

  it('settles a reservation with the reported cost', async () => {
    const governor = createGovernor({ policy, stores });
    await governor.run({ agent: 'support' }, run =>
      run.tool('search.read', { q: 'x' }, async (_args, ctx) => {
        ctx.reportCost(0.004);
        return 'x';
      }),
    );
    await stores.redis.ping(); // the settlement is sent after the call; let it land
    const used = await stores.limits.used('agent:support:usd:86400000', 86_400_000, true, Date.now());
    expect(used).toBeCloseTo(0.004, 9);
  });
});
