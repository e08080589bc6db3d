import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ApprovalQueue, callbackApprover, rulesApprover } from './approvals.js';
import type { BoundedEvent } from './events.js';
import { createGovernor } from './governor.js';

const policy = {
  tools: { allow: ['kb.read', 'crm.update', 'payments.refund'] },
  writes: { tools: ['crm.*', 'payments.*'], approval_timeout_seconds: 2 },
};

function collect() {
  const events: BoundedEvent[] = [];
  return { events, observer: { onEvent: (e: BoundedEvent) => void events.push(e) } };
}

describe('writes and approvals', () => {
  it('a write waits in the queue until a person approves it; the decision records who', async () => {
    const queue = new ApprovalQueue();
    const { events, observer } = collect();
    const governor = createGovernor({ policy, approver: queue, observers: [observer] });
    const notified: string[] = [];
    queue.onRequest(pending => notified.push(`${pending.tool} for ${pending.agent}`));
    let executions = 0;
    const running = governor.run({ agent: 'support', tenant: 'acme' }, run =>
      run.tool('crm.update', { id: 7, status: 'vip' }, async () => ++executions),
    );
    await sleep(10);
    const [pending] = queue.pending();
    expect(pending).toMatchObject({
      tool: 'crm.update',
      agent: 'support',
      tenant: 'acme',
      args: { id: 7, status: 'vip' },
    });
    expect(executions).toBe(0);
    expect(queue.approve(pending!.id, { by: 'alice@example.com' })).toBe(true);
    const result = await running;
    expect(result).toMatchObject({ status: 'ok', output: 1, usage: { decisions: { approved: 1 } } });
    expect(notified).toEqual(['crm.update for support']);
    expect(queue.pending()).toEqual([]);
    expect(events.find(e => e.type === 'approval.decided')).toMatchObject({
      approved: true,
      by: 'alice@example.com',
      timedOut: false,
    });
    expect(events.find(e => e.type === 'tool.decision')).toMatchObject({
      decision: 'approved',
      approvedBy: 'alice@example.com',
      rule: 'writes.require_approval',
    });
  });

  it('a rejection stops the run before the write runs, naming who rejected and why', async () => {
    const queue = new ApprovalQueue();
    const governor = createGovernor({ policy, approver: queue });
    let executions = 0;
    const running = governor.run({ agent: 'support' }, run =>
      run.tool('crm.update', { id: 7 }, async () => ++executions),
    );
    await sleep(5);
    queue.reject(queue.pending()[0]!.id, { by: 'bob', reason: 'customer not verified' });
    expect(await running).toMatchObject({
      status: 'stopped',
      stopReason: 'approval_rejected:crm.update',
      detail: 'rejected by bob: customer not verified',
      usage: { decisions: { rejected: 1 } },
    });
    expect(executions).toBe(0);
  });

  it('an unanswered request times out and leaves the queue', async () => {
    const queue = new ApprovalQueue();
    const governor = createGovernor({
      policy: { ...policy, writes: { ...policy.writes, approval_timeout_seconds: 0.05 } },
      approver: queue,
    });
    const result = await governor.run({ agent: 'support' }, run => run.tool('crm.update', { id: 1 }, async () => 1));
    expect(result).toMatchObject({ stopReason: 'approval_timeout:crm.update', detail: 'no decision within 0.05s' });
    expect(queue.pending()).toEqual([]);
    expect(queue.approve('whatever', { by: 'late' })).toBe(false);
  });

  it('an approval may wait longer than a timer holds (a month): it does not time out at once', async () => {
    const queue = new ApprovalQueue();
    const governor = createGovernor({
      policy: { ...policy, writes: { ...policy.writes, approval_timeout_seconds: 30 * 24 * 3600 } },
      approver: queue,
    });
    const running = governor.run({ agent: 'support' }, run => run.tool('crm.update', { id: 1 }, async () => 'updated'));
    await sleep(20);
    const [pending] = queue.pending();
    expect(pending).toBeDefined();
    queue.approve(pending!.id, { by: 'alice' });
    await expect(running).resolves.toMatchObject({ status: 'ok', output: 'updated' });
  });

  it('rules approve small refunds and hand the rest to a person', async () => {
    const queue = new ApprovalQueue();
    const approver = rulesApprover({
      rules: [
        {
          name: 'small-refunds',
          tool: 'payments.refund',
          when: args => (args as { amount: number }).amount <= 50,
          decision: 'approve',
        },
        { name: 'no-deletes', tool: 'crm.delete*', decision: 'reject', reason: 'deletes are never automated' },
      ],
      otherwise: queue,
    });
    const { events, observer } = collect();
    const governor = createGovernor({ policy, approver, observers: [observer] });
    const small = await governor.run({ agent: 'billing' }, run =>
      run.tool('payments.refund', { amount: 20 }, async () => 'refunded'),
    );
    expect(small).toMatchObject({ status: 'ok', output: 'refunded' });
    expect(events.find(e => e.type === 'tool.decision')).toMatchObject({ approvedBy: 'rule:small-refunds' });
    const big = governor.run({ agent: 'billing' }, run =>
      run.tool('payments.refund', { amount: 900 }, async () => 'refunded'),
    );
    await sleep(5);
    expect(queue.pending()).toHaveLength(1);
    queue.approve(queue.pending()[0]!.id, { by: 'carol' });
    expect(await big).toMatchObject({ status: 'ok' });
  });

  it('policy auto_approve rules approve without asking anyone', async () => {
    const asked: string[] = [];
    const governor = createGovernor({
      policy: {
        ...policy,
        writes: {
          ...policy.writes,
          auto_approve: [{ tool: 'payments.refund', when: { amount: { lte: 50 }, currency: { in: ['USD', 'EUR'] } } }],
        },
      },
      approver: callbackApprover(request => {
        asked.push(String((request.args as { amount: number }).amount));
        return false;
      }),
    });
    const run = (amount: number, currency: string) =>
      governor.run({ agent: 'billing' }, r => r.tool('payments.refund', { amount, currency }, async () => 'ok'));
    expect(await run(50, 'USD')).toMatchObject({ status: 'ok' });
    expect(await run(51, 'USD')).toMatchObject({ stopReason: 'approval_rejected:payments.refund' });
    expect(await run(10, 'GBP')).toMatchObject({ stopReason: 'approval_rejected:payments.refund' });
    expect(asked).toEqual(['51', '10']);
  });

  it('without an approver a write is refused, and the detail says how to fix it', async () => {
    const governor = createGovernor({ policy });
    const result = await governor.run({ agent: 'a' }, run => run.tool('crm.update', {}, async () => 1));
    expect(result).toMatchObject({
      stopReason: 'approval_rejected:crm.update',
      detail: expect.stringContaining('pass `approver` to createGovernor'),
    });
  });

  it('an approver that throws cannot approve', async () => {
    const governor = createGovernor({
      policy,
      approver: callbackApprover(
        () => {
          throw new Error('approval service down');
        },
        { name: 'ops-service' },
      ),
    });
    const result = await governor.run({ agent: 'a' }, run => run.tool('crm.update', {}, async () => 1));
    expect(result).toMatchObject({
      stopReason: 'approval_rejected:crm.update',
      detail: 'rejected by ops-service: approver failed: Error: approval service down',
    });
  });

  it('writes run without approval when the policy says so', async () => {
    const governor = createGovernor({ policy: { ...policy, writes: { ...policy.writes, require_approval: false } } });
    const result = await governor.run({ agent: 'a' }, run => run.tool('crm.update', {}, async () => 'done'));
    expect(result).toMatchObject({ status: 'ok', output: 'done' });
  });

  it('a run stopped while waiting for approval leaves the queue clean', async () => {
    const queue = new ApprovalQueue();
    const governor = createGovernor({ policy: { ...policy, budgets: { max_seconds: 0.05 } }, approver: queue });
    const result = await governor.run({ agent: 'a' }, run => run.tool('crm.update', {}, async () => 1));
    expect(result).toMatchObject({ stopReason: 'max_seconds' });
    expect(queue.pending()).toEqual([]);
  });
});
