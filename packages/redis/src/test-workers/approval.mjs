// A process whose write waits for a person: it reports every decision it refused, then how its run ended.
import { createGovernor } from '@bounded/core';
import { redisApprovals } from '@bounded/redis';
import { fail, params, receive, report } from './protocol.mjs';

try {
  const approvals = await redisApprovals({ url: params.url, prefix: params.prefix, secret: params.secret, pollMs: 50 });
  const refused = [];
  approvals.onRefused(r => refused.push(r.reason));
  const governor = createGovernor({
    policy: { writes: { tools: ['payments.*'], approval_timeout_seconds: 30 } },
    approver: approvals,
  });
  let executions = 0;
  report({ type: 'ready' });
  await receive();
  const result = await governor.run({ agent: 'billing' }, run =>
    run.tool('payments.refund', { order: 'o-7', cents: 990 }, async () => ++executions),
  );
  report({
    type: 'done',
    status: result.status,
    output: result.output,
    stopReason: result.stopReason,
    refused,
    executions,
  });
  await approvals.close();
} catch (error) {
  fail(error);
}
