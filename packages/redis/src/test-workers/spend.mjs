// One process sharing a USD-per-day cap: `lanes` concurrent runs at a time, each calling a priced tool until the
// cap refuses it. The tool reports what each call really cost (at most its price), and the process adds it up.
import { setTimeout as sleep } from 'node:timers/promises';
import { createGovernor } from '@bounded/core';
import { redisStores } from '@bounded/redis';
import { fail, params, receive, report } from './protocol.mjs';

try {
  const stores = await redisStores({ url: params.url, prefix: params.prefix });
  const governor = createGovernor({
    policy: {
      limits: { per_agent: { usd_per_day: params.cap } },
      pricing: { tools: { 'api.call': params.price } },
      loop_detection: { enabled: false },
    },
    stores,
  });
  let spentMicros = 0;
  let calls = 0;
  const stops = {};
  const apiCall = async (_args, ctx) => {
    await sleep(2 + Math.random() * 8);
    const micros = Math.round((0.2 + Math.random() * 0.8) * params.price * 1e6);
    spentMicros += micros;
    calls++;
    ctx.reportCost(micros / 1e6);
    return micros;
  };
  report({ type: 'ready' });
  await receive();
  await Promise.all(
    Array.from({ length: params.lanes }, async (_, lane) => {
      for (;;) {
        const result = await governor.run({ agent: 'research' }, async run => {
          for (let i = 0; i < 5; i++) await run.tool('api.call', { lane, i }, apiCall);
        });
        if (result.status === 'stopped') {
          stops[result.stopReason] = (stops[result.stopReason] ?? 0) + 1;
          if (result.stopReason === 'max_usd') return;
          throw new Error(`unexpected stop ${result.stopReason}: ${result.detail}`);
        }
      }
    }),
  );
  await stores.redis.ping(); // settlements are sent as calls end: let the last ones land
  report({ type: 'done', spentMicros, calls, stops });
  await stores.close();
} catch (error) {
  fail(error);
}
