// One process working through the same list of writes as its peers while Redis goes away and comes back. Each
// write has its own idempotency key; a refused one (store_unavailable) is retried in a new run until it succeeds.
// Every execution is appended to a log, so the test can tell whether anything ran twice.
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGovernor } from '@bounded/core';
import { redisStores } from '@bounded/redis';
import { fail, params, receive, report } from './protocol.mjs';

try {
  const stores = await redisStores({ url: params.url, prefix: params.prefix, connectTimeoutMs: 5000 });
  const governor = createGovernor({
    policy: {
      writes: { tools: ['payments.*'], require_approval: false },
      limits: { per_agent: { tool_calls_per_hour: 1_000_000 } },
      fail_mode: { reads: 'open' },
    },
    stores,
  });
  const warnings = [];
  process.on('warning', warning => {
    if (warning.code === 'BOUNDED_STORE_UNAVAILABLE') warnings.push(warning.message);
  });
  const charge = async ({ order }) => {
    appendFileSync(params.log, `${order} ${process.pid} ${Date.now()}\n`);
    await sleep(params.writeMs);
    return { chargeId: `ch_${order}_${process.pid}` };
  };
  const outcomes = {};
  let refused = 0;
  let readsUnchecked = 0;
  let next = 0;
  report({ type: 'ready' });
  await receive();
  await Promise.all(
    Array.from({ length: params.lanes }, async () => {
      for (let order = next++; order < params.orders; order = next++) {
        for (;;) {
          const result = await governor.run({ agent: 'billing' }, async run => {
            const account = await run.tool('kb.read', { order }, async () => 'account');
            return run.tool('payments.charge', { order, account }, charge, { idempotencyKey: `order-${order}` });
          });
          if (result.status === 'ok') {
            outcomes[order] = { output: result.output, at: Date.now() };
            break;
          }
          if (result.stopReason !== 'store_unavailable') {
            const record = await stores.idempotency.inspect(`payments.charge:order-${order}`).catch(e => String(e));
            throw new Error(
              `order ${order}: ${result.stopReason} (${result.detail}) record ${JSON.stringify(record)} now ${Date.now()}`,
            );
          }
          refused++;
          if (result.usage.toolCalls > 0) readsUnchecked++;
          await sleep(25);
        }
      }
    }),
  );
  report({ type: 'done', outcomes, refused, readsUnchecked, warnings, unsettled: stores.idempotency.unsettled });
  await stores.close();
} catch (error) {
  fail(error);
}
