import { createGovernor } from '@bounded/core';
import { boundedTelemetry } from '@bounded/otel';
import { context, type Tracer, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createAgent, fakeModel, tool } from 'langchain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { boundedRun } from './messages.js';
import { boundedMiddleware } from './middleware.js';
import { answer, call, calls, question } from './test-utils/agents.js';

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
afterAll(() => {
  contextManager.disable();
  context.disable();
});

function tracing() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  return { exporter, provider, tracer: provider.getTracer('test') };
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** Work done in a span of its own, as an instrumented HTTP client does it. */
function inSpan<T>(tracer: Tracer, name: string, work: () => T): T {
  return tracer.startActiveSpan(name, span => {
    try {
      return work();
    } finally {
      span.end();
    }
  });
}

describe('spans from @bounded/otel in the trace of the invocation', () => {
  it('puts the run span under the caller, every tool span under the run, and the work of each inside its span', async () => {
    const { exporter, provider, tracer } = tracing();
    const governor = createGovernor({
      policy: { tools: { allow: ['kb_*'] } },
      observers: [boundedTelemetry({ tracer })],
    });
    // A tool and a model that make spans of their own, as instrumented HTTP clients would.
    const kbSearch = tool(async ({ query }) => inSpan(tracer, `GET /kb?q=${query}`, () => `found ${query}`), {
      name: 'kb_search',
      description: 'search',
      schema: z.object({ query: z.string() }),
    });
    const turns = [
      calls([
        ['kb_search', { query: 'a' }],
        ['kb_search', { query: 'b' }],
      ]),
      call('kb_search', { query: 'c' }),
      answer('done'),
    ];
    const model = fakeModel();
    for (const turn of turns) model.respond(() => inSpan(tracer, 'POST /chat', () => turn));
    const agent = createAgent({
      model,
      tools: [kbSearch],
      middleware: [boundedMiddleware(governor, { agent: 'support' })],
    });

    const state = await tracer.startActiveSpan('POST /support', async span => {
      try {
        return await agent.invoke(question());
      } finally {
        span.end();
      }
    });
    expect(boundedRun(state)?.status).toBe('ok');
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.filter(s => s.name === name);
    const [root] = byName('POST /support');
    const [runSpan] = byName('invoke_agent support');
    const tools = byName('execute_tool kb_search');
    expect(root && runSpan).toBeTruthy();
    expect(new Set(spans.map(s => s.spanContext().traceId))).toEqual(new Set([root!.spanContext().traceId]));
    expect(parentOf(runSpan!)).toBe(root!.spanContext().spanId);
    expect(tools).toHaveLength(3);
    for (const toolSpan of tools) expect(parentOf(toolSpan)).toBe(runSpan!.spanContext().spanId);
    for (const query of ['a', 'b', 'c']) {
      const http = byName(`GET /kb?q=${query}`)[0]!;
      const owner = tools.find(t => t.spanContext().spanId === parentOf(http));
      expect(owner?.attributes['gen_ai.tool.call.id'], `GET ${query} nests in its own tool span`).toBeDefined();
    }
    const chats = byName('POST /chat');
    expect(chats).toHaveLength(3);
    for (const chat of chats) expect(parentOf(chat)).toBe(runSpan!.spanContext().spanId);
    expect(runSpan!.attributes).toMatchObject({ 'bounded.tool_calls': 3, 'bounded.steps': 3 });
  });

  it('puts the stop reason on the run span', async () => {
    const { exporter, provider, tracer } = tracing();
    const governor = createGovernor({
      policy: { tools: { allow: ['kb_*'] } },
      observers: [boundedTelemetry({ tracer })],
    });
    const model = fakeModel().respond(call('admin_delete_user', { user: 'ceo' }));
    const agent = createAgent({ model, tools: [], middleware: [boundedMiddleware(governor, { agent: 'support' })] });
    const state = await agent.invoke(question());
    expect(boundedRun(state)?.stopReason).toBe('tool_denied:admin_delete_user');
    await provider.forceFlush();
    const runSpan = exporter.getFinishedSpans().find(s => s.name === 'invoke_agent support');
    expect(runSpan?.attributes).toMatchObject({ 'bounded.stop_reason': 'tool_denied:admin_delete_user' });
    const toolSpan = exporter.getFinishedSpans().find(s => s.name === 'execute_tool admin_delete_user');
    expect(toolSpan?.attributes).toMatchObject({ 'bounded.decision': 'deny' });
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
