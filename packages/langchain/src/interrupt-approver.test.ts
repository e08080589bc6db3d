import { type BoundedEvent, createGovernor, type RunResult } from '@bounded/core';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent } from 'langchain';
import { describe, expect, it } from 'vitest';
import { decisionOf, interruptApprover } from './interrupt-approver.js';
import { boundedRun } from './messages.js';
import { boundedMiddleware } from './middleware.js';
import { answer, call, deskTools, type Mode, question, runAgent, scripted } from './test-utils/agents.js';

function desk(timeoutSeconds = 300) {
  const events: BoundedEvent[] = [];
  const results: RunResult<unknown>[] = [];
  const governor = createGovernor({
    policy: {
      tools: { allow: ['kb_*', 'crm_update'] },
      writes: { tools: ['crm_*'], require_approval: true, approval_timeout_seconds: timeoutSeconds },
    },
    approver: interruptApprover(),
    observers: [{ onEvent: e => void events.push(e) }],
  });
  const { tools, ran } = deskTools();
  const model = scripted(call('crm_update', { customer: 'acme', plan: 'enterprise' }, 'upgrade-1'), answer('Done.'));
  const agent = createAgent({
    model,
    tools,
    checkpointer: new MemorySaver(),
    middleware: [boundedMiddleware(governor, { onRunEnd: r => results.push(r) })],
  });
  return { governor, agent, ran, events, results };
}

interface Interrupted {
  __interrupt__?: Array<{ value: unknown }>;
}

describe.each<Mode>(['invoke', 'stream'])("approvals through LangGraph's interrupt and resume (%s)", mode => {
  it('pauses a write with a human-in-the-loop request, and runs it once approved', async () => {
    const s = desk();
    const config = { configurable: { thread_id: `approve-${mode}` } };
    const paused = (await s.agent.invoke(question('Upgrade acme'), config)) as Interrupted & {
      bounded?: unknown;
    };
    expect(paused.__interrupt__?.[0]?.value).toMatchObject({
      actionRequests: [{ name: 'crm_update', args: { customer: 'acme', plan: 'enterprise' } }],
      reviewConfigs: [{ actionName: 'crm_update', allowedDecisions: ['approve', 'reject'] }],
      bounded: { tool: 'crm_update', callId: 'upgrade-1', agent: 'agent' },
    });
    expect(s.ran.crm_update).toBe(0);
    // The paused invocation's run has ended (no timer left behind); its tool call says it was interrupted.
    expect(s.results).toHaveLength(1);
    expect(s.results[0]).toMatchObject({ status: 'ok' });
    expect(s.events.find(e => e.type === 'tool.end')).toMatchObject({ outcome: 'interrupted' });
    expect(s.governor.stats().runsActive).toBe(0);

    const resumed = await runAgent(
      s.agent,
      mode,
      new Command({ resume: { decisions: [{ type: 'approve' }] } }),
      config,
    );
    expect(s.ran.crm_update).toBe(1);
    expect(boundedRun(resumed)).toMatchObject({ status: 'ok' });
    expect(String(resumed.messages.at(-1)?.content)).toBe('Done.');
    expect(s.events.find(e => e.type === 'approval.decided')).toMatchObject({ approved: true, by: 'human' });
    expect(s.governor.stats().runsActive).toBe(0);
  });

  it('stops the run as approval_rejected when the human rejects, with their message', async () => {
    const s = desk();
    const config = { configurable: { thread_id: `reject-${mode}` } };
    await s.agent.invoke(question('Upgrade acme'), config);
    const resume = new Command({ resume: { decisions: [{ type: 'reject', message: 'not without a contract' }] } });
    const resumed = await runAgent(s.agent, mode, resume, config);
    expect(boundedRun(resumed)).toMatchObject({ status: 'stopped', stopReason: 'approval_rejected:crm_update' });
    expect(boundedRun(resumed)?.detail).toMatch(/not without a contract/);
    expect(s.ran.crm_update).toBe(0);
  });

  it('refuses a resume that comes after the approval expired', async () => {
    const s = desk(0.05);
    const config = { configurable: { thread_id: `late-${mode}` } };
    await s.agent.invoke(question('Upgrade acme'), config);
    await new Promise(resolve => setTimeout(resolve, 80));
    const resumed = await runAgent(s.agent, mode, new Command({ resume: true }), config);
    expect(boundedRun(resumed)?.stopReason).toBe('approval_rejected:crm_update');
    expect(boundedRun(resumed)?.detail).toMatch(/expired/);
    expect(s.ran.crm_update).toBe(0);
  });
});

describe('approvals on several threads at once', () => {
  it("keeps each thread's deadline: another thread resuming the same call id does not refresh it", async () => {
    const governor = createGovernor({
      policy: {
        tools: { allow: ['kb_*', 'crm_update'] },
        writes: { tools: ['crm_*'], require_approval: true, approval_timeout_seconds: 0.05 },
      },
      approver: interruptApprover(),
    });
    const { tools, ran } = deskTools();
    // Two agents whose models use the same call id, as providers numbering their calls per response do.
    const agentOn = (customer: string) =>
      createAgent({
        model: scripted(call('crm_update', { customer, plan: 'pro' }, 'call_1'), answer('Done.')),
        tools,
        checkpointer: new MemorySaver(),
        middleware: [boundedMiddleware(governor)],
      });
    const [a, b] = [agentOn('acme'), agentOn('globex')];
    const threadA = { configurable: { thread_id: 'thread-a' } };
    const threadB = { configurable: { thread_id: 'thread-b' } };
    await a.invoke(question('Upgrade acme'), threadA);
    await new Promise(resolve => setTimeout(resolve, 80));
    // Thread B asks and is approved in time.
    await b.invoke(question('Upgrade globex'), threadB);
    const approvedB = await b.invoke(new Command({ resume: true }), threadB);
    expect(boundedRun(approvedB)).toMatchObject({ status: 'ok' });
    expect(ran.crm_update).toBe(1);
    // Thread A's approval expired before B's came and went: A's late resume is still refused.
    const lateA = await a.invoke(new Command({ resume: true }), threadA);
    expect(boundedRun(lateA)).toMatchObject({ status: 'stopped', stopReason: 'approval_rejected:crm_update' });
    expect(boundedRun(lateA)?.detail).toMatch(/expired/);
    expect(ran.crm_update).toBe(1);
  });
});

describe('resume values', () => {
  it('reads booleans, decisions and human-in-the-loop responses; anything else refuses', () => {
    expect(decisionOf(true, 'human')).toEqual({ approved: true, by: 'human' });
    expect(decisionOf({ approved: false, by: 'alice', reason: 'no' }, 'human')).toEqual({
      approved: false,
      by: 'alice',
      reason: 'no',
    });
    expect(decisionOf({ decisions: [{ type: 'approve' }] }, 'human')).toEqual({ approved: true, by: 'human' });
    expect(decisionOf({ type: 'reject', message: 'no' }, 'human')).toEqual({
      approved: false,
      by: 'human',
      reason: 'no',
    });
    expect(decisionOf({ decisions: [{ type: 'edit' }] }, 'human').approved).toBe(false);
    expect(decisionOf('yes', 'human')).toMatchObject({ approved: false, reason: /unreadable/ });
    expect(decisionOf(null, 'human').approved).toBe(false);
  });

  it('refuses loudly outside a graph', async () => {
    const governor = createGovernor({
      policy: { writes: { tools: ['crm_*'] } },
      approver: interruptApprover(),
    });
    const result = await governor.run({ agent: 'a' }, run => run.tool('crm_update', {}, () => 'ran'));
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'approval_rejected:crm_update' });
    if (result.status === 'stopped') expect(result.detail).toMatch(/outside the context of a graph/);
  });
});

describe('thread budgets across a turn paused for approval', () => {
  it("count the paused turn's steps and tool calls in the thread's totals", async () => {
    const governor = createGovernor({
      policy: {
        tools: { allow: ['kb_*', 'crm_update'] },
        writes: { tools: ['crm_*'], require_approval: true },
      },
      approver: interruptApprover(),
    });
    const { tools, ran } = deskTools();
    const model = scripted(
      call('kb_search', { query: 'a' }),
      call('kb_search', { query: 'b' }),
      call('crm_update', { customer: 'acme', plan: 'enterprise' }, 'upgrade-1'),
      call('kb_search', { query: 'c' }),
      answer('Done.'),
    );
    const agent = createAgent({
      model,
      tools,
      checkpointer: new MemorySaver(),
      middleware: [boundedMiddleware(governor, { thread: { budgets: { max_tool_calls: 3 } } })],
    });
    const config = { configurable: { thread_id: 'paused-thread' } };
    await agent.invoke(question('Upgrade acme'), config);
    expect(ran.kb_search).toBe(2);
    const resumed = await agent.invoke(new Command({ resume: { decisions: [{ type: 'approve' }] } }), config);
    // Two searches and the write used the thread's three calls: the third search is refused.
    expect(ran.crm_update).toBe(1);
    expect(ran.kb_search).toBe(2);
    expect(boundedRun(resumed)).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    expect(governor.stats().runsActive).toBe(0);
  });
});
