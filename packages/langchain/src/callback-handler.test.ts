import { createGovernor, type PolicyInput, StopError } from '@bounded/core';
import { type AIMessage, type BaseMessage, HumanMessage, type ToolMessage } from '@langchain/core/messages';
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { ToolNode, toolsCondition } from '@langchain/langgraph/prebuilt';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { BoundedCallbackHandler } from './callback-handler.js';
import { answer, call, calls, deskTools, scripted } from './test-utils/agents.js';

/** A hand-built LangGraph agent: a model node, a prebuilt ToolNode, and the usual loop between them. */
function graph(model: ReturnType<typeof scripted>) {
  const { tools, ran } = deskTools();
  const bound = model.bindTools(tools);
  const app = new StateGraph(MessagesAnnotation)
    .addNode('model', async state => ({ messages: [(await bound.invoke(state.messages)) as AIMessage] }))
    .addNode('tools', new ToolNode(tools))
    .addEdge(START, 'model')
    .addConditionalEdges('model', toolsCondition, ['tools', END])
    .addEdge('tools', 'model')
    .compile({ name: 'triage' });
  return { app, ran };
}

const DESK: PolicyInput = { tools: { allow: ['kb_*'] }, budgets: { max_tool_calls: 5 } };
const input = { messages: [new HumanMessage('Where is my refund?')] };

describe('BoundedCallbackHandler on a LangGraph StateGraph with a ToolNode', () => {
  // LangChain prints every error a raising handler throws; a refusal is the point of these tests.
  beforeEach(() => void vi.spyOn(console, 'error').mockImplementation(() => undefined));

  it('governs the invocation as one run: steps, tools and tokens from the callbacks', async () => {
    const governor = createGovernor({ policy: DESK });
    const { app, ran } = graph(scripted(call('kb_search', { query: 'refund' }), answer('It is on its way.')));
    const bounded = new BoundedCallbackHandler(governor);
    const state = await app.invoke(input, { callbacks: [bounded] });
    expect(String(state.messages.at(-1)?.content)).toBe('It is on its way.');
    expect(ran.kb_search).toBe(1);
    expect(bounded.lastResult).toMatchObject({
      status: 'ok',
      agent: 'triage',
      usage: { steps: 2, toolCalls: 1, inputTokens: 220, outputTokens: 50 },
    });
    expect(bounded.active).toBe(0);
    expect(governor.stats().runsActive).toBe(0);
  });

  it('blocks a refused tool before its body runs; the ToolNode tells the model', async () => {
    const governor = createGovernor({ policy: { ...DESK, tools: { allow: ['kb_*'], on_refusal: 'continue' } } });
    const { app, ran } = graph(scripted(call('admin_delete_user', { user: 'ceo' }), answer('I cannot do that.')));
    const bounded = new BoundedCallbackHandler(governor, { agent: 'triage' });
    const state = await app.invoke(input, { callbacks: [bounded] });
    expect(ran.admin_delete_user).toBe(0);
    const refusal = state.messages.at(-2) as ToolMessage;
    expect(refusal.status).toBe('error');
    expect(String(refusal.content)).toMatch(/tool_denied:admin_delete_user/);
    expect(bounded.lastResult).toMatchObject({ status: 'ok', usage: { decisions: { deny: 1 } } });
  });

  it('ends the invocation with the StopError when the run must stop', async () => {
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_tool_calls: 2 } } });
    const model = scripted(
      calls([
        ['kb_search', { query: 'a' }],
        ['kb_read', { id: 1 }],
      ]),
      call('kb_search', { query: 'b' }),
      answer('never'),
    );
    const { app, ran } = graph(model);
    const bounded = new BoundedCallbackHandler(governor);
    const error = await app.invoke(input, { callbacks: [bounded] }).catch((e: unknown) => e);
    expect(StopError.is(error)).toBe(true);
    expect(error).toMatchObject({ reason: 'max_tool_calls' });
    expect(ran).toMatchObject({ kb_search: 1, kb_read: 1 });
    expect(model.callCount).toBe(2);
    expect(bounded.lastResult).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    expect(governor.stats().runsActive).toBe(0);
  });

  it('stops on the tokens counted from handleLLMEnd, before the next model call', async () => {
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_tokens: 100 } } });
    const model = scripted(call('kb_search', { query: 'a' }), answer('never'));
    const { app, ran } = graph(model);
    const bounded = new BoundedCallbackHandler(governor);
    const error = await app.invoke(input, { callbacks: [bounded] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'max_tokens' });
    expect(model.callCount).toBe(1);
    expect(ran.kb_search).toBe(0);
    expect(bounded.lastResult).toMatchObject({ stopReason: 'max_tokens', usage: { totalTokens: 120 } });
  });

  it('keeps concurrent invocations apart', async () => {
    const governor = createGovernor({ policy: { ...DESK, budgets: { max_tool_calls: 1 } } });
    const bounded = new BoundedCallbackHandler(governor);
    const runs = [0, 1, 2].map(() => graph(scripted(call('kb_search', { query: 'a' }), answer('ok'))));
    const states = await Promise.all(runs.map(({ app }) => app.invoke(input, { callbacks: [bounded] })));
    expect(states.map(s => String((s.messages as BaseMessage[]).at(-1)?.content))).toEqual(['ok', 'ok', 'ok']);
    expect(runs.map(r => r.ran.kb_search)).toEqual([1, 1, 1]);
    expect(governor.stats()).toMatchObject({ runsStarted: 3, runsActive: 0 });
  });
});
