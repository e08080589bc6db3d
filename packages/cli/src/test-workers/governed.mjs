// A process that runs governed runs against Redis, told what to do on stdin, reporting on stdout (one JSON a line).
// The test process throws the kill switch and decides approvals from the CLI; this process only sees Redis.
import { createInterface } from 'node:readline';
import { createGovernor } from '@bounded/core';
import { redisApprovals, redisStores } from '@bounded/redis';

const params = JSON.parse(process.argv[2]);
const report = message => process.stdout.write(`${JSON.stringify(message)}\n`);
const stores = await redisStores({ url: params.url, prefix: params.prefix });
const approvals = await redisApprovals({ url: params.url, prefix: params.prefix, secret: params.secret });
approvals.onRequest(pending => report({ type: 'requested', id: pending.id, tool: pending.tool }));
const executed = [];
const governor = createGovernor({
  policy: {
    tools: { allow: ['http.get', 'crm.update'] },
    writes: { tools: ['crm.*'], require_approval: true, approval_timeout_seconds: 30 },
  },
  stores,
  approver: approvals,
});

const hang = (_args, ctx) =>
  new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))));
const write = async args => {
  executed.push(args);
  return { updated: args.customer };
};

let writes = 0;
async function run(kind) {
  const result = await governor.run({ agent: params.agent }, async run => {
    report({ type: 'running', runId: run.id, kind });
    if (kind === 'hang') return run.tool('http.get', { url: 'https://status.internal' }, hang);
    // Each write is a new one (the same arguments twice would be deduplicated, not asked again).
    if (kind === 'write') return run.tool('crm.update', { customer: 'cus_1', plan: 'priority', n: ++writes }, write);
    return 'quick';
  });
  report({
    type: 'result',
    kind,
    status: result.status,
    stopReason: result.stopReason ?? null,
    detail: result.detail ?? null,
    executed: executed.length,
  });
}

report({ type: 'ready', pid: process.pid });
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  if (command.do === 'exit') break;
  await run(command.do);
}
governor.close();
await approvals.close();
await stores.close();
process.exit(0);
