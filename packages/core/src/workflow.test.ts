import { describe, expect, it } from 'vitest';
import type { BoundedEvent } from './events.js';
import { createGovernor } from './governor.js';
import { defineWorkflow } from './workflow.js';

interface Ticket {
  readonly id: string;
  readonly text: string;
}

const policy = {
  mode: {
    default: 'workflow' as const,
    agent_for_exceptions: true,
    agent_budgets: { max_tool_calls: 2, max_steps: 3 },
  },
  budgets: { max_steps: 25, max_tool_calls: 12, max_seconds: 10 },
};

function triage(flaky: { failures: number }) {
  return defineWorkflow<Ticket, string>({
    name: 'triage',
    run: async (wf, ticket) => {
      const category = await wf.step(
        'classify',
        async () => {
          if (flaky.failures-- > 0) throw new Error('classifier timeout');
          return ticket.text.includes('refund') ? 'billing' : ticket.text.includes('???') ? 'unknown' : 'howto';
        },
        { retry: { attempts: 3, backoffMs: 5 } },
      );
      if (category === 'unknown') wf.escalate('could not classify', { category });
      return wf.step('answer', run => run.tool('kb.read', { category }, async () => `article for ${category}`));
    },
    escalate: {
      agent: 'triage-agent',
      budgets: { max_tool_calls: 1 },
      run: async (run, exception) => {
        await run.step();
        const found = await run.tool('search.read', { q: exception.input.text }, async () => 'found by search');
        return `${found} (escalated: ${exception.reason}, step ${exception.step})`;
      },
    },
  });
}

describe('workflows', () => {
  it('the known path is handled by the workflow', async () => {
    const governor = createGovernor({ policy });
    const result = await governor.workflow(triage({ failures: 0 }), { id: 't1', text: 'how do I reset my password' });
    expect(result).toMatchObject({
      status: 'ok',
      output: 'article for howto',
      handledBy: 'workflow',
      mode: 'workflow',
      agent: 'triage',
    });
    expect(result.escalation).toBeUndefined();
    expect(result.usage.steps).toBe(2);
  });

  it('steps retry with backoff and the retries are visible', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({ policy, observers: [{ onEvent: e => void events.push(e) }] });
    const result = await governor.workflow(triage({ failures: 2 }), { id: 't2', text: 'refund please' });
    expect(result).toMatchObject({ status: 'ok', output: 'article for billing', handledBy: 'workflow' });
    const steps = events.filter(e => e.type === 'workflow.step').map(e => `${e.step}#${e.attempt}:${e.outcome}`);
    expect(steps).toEqual(['classify#1:retry', 'classify#2:retry', 'classify#3:ok', 'answer#1:ok']);
  });

  it('an exception goes to the bounded agent, under stricter budgets; the result says so', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({ policy, observers: [{ onEvent: e => void events.push(e) }] });
    const result = await governor.workflow(triage({ failures: 0 }), { id: 't3', text: '??? weird' });
    expect(result).toMatchObject({
      status: 'ok',
      handledBy: 'agent',
      output: 'found by search (escalated: could not classify, step classify)',
      escalation: {
        reason: 'could not classify',
        step: 'classify',
        result: { status: 'ok', agent: 'triage-agent', mode: 'agent' },
      },
    });
    const starts = events.filter(e => e.type === 'run.start');
    expect(starts.map(s => [s.agent, s.mode, s.parentRunId === undefined])).toEqual([
      ['triage', 'workflow', true],
      ['triage-agent', 'agent', false],
    ]);
    // The agent's budgets: the stricter of policy, mode.agent_budgets and the escalation's own.
    expect(starts[1]!.budgets.find(b => b.kind === 'tool_calls')?.limit).toBe(1);
    expect(starts[1]!.budgets.find(b => b.kind === 'steps')?.limit).toBe(3);
    expect(events.at(-1)).toMatchObject({ type: 'run.end', agent: 'triage', handledBy: 'agent' });
  });

  it('the agent works within what the workflow has left of its own run budgets, per-tool limits included', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({
      policy: { ...policy, mode: { ...policy.mode, agent_budgets: { per_tool: { 'search.*': 2 } } } },
      observers: [{ onEvent: e => void events.push(e) }],
    });
    let searches = 0;
    const flow = defineWorkflow<string, string>({
      name: 'lookup',
      run: async wf => {
        await wf.step('first', run => run.tool('kb.read', {}, async () => 'a'));
        return wf.escalate('needs a person');
      },
      escalate: {
        agent: 'lookup-agent',
        run: async run => {
          for (let i = 0; ; i++) await run.tool('search.read', { i }, async () => ++searches);
        },
      },
    });
    const result = await governor.workflow(flow, 'x', { budgets: { max_tool_calls: 10, max_usd: 0.5 } });
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls:search.read' });
    expect(searches).toBe(2);
    const agentStart = events.find(e => e.type === 'run.start' && e.agent === 'lookup-agent');
    const limits = Object.fromEntries(
      (agentStart?.type === 'run.start' ? agentStart.budgets : []).map(b => [b.kind, b.limit]),
    );
    // The workflow had 10 tool calls and used one; its $0.50 cap holds for the agent too.
    expect(limits).toMatchObject({ tool_calls: 9, usd: 0.5 });
  });

  it('a run can tighten the per-tool limits of the policy for itself', async () => {
    const governor = createGovernor({ policy: { budgets: { per_tool: { 'kb.*': 5 } } } });
    let reads = 0;
    const result = await governor.run({ agent: 'a', budgets: { per_tool: { 'kb.search': 2 } } }, async run => {
      for (let i = 0; ; i++) await run.tool('kb.search', { i }, async () => ++reads);
    });
    expect(result).toMatchObject({
      status: 'stopped',
      stopReason: 'max_tool_calls:kb.search',
      detail: 'call 3 of kb.search exceeds its limit of 2',
    });
    expect(reads).toBe(2);
  });

  it('a step that keeps failing escalates with the error', async () => {
    const governor = createGovernor({ policy });
    const result = await governor.workflow(triage({ failures: 5 }), { id: 't4', text: 'refund' });
    expect(result).toMatchObject({ status: 'ok', handledBy: 'agent' });
    expect(result.escalation?.reason).toBe('step "classify" failed after 3 attempts: classifier timeout');
  });

  it('when the agent is stopped, the workflow is stopped with its reason', async () => {
    const governor = createGovernor({ policy });
    const greedy = defineWorkflow<string, string>({
      name: 'greedy',
      run: wf => wf.escalate('always'),
      escalate: {
        agent: 'greedy-agent',
        run: async run => {
          for (let i = 0; ; i++) await run.tool('search.read', { i }, async () => i);
        },
      },
    });
    const result = await governor.workflow(greedy, 'x');
    expect(result).toMatchObject({
      status: 'stopped',
      stopReason: 'max_tool_calls',
      handledBy: 'agent',
      detail: 'escalation agent greedy-agent: call 3 exceeds max_tool_calls 2',
    });
  });

  it('without agent_for_exceptions an exception stops the workflow with a clear error', async () => {
    const governor = createGovernor({
      policy: { ...policy, mode: { default: 'workflow', agent_for_exceptions: false } },
    });
    const result = await governor.workflow(triage({ failures: 0 }), { id: 't5', text: '???' });
    expect(result).toMatchObject({
      status: 'stopped',
      stopReason: 'error',
      handledBy: 'workflow',
      detail:
        'BoundedError: could not classify; cannot escalate: the policy does not allow it (mode.agent_for_exceptions: false)',
    });
  });

  it('workflow steps count against max_steps and stop the workflow', async () => {
    const governor = createGovernor({ policy: { budgets: { max_steps: 2 } } });
    const long = defineWorkflow<null, number>({
      name: 'long',
      run: async wf => {
        let n = 0;
        for (let i = 0; i < 5; i++) n += await wf.step(`s${i}`, () => 1);
        return n;
      },
    });
    expect(await governor.workflow(long, null)).toMatchObject({
      status: 'stopped',
      stopReason: 'max_steps',
      usage: { steps: 2 },
    });
  });
});
