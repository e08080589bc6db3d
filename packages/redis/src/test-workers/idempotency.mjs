// One process of the fleet: `calls` concurrent runs, each making the same write with the same idempotency key.
import { setTimeout as sleep } from 'node:timers/promises';
import { createGovernor } from '@bounded/core';
import { redisStores } from '@bounded/redis';
import { fail, params, receive, report } from './protocol.mjs';

try {
  const stores = await redisStores({ url: params.url, prefix: params.prefix });
  const governor = createGovernor({ policy: { writes: { tools: ['payments.*'], require_approval: false } }, stores });
  let executions = 0;
  const charge = async args => {
    executions++;
    const n = await stores.redis.incr(`${params.prefix}executions`);
    await sleep(300); // long enough that every other call arrives while this one is in flight
    return { chargeId: `ch_${process.pid}_${n}`, ...args };
  };
  report({ type: 'ready' });
  await receive();
  const results = await Promise.all(
    Array.from({ length: params.calls }, () =>
      governor.run({ agent: 'billing' }, run =>
        run.tool('payments.charge', { customer: 'c_1', cents: 500 }, charge, { idempotencyKey: 'order-1' }),
      ),
    ),
  );
  report({
    type: 'done',
    executions,
    outputs: results.map(r => (r.status === 'ok' ? JSON.stringify(r.output) : `${r.stopReason}: ${r.detail}`)),
    dedups: results.reduce((sum, r) => sum + r.usage.decisions.dedup, 0),
  });
  await stores.close();
} catch (error) {
  fail(error);
}
