import { type BoundedEvent, createGovernor, type PolicyInput, type RunResult, UsageError } from '@bounded/core';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { Command, isCommand, MemorySaver, RunControl } from '@langchain/langgraph';
import { createAgent, humanInTheLoopMiddleware, tool, toolStrategy } from 'langchain';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AgentStoppedError } from './errors.js';
import { boundedRun, replayedToolMessage } from './messages.js';
import { boundedMiddleware } from './middleware.js';
import { answer, call, calls, deskTools, question, scripted } from './test-utils/agents.js';

const DESK: PolicyInput = {
  tools: { allow: ['kb_*', 'crm_update', 'slow_lookup', 'notify'] },
  writes: { tools: ['crm_*'], require_approval: false },
};

describe('boundedMiddleware', () => {
  it('refuses one call and goes on under tools.on_refusal: continue; the model reads why', async () => {
    const { tools, ran } = deskTools();
    const model = scripted(call('admin_delete_user', { user: 'ceo' }), answer('I cannot do that.'));
    const governor = createGovernor({ policy: { ...DESK, tools: { ...DESK.tools, on_refusal: 'continue' } } });
    const agent = createAgent({ model, tools, middleware: [boundedMiddleware(governor)] });
    const state = await agent.invoke(question());
    expect(boundedRun(state)).toMatchObject({ status: 'ok' });
    expect(ran.admin_delete_user).toBe(0);
    const refusal = state.messages[2] as ToolMessage;
    expect(refusal.status).toBe('error');
    expect(String(refusal.content)).toMatch(
      /^Refused by policy \(tool_denied:admin_delete_user\): .*not on the allow list/,
    );
    expect(String(model.calls[1]?.messages.at(-1)?.content)).toBe(String(refusal.content));
  });

  it("throws AgentStoppedError with exitBehavior: 'error', after ending the run", async () => {
    const { tools, ran } = deskTools();
    const results: RunResult<unknown>[] = [];
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_tool_calls: 1 } } });
    const model = scripted(call('kb_search', { query: 'a' }), call('kb_search', { query: 'b' }), answer('never'));
    const agent = createAgent({
      model,
      tools,
      middleware: [boundedMiddleware(governor, { exitBehavior: 'error', onRunEnd: r => results.push(r) })],
    });
    const error = await agent.invoke(question()).catch((e: unknown) => e);
    const stopped = AgentStoppedError.find(error);
    expect(stopped).toBeInstanceOf(AgentStoppedError);
    expect(stopped).toMatchObject({ code: 'AGENT_STOPPED', reason: 'max_tool_calls' });
    expect(stopped?.result.usage.toolCalls).toBe(1);
    expect(ran.kb_search).toBe(1);
    expect(results.map(r => r.status)).toEqual(['stopped']);
    expect(governor.stats().runsActive).toBe(0);
  });

  it('keeps parallel invocations in separate runs with separate budgets', async () => {
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_tool_calls: 2 } } });
    const middleware = boundedMiddleware(governor);
    const agents = [0, 1, 2].map(() => {
      const { tools } = deskTools();
      const model = scripted(
        calls([
          ['kb_search', { query: 'a' }],
          ['kb_read', { id: 1 }],
        ]),
        answer('done'),
      );
      return createAgent({ model, tools, middleware: [middleware] });
    });
    const states = await Promise.all(agents.map(agent => agent.invoke(question())));
    expect(states.map(s => boundedRun(s)?.status)).toEqual(['ok', 'ok', 'ok']);
    expect(new Set(states.map(s => boundedRun(s)?.runId)).size).toBe(3);
    expect(states.map(s => boundedRun(s)?.usage.toolCalls)).toEqual([2, 2, 2]);
    expect(governor.stats()).toMatchObject({ runsStarted: 3, runsActive: 0 });
  });

  it('gives one agent used for many invocations a run for each', async () => {
    const governor = createGovernor({ policy: DESK });
    const { tools, ran } = deskTools();
    const model = scripted(
      call('kb_search', { query: 'a' }),
      answer('one'),
      call('kb_search', { query: 'b' }),
      answer('two'),
    );
    const agent = createAgent({ model, tools, middleware: [boundedMiddleware(governor)] });
    const first = await agent.invoke(question());
    const second = await agent.invoke(question());
    expect(boundedRun(first)?.runId).not.toBe(boundedRun(second)?.runId);
    expect([boundedRun(first)?.usage.steps, boundedRun(second)?.usage.steps]).toEqual([2, 2]);
    expect(ran.kb_search).toBe(2);
  });

  it('starts afresh after a stop, even when the caller reuses one RunControl for several invocations', async () => {
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_tool_calls: 1 } } });
    const { tools, ran } = deskTools();
    const model = scripted(call('kb_search', { query: 'a' }), call('kb_search', { query: 'b' }), answer('fresh'));
    const agent = createAgent({ model, tools, middleware: [boundedMiddleware(governor)] });
    // createAgent's config type does not list LangGraph's `control`, but passes it on.
    const reused = { control: new RunControl() } as never;
    const first = await agent.invoke(question(), reused);
    const second = await agent.invoke(question(), reused);
    expect(boundedRun(first)).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    expect(boundedRun(second)).toMatchObject({ status: 'ok', usage: { steps: 1 } });
    expect(ran.kb_search).toBe(1);
  });

  it('turns a tool error into a message for the model, as LangChain does, and counts it as a failure', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({ policy: DESK, observers: [{ onEvent: e => void events.push(e) }] });
    let attempts = 0;
    const flaky = tool(
      async () => {
        attempts++;
        throw new Error('CRM is down');
      },
      { name: 'kb_flaky', description: 'fails', schema: z.object({}) },
    );
    const model = scripted(call('kb_flaky', {}), answer('The CRM is down, try later.'));
    const agent = createAgent({ model, tools: [flaky], middleware: [boundedMiddleware(governor)] });
    const state = await agent.invoke(question());
    expect(boundedRun(state)).toMatchObject({ status: 'ok' });
    expect(attempts).toBe(1);
    const failed = state.messages[2] as ToolMessage;
    expect(failed.status).toBe('error');
    expect(String(failed.content)).toBe('Error: CRM is down\n Please fix your mistakes.');
    expect(events.find(e => e.type === 'tool.end')).toMatchObject({ outcome: 'error' });
  });

  it('lets a tool error fail the invocation with handleToolErrors: false, ending the run with it', async () => {
    const results: RunResult<unknown>[] = [];
    const governor = createGovernor({ policy: DESK });
    const broken = tool(
      async () => {
        throw new Error('CRM is down');
      },
      { name: 'kb_broken', description: 'fails', schema: z.object({}) },
    );
    const agent = createAgent({
      model: scripted(call('kb_broken', {}), answer('never')),
      tools: [broken],
      middleware: [boundedMiddleware(governor, { handleToolErrors: false, onRunEnd: r => results.push(r) })],
    });
    await expect(agent.invoke(question())).rejects.toThrow(/CRM is down/);
    expect(results[0]).toMatchObject({ status: 'stopped', stopReason: 'error', detail: 'Error: CRM is down' });
  });

  it('replays an idempotent write to the model under the new call id; the body runs once', async () => {
    const { tools, ran } = deskTools();
    const governor = createGovernor({ policy: DESK });
    const upgrade = { customer: 'acme', plan: 'enterprise' };
    const model = scripted(
      call('crm_update', upgrade, 'first'),
      call('crm_update', upgrade, 'retry'),
      answer('Upgraded (once).'),
    );
    const agent = createAgent({ model, tools, middleware: [boundedMiddleware(governor)] });
    const state = await agent.invoke(question());
    expect(ran.crm_update).toBe(1);
    const replies = state.messages.filter(m => ToolMessage.isInstance(m)) as ToolMessage[];
    expect(replies.map(m => [m.tool_call_id, m.content])).toEqual([
      ['first', 'acme is now on enterprise'],
      ['retry', 'acme is now on enterprise'],
    ]);
    expect(boundedRun(state)?.usage).toMatchObject({ toolCalls: 2 });
  });

  it('ends the run on a structured response and keeps it', async () => {
    const governor = createGovernor({ policy: DESK });
    const { tools } = deskTools();
    const Ticket = z.object({ topic: z.string(), urgent: z.boolean() }).meta({ title: 'Ticket' });
    const model = scripted(
      call('kb_search', { query: 'outage' }),
      calls([['Ticket', { topic: 'outage', urgent: true }]]),
    );
    const agent = createAgent({
      model,
      tools,
      responseFormat: toolStrategy(Ticket),
      middleware: [boundedMiddleware(governor)],
    });
    const state = await agent.invoke(question('The site is down!'));
    expect(state.structuredResponse).toEqual({ topic: 'outage', urgent: true });
    expect(boundedRun(state)).toMatchObject({ status: 'ok', usage: { steps: 2, toolCalls: 1 } });
    expect(state.messages.map(m => m.getType())).toEqual(['human', 'ai', 'tool', 'ai', 'tool', 'ai']);
  });

  it('ends the run at a return-direct tool', async () => {
    const results: RunResult<unknown>[] = [];
    const governor = createGovernor({ policy: DESK });
    const notify = tool(async ({ text }) => `sent: ${text}`, {
      name: 'notify',
      description: 'Tell the customer and finish',
      schema: z.object({ text: z.string() }),
      returnDirect: true,
    });
    const model = scripted(call('notify', { text: 'fixed' }), answer('never'));
    const agent = createAgent({
      model,
      tools: [notify],
      middleware: [boundedMiddleware(governor, { onRunEnd: r => results.push(r) })],
    });
    const state = await agent.invoke(question());
    expect(String(state.messages.at(-1)?.content)).toBe('sent: fixed');
    expect(boundedRun(state)).toMatchObject({ status: 'ok', usage: { steps: 1, toolCalls: 1 } });
    expect(results).toHaveLength(1);
    expect(model.callCount).toBe(1);
  });

  it('takes the tenant, budgets and metadata of a run from the invocation context', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({ policy: DESK, observers: [{ onEvent: e => void events.push(e) }] });
    const { tools } = deskTools();
    const model = scripted(call('kb_search', { query: 'a' }), call('kb_search', { query: 'b' }), answer('never'));
    const agent = createAgent({
      model,
      tools,
      contextSchema: z.object({ tenant: z.string(), plan: z.enum(['free', 'pro']) }),
      middleware: [
        boundedMiddleware(governor, {
          agent: 'support',
          runOptions: ({ context }) => {
            const { tenant, plan } = context as { tenant: string; plan: string };
            return { tenant, budgets: plan === 'free' ? { max_tool_calls: 1 } : {}, metadata: { plan } };
          },
        }),
      ],
    });
    const state = await agent.invoke(question(), { context: { tenant: 'acme', plan: 'free' } });
    expect(boundedRun(state)).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    expect(events.find(e => e.type === 'run.start')).toMatchObject({
      agent: 'support',
      tenant: 'acme',
      metadata: { plan: 'free' },
    });
  });

  it('maps LangChain tool names to the policy names', async () => {
    const governor = createGovernor({ policy: { tools: { allow: ['kb.*'] } } });
    const { tools, ran } = deskTools();
    const model = scripted(call('kb_search', { query: 'a' }), call('crm_update', { customer: 'a', plan: 'b' }));
    const agent = createAgent({
      model,
      tools,
      middleware: [boundedMiddleware(governor, { toolName: name => name.replace('_', '.') })],
    });
    const state = await agent.invoke(question());
    expect(boundedRun(state)).toMatchObject({ status: 'stopped', stopReason: 'tool_denied:crm.update' });
    expect(ran).toMatchObject({ kb_search: 1, crm_update: 0 });
  });

  it("ends a run paused by another middleware's interrupt at its deadline, so nothing is left open", async () => {
    const results: RunResult<unknown>[] = [];
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_seconds: 0.5 } } });
    const { tools, ran } = deskTools();
    const agent = createAgent({
      model: scripted(call('kb_search', { query: 'a' })),
      tools,
      checkpointer: new MemorySaver(),
      middleware: [
        boundedMiddleware(governor, { onRunEnd: r => results.push(r) }),
        humanInTheLoopMiddleware({ interruptOn: { kb_search: true } }),
      ],
    });
    const paused = await agent.invoke(question(), { configurable: { thread_id: 'hitl' } });
    expect(paused.__interrupt__).toHaveLength(1);
    expect(governor.stats().runsActive).toBe(1);
    await new Promise(resolve => setTimeout(resolve, 800));
    expect(governor.stats().runsActive).toBe(0);
    expect(results[0]).toMatchObject({ status: 'stopped', stopReason: 'max_seconds', usage: { steps: 1 } });
    expect(ran.kb_search).toBe(0);
  });

  it('says what it needs when given no governor', () => {
    expect(() => boundedMiddleware(undefined as never)).toThrow(UsageError);
  });
});

describe('budgets across the turns of a thread', () => {
  function chat(threadBudgets: { max_tool_calls?: number; max_tokens?: number }, ...turns: ReturnType<typeof call>[]) {
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_tool_calls: 10 } } });
    const { tools, ran } = deskTools();
    const agent = createAgent({
      model: scripted(...turns),
      tools,
      checkpointer: new MemorySaver(),
      middleware: [boundedMiddleware(governor, { thread: { budgets: threadBudgets } })],
    });
    return { agent, ran };
  }

  it("gives each turn what the thread has left, and keeps the totals in the thread's state", async () => {
    const { agent, ran } = chat(
      { max_tool_calls: 3 },
      call('kb_search', { query: 'a' }),
      call('kb_search', { query: 'b' }),
      answer('first answer'),
      call('kb_search', { query: 'c' }),
      call('kb_search', { query: 'd' }),
      answer('other thread'),
    );
    const config = { configurable: { thread_id: 'chat-1' } };
    const first = await agent.invoke(question('hi'), config);
    expect(boundedRun(first)).toMatchObject({ status: 'ok', thread: { runs: 1, toolCalls: 2, steps: 3 } });
    const second = await agent.invoke({ messages: [new HumanMessage('and more?')] }, config);
    expect(boundedRun(second)).toMatchObject({
      status: 'stopped',
      stopReason: 'max_tool_calls',
      thread: { runs: 2, toolCalls: 3 },
    });
    expect(boundedRun(second)?.detail).toMatch(/the thread's max_tool_calls is 3 and earlier turns used 2/);
    expect(ran.kb_search).toBe(3);
    // Another thread starts with the whole budget.
    const other = await agent.invoke(question(), { configurable: { thread_id: 'chat-2' } });
    expect(boundedRun(other)).toMatchObject({ status: 'ok', thread: { runs: 1, toolCalls: 0 } });
  });
});

describe('invocations that end abruptly', () => {
  const oneAtATime: PolicyInput = { ...DESK, limits: { per_agent: { runs_in_flight: 1 } } };

  it("ends the run as killed when the caller aborts, so the agent's next invocation is not turned away", async () => {
    const governor = createGovernor({ policy: oneAtATime });
    const { tools } = deskTools({ slowMs: 5_000 });
    const agent = createAgent({
      model: scripted(call('slow_lookup', { id: 'A1' }), answer('done'), answer('done again')),
      tools,
      middleware: [boundedMiddleware(governor)],
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await expect(agent.invoke(question(), { signal: controller.signal })).rejects.toThrow();
    await new Promise(resolve => setTimeout(resolve, 10));
    expect(governor.stats().runsActive).toBe(0);
    const next = await agent.invoke(question());
    expect(boundedRun(next)).toMatchObject({ status: 'ok' });
  });

  it('aborts the running tool itself at the deadline: it sees the abort on its own signal', async () => {
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_seconds: 0.1 } } });
    let aborted = false;
    const waits = tool(
      (_input, config) =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => resolve('finished anyway'), 5_000);
          config?.signal?.addEventListener('abort', () => {
            aborted = true;
            clearTimeout(timer);
            reject(new Error('aborted'));
          });
        }),
      { name: 'kb_search', description: 'Search, slowly', schema: z.object({ query: z.string() }) },
    );
    const agent = createAgent({
      model: scripted(call('kb_search', { query: 'a' }), answer('never')),
      tools: [waits],
      middleware: [boundedMiddleware(governor)],
    });
    const started = performance.now();
    const state = await agent.invoke(question());
    expect(boundedRun(state)).toMatchObject({ status: 'stopped', stopReason: 'max_seconds' });
    expect(aborted).toBe(true);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('ends the run when the caller stops reading the stream', async () => {
    const results: RunResult<unknown>[] = [];
    const governor = createGovernor({ policy: oneAtATime });
    const { tools } = deskTools({ slowMs: 200 });
    const agent = createAgent({
      model: scripted(call('slow_lookup', { id: 'A1' }), answer('done')),
      tools,
      middleware: [boundedMiddleware(governor, { onRunEnd: result => results.push(result) })],
    });
    for await (const _chunk of await agent.stream(question(), { streamMode: 'values' })) break;
    await new Promise(resolve => setTimeout(resolve, 300));
    expect(governor.stats().runsActive).toBe(0);
    expect(results.map(r => (r.status === 'stopped' ? r.stopReason : r.status))).toEqual(['killed']);
  });

  it("stops cleanly with max_steps where LangGraph's recursionLimit would fail the graph", async () => {
    const governor = createGovernor({ policy: oneAtATime });
    const { tools, ran } = deskTools();
    const searches = Array.from({ length: 10 }, (_, i) => call('kb_search', { query: `q${i}` }));
    const agent = createAgent({ model: scripted(...searches), tools, middleware: [boundedMiddleware(governor)] });
    const state = await agent.invoke(question(), { recursionLimit: 6 });
    expect(boundedRun(state)).toMatchObject({
      status: 'stopped',
      stopReason: 'max_steps',
      detail: expect.stringContaining('recursionLimit (6)'),
    });
    expect(ran.kb_search).toBe(2);
    expect(governor.stats().runsActive).toBe(0);
  });

  it('ends the run at a return-direct tool that is the last of several calls, after the others finish', async () => {
    const governor = createGovernor({ policy: { tools: { allow: ['*'] } } });
    let slowDone = false;
    const slow = tool(
      async () => {
        await new Promise(resolve => setTimeout(resolve, 30));
        slowDone = true;
        return 'looked up';
      },
      { name: 'lookup', description: 'Look something up', schema: z.object({ q: z.string() }) },
    );
    const finish = tool(async () => 'final answer', {
      name: 'finish',
      description: 'Give the answer',
      schema: z.object({}),
      returnDirect: true,
    });
    const agent = createAgent({
      model: scripted(
        calls([
          ['lookup', { q: 'a' }],
          ['finish', {}],
        ]),
      ),
      tools: [slow, finish],
      middleware: [boundedMiddleware(governor)],
    });
    const state = await agent.invoke(question());
    expect(boundedRun(state)).toMatchObject({ status: 'ok', usage: { toolCalls: 2 } });
    expect(slowDone).toBe(true);
    expect(governor.stats().runsActive).toBe(0);
  });

  it('reports the model and its provider with the usage, for telemetry', async () => {
    const usage: BoundedEvent[] = [];
    const governor = createGovernor({
      policy: DESK,
      observers: [{ onEvent: e => void (e.type === 'usage' && usage.push(e)) }],
    });
    const reply = answer('done', { input: 30, output: 4 });
    reply.response_metadata = { model_provider: 'anthropic', model_name: 'claude-haiku-4-5' };
    const agent = createAgent({ model: scripted(reply), tools: [], middleware: [boundedMiddleware(governor)] });
    await agent.invoke(question());
    expect(usage).toMatchObject([
      { type: 'usage', model: 'claude-haiku-4-5', provider: 'anthropic', inputTokens: 30, outputTokens: 4 },
    ]);
  });

  it("takes a provider's nonsense token counts as none, not as a failed invocation", async () => {
    const governor = createGovernor({ policy: DESK });
    const broken = answer('done');
    broken.usage_metadata = { input_tokens: Number.NaN, output_tokens: -3, total_tokens: Number.NaN };
    const agent = createAgent({ model: scripted(broken), tools: [], middleware: [boundedMiddleware(governor)] });
    const state = await agent.invoke(question());
    expect(boundedRun(state)).toMatchObject({ status: 'ok', usage: { inputTokens: 0, outputTokens: 0 } });
    expect(governor.stats().runsActive).toBe(0);
  });

  it("does not let a model's invalid tool input open the tool's circuit for every run", async () => {
    for (const handleToolErrors of [true, false]) {
      const governor = createGovernor({
        policy: { ...DESK, circuit_breaker: { failure_threshold: 2, cooldown_seconds: 60 } },
      });
      const { tools, ran } = deskTools();
      const bad = (n: number) => call('kb_read', { id: `not a number ${n}` });
      const agent = createAgent({
        model: scripted(bad(1), bad(2), bad(3), call('kb_read', { id: 1 }), answer('found it')),
        tools,
        middleware: [boundedMiddleware(governor, { handleToolErrors })],
      });
      const state = await agent.invoke(question());
      // The model read three schema errors and then made a good call, which ran: the circuit stayed closed.
      const errors = state.messages.filter(m => ToolMessage.isInstance(m) && m.status === 'error');
      expect(errors, `handleToolErrors: ${handleToolErrors}`).toHaveLength(3);
      expect(String(errors[0]!.content)).toContain('kb_read');
      expect(ran.kb_read).toBe(1);
      expect(boundedRun(state)).toMatchObject({ status: 'ok' });
      // A later run may call the tool too.
      const again = await governor.run({ agent: 'desk' }, run => run.tool('kb_read', { id: 2 }, async () => 'ok'));
      expect(again.status).toBe('ok');
    }
  });

  it('keeps one run for an invocation whose model sends a tool input that does not fit the schema', async () => {
    const results: RunResult<unknown>[] = [];
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_tool_calls: 2 } } });
    const { tools, ran } = deskTools();
    const agent = createAgent({
      model: scripted(call('kb_read', { id: 'not a number' }), call('kb_read', { id: 1 }), call('kb_read', { id: 2 })),
      tools,
      middleware: [boundedMiddleware(governor, { handleToolErrors: false, onRunEnd: result => results.push(result) })],
    });
    await agent.invoke(question()).catch(() => undefined);
    expect(results.map(r => (r.status === 'stopped' ? r.stopReason : r.status))).toEqual(['max_tool_calls']);
    expect(ran.kb_read).toBe(1);
  });

  it('re-addresses the ToolMessage inside a replayed Command to the call that replays it', () => {
    const recorded = new Command({
      update: { messages: [new ToolMessage({ content: 'updated', tool_call_id: 'c5', name: 'crm_update' })] },
    });
    const replayed = replayedToolMessage({ id: 'c7', name: 'crm_update' }, recorded);
    expect(isCommand(replayed)).toBe(true);
    const { messages } = (replayed as Command).update as { messages: ToolMessage[] };
    expect(messages[0]).toMatchObject({ tool_call_id: 'c7', content: 'updated' });
  });
});
