import {
  ApprovalQueue,
  callbackApprover,
  createGovernor,
  defineWorkflow,
  type GovernorOptions,
  type PolicyInput,
} from '@bounded/core';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { suppressTracing } from '@opentelemetry/core';
import { DataPointType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRedactor } from './redact.js';
import { boundedTelemetry } from './telemetry.js';

// An injected tracer and meter: nothing is registered globally but the context manager (context propagation
// itself is global in the OpenTelemetry API).
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
afterAll(() => {
  contextManager.disable();
  context.disable();
});

class CollectingReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

let exporter: InMemorySpanExporter;
let provider: TracerProvider;
let reader: CollectingReader;
let meterProvider: MeterProvider;

beforeEach(() => {
  exporter = new InMemorySpanExporter();
  provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  reader = new CollectingReader();
  meterProvider = new MeterProvider({ readers: [reader] });
});

function governor(policy: PolicyInput, extra: Partial<GovernorOptions> = {}) {
  const telemetry = boundedTelemetry({
    tracer: provider.getTracer('test'),
    meter: meterProvider.getMeter('test'),
  });
  return { telemetry, governor: createGovernor({ policy, observers: [telemetry], ...extra }) };
}

const spans = () => exporter.getFinishedSpans();
const byName = (name: string) => spans().filter(span => span.name === name);
const one = (name: string): ReadableSpan => {
  const found = byName(name);
  expect(found, `one span named ${name}`).toHaveLength(1);
  return found[0]!;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

async function collect(): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics;
}

function points(metrics: ResourceMetrics, name: string) {
  const metric = metrics.scopeMetrics.flatMap(scope => scope.metrics).find(m => m.descriptor.name === name);
  expect(metric, `metric ${name}`).toBeDefined();
  return metric!;
}

describe('spans', () => {
  it('one run span with exact attributes, one child span per tool call', async () => {
    const { governor: g } = governor({
      budgets: { max_tool_calls: 5, max_tokens: 10_000 },
      pricing: { models: { m: { input_per_1m: 1, output_per_1m: 2 } } },
    });
    await g.run({ agent: 'support', runId: 'run-1', tenant: 'acme', metadata: { ticket: 'T-1' } }, async run => {
      await run.step();
      run.usage({ inputTokens: 1000, outputTokens: 500, model: 'm' });
      await run.tool('kb.read', { id: 1 }, async () => 'a', { callId: 'call_1' });
      await run.tool('kb.read', { id: 2 }, async () => 'b', { callId: 'call_2' });
    });
    const runSpan = one('invoke_agent support');
    expect(runSpan.attributes).toEqual({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'support',
      'bounded.run.id': 'run-1',
      'bounded.mode': 'agent',
      'bounded.enforcement': 'enforce',
      'bounded.tenant': 'acme',
      'bounded.metadata.ticket': 'T-1',
      'bounded.status': 'ok',
      'bounded.steps': 1,
      'bounded.tool_calls': 2,
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 500,
      'bounded.cost.usd': 0.002,
      'bounded.budget.tool_calls.limit': 5,
      'bounded.budget.tool_calls.used': 2,
      'bounded.budget.tool_calls.remaining': 3,
      'bounded.budget.tokens.limit': 10_000,
      'bounded.budget.tokens.used': 1500,
      'bounded.budget.tokens.remaining': 8500,
      'bounded.decisions.allow': 2,
    });
    expect(runSpan.status.code).toBe(SpanStatusCode.UNSET);
    expect(runSpan.events.map(e => e.name)).toEqual(['bounded.step', 'bounded.usage']);

    const tools = byName('execute_tool kb.read');
    expect(tools).toHaveLength(2);
    for (const tool of tools) {
      expect(parentOf(tool)).toBe(idOf(runSpan));
      expect(tool.spanContext().traceId).toBe(runSpan.spanContext().traceId);
    }
    // The run span carries every budget; an allowed tool call's span, what the GenAI conventions ask and the decision.
    expect(tools[1]!.attributes).toEqual({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'kb.read',
      'gen_ai.tool.call.id': 'call_2',
      'bounded.decision': 'allow',
    });
    expect(tools[0]!.endTime[0] * 1e9 + tools[0]!.endTime[1]).toBeLessThanOrEqual(
      tools[1]!.startTime[0] * 1e9 + tools[1]!.startTime[1],
    );
  });

  it('nests the run under the span active when it starts, and work inside a tool under the tool span', async () => {
    const { governor: g } = governor({});
    const tracer = provider.getTracer('app');
    await tracer.startActiveSpan('POST /tickets', async http => {
      await g.run({ agent: 'support' }, run =>
        run.tool('http.get', {}, async () => {
          tracer.startSpan('GET https://status.example').end();
        }),
      );
      http.end();
    });
    const http = one('POST /tickets');
    const runSpan = one('invoke_agent support');
    const tool = one('execute_tool http.get');
    const inner = one('GET https://status.example');
    expect(parentOf(runSpan)).toBe(idOf(http));
    expect(parentOf(tool)).toBe(idOf(runSpan));
    expect(parentOf(inner)).toBe(idOf(tool));
    expect(new Set(spans().map(s => s.spanContext().traceId)).size).toBe(1);
  });

  it('keeps a span for each of two calls made at once under one id (a provider that reuses ids)', async () => {
    const { governor: g } = governor({ tools: { on_refusal: 'continue' } });
    await g.run({ agent: 'reuse' }, run =>
      Promise.allSettled([
        run.tool('fast.read', {}, () => new Promise(resolve => setTimeout(() => resolve('fast'), 10)), {
          callId: 'call_0',
        }),
        run.tool(
          'slow.read',
          {},
          () => new Promise((_resolve, reject) => setTimeout(() => reject(new Error('slow failed')), 40)),
          { callId: 'call_0' },
        ),
      ]),
    );
    const fast = one('execute_tool fast.read');
    const slow = one('execute_tool slow.read');
    expect(fast.status.code).toBe(SpanStatusCode.UNSET);
    expect(slow.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'Error: slow failed' });
    const ms = (span: ReadableSpan) => span.duration[0] * 1e3 + span.duration[1] / 1e6;
    expect(ms(slow)).toBeGreaterThan(ms(fast));
  });

  it('nests a call made inside another tool of the run under that tool', async () => {
    const { governor: g } = governor({});
    await g.run({ agent: 'planner' }, async run => {
      await run.tool('plan.make', {}, () => run.tool('kb.read', { id: 1 }, async () => 'article'));
      await run.tool('kb.read', { id: 2 }, async () => 'another');
    });
    const outer = one('execute_tool plan.make');
    const [inner, after] = byName('execute_tool kb.read');
    expect(parentOf(outer)).toBe(idOf(one('invoke_agent planner')));
    expect(parentOf(inner!)).toBe(idOf(outer));
    expect(parentOf(after!)).toBe(idOf(one('invoke_agent planner')));
  });

  it("nests a call made under a span the tool started (an HTTP client's) under that span", async () => {
    const { governor: g } = governor({});
    const app = provider.getTracer('app');
    await g.run({ agent: 'planner' }, async run => {
      await run.tool('plan.make', {}, () =>
        app.startActiveSpan('GET https://kb.internal', async http => {
          try {
            return await run.tool('kb.read', { id: 1 }, async () => 'article');
          } finally {
            http.end();
          }
        }),
      );
    });
    const http = one('GET https://kb.internal');
    expect(parentOf(http)).toBe(idOf(one('execute_tool plan.make')));
    expect(parentOf(one('execute_tool kb.read'))).toBe(idOf(http));
  });

  it('a denied call still gets a span, marked denied; the run span carries the stop reason and a stop event', async () => {
    const { governor: g } = governor({ tools: { allow: ['kb.read'] } });
    let ran = 0;
    await g.run({ agent: 'support' }, async run => {
      await run.tool('kb.read', {}, async () => ++ran);
      await run.tool('admin.delete_user', { id: 7 }, async () => ++ran);
    });
    expect(ran).toBe(1);
    const denied = one('execute_tool admin.delete_user');
    expect(denied.attributes).toMatchObject({
      'bounded.decision': 'deny',
      'bounded.decision.reason': 'tool_denied:admin.delete_user',
      'bounded.decision.rule': 'tools.allow',
      'bounded.tool.outcome': 'refused',
      'error.type': 'tool_denied',
    });
    expect(denied.status).toEqual({ code: SpanStatusCode.ERROR, message: 'tool_denied:admin.delete_user' });
    const runSpan = one('invoke_agent support');
    expect(runSpan.attributes).toMatchObject({
      'bounded.status': 'stopped',
      'bounded.stop_reason': 'tool_denied:admin.delete_user',
      'bounded.stop_kind': 'tool_denied',
      'error.type': 'tool_denied',
      'bounded.decisions.deny': 1,
    });
    expect(runSpan.status.code).toBe(SpanStatusCode.ERROR);
    const stop = runSpan.events.find(e => e.name === 'bounded.stop');
    expect(stop?.attributes).toMatchObject({
      'bounded.stop_reason': 'tool_denied:admin.delete_user',
      'bounded.stop.rule': 'tools.allow',
    });
  });

  it('budget attributes are numbers with the values of the moment', async () => {
    const { governor: g } = governor({ budgets: { max_tool_calls: 3 } });
    await g.run({ agent: 'thrash' }, async run => {
      for (let i = 0; ; i++) await run.tool('search.read', { q: i }, async () => []);
    });
    // As many executed tool spans as the budget allows, then the refused one; the budget itself is on the run span.
    const calls = byName('execute_tool search.read');
    expect(calls.map(c => [c.attributes['bounded.decision'], c.attributes['bounded.tool.outcome'] ?? 'ok'])).toEqual([
      ['allow', 'ok'],
      ['allow', 'ok'],
      ['allow', 'ok'],
      ['deny', 'refused'],
    ]);
    const steps = one('invoke_agent thrash').events.filter(e => e.name === 'bounded.stop');
    expect(steps).toHaveLength(1);
    expect(one('invoke_agent thrash').attributes).toMatchObject({
      'bounded.stop_reason': 'max_tool_calls',
      'bounded.budget.tool_calls.limit': 3,
      'bounded.budget.tool_calls.used': 3,
      'bounded.budget.tool_calls.remaining': 0,
    });
  });

  it('a tool span lasts as long as the call did, to a few microseconds, however short the call', async () => {
    const took = new Map<string, number>();
    const { governor: g } = governor(
      { tools: { allow: ['kb.read'] } },
      {
        observers: [
          boundedTelemetry({ tracer: provider.getTracer('test'), meter: meterProvider.getMeter('test') }),
          { onEvent: event => void (event.type === 'tool.end' && took.set(event.callId, event.durationMs)) },
        ],
      },
    );
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {}
    };
    await g.run({ agent: 'quick' }, async run => {
      for (const ms of [0.05, 0.4, 2.5]) await run.tool('kb.read', { ms }, args => busy(args.ms), { callId: `${ms}` });
    });
    const calls = byName('execute_tool kb.read');
    expect(calls).toHaveLength(3);
    for (const span of calls) {
      const ms = span.duration[0] * 1e3 + span.duration[1] / 1e6;
      const callId = String(span.attributes['gen_ai.tool.call.id']);
      expect(ms, `span of call ${callId}`).toBeGreaterThanOrEqual(Number(callId));
      expect(ms, `span of call ${callId}`).toBeCloseTo(took.get(callId)!, 2);
    }
  });

  it('records approvals as events on the tool span, with who approved', async () => {
    const { governor: g } = governor(
      { writes: { tools: ['crm.*'] } },
      { approver: callbackApprover(() => ({ approved: true, by: 'alice' })) },
    );
    await g.run({ agent: 'support' }, run => run.tool('crm.update', { id: 1 }, async () => 'ok'));
    const tool = one('execute_tool crm.update');
    expect(tool.attributes).toMatchObject({
      'bounded.decision': 'approved',
      'bounded.approved_by': 'alice',
      'bounded.tool.write': true,
    });
    expect(tool.events.map(e => e.name)).toEqual(['bounded.approval.requested', 'bounded.approval.decided']);
  });

  it('nests a workflow escalation agent under the workflow span', async () => {
    const { governor: g } = governor({ mode: { default: 'workflow', agent_for_exceptions: true } });
    const flow = defineWorkflow<string, string>({
      name: 'triage',
      run: async wf => {
        await wf.step('classify', () => 'unknown');
        return wf.escalate('unknown topic');
      },
      escalate: { agent: 'triage-agent', run: run => run.tool('search.read', { q: 'x' }, async () => 'found') },
    });
    await g.workflow(flow, 'ticket');
    const workflow = one('invoke_workflow triage');
    const agent = one('invoke_agent triage-agent');
    expect(parentOf(agent)).toBe(idOf(workflow));
    expect(parentOf(one('execute_tool search.read'))).toBe(idOf(agent));
    expect(workflow.attributes).toMatchObject({ 'gen_ai.workflow.name': 'triage', 'bounded.handled_by': 'agent' });
    expect(workflow.events.map(e => e.name)).toEqual(['bounded.step', 'bounded.workflow_step']);
  });

  it('respects suppressed tracing', async () => {
    const { governor: g } = governor({});
    await context.with(suppressTracing(context.active()), () =>
      g.run({ agent: 'quiet' }, run => run.tool('kb.read', {}, async () => 1)),
    );
    expect(spans()).toEqual([]);
  });

  it('tool spans lie within their run span: both are on the clock core stamps calls with', async () => {
    const { governor: g } = governor({});
    for (let i = 0; i < 50; i++) {
      await g.run({ agent: 'clock' }, async run => {
        await run.tool('kb.read', { i }, () => i);
        await run.tool('kb.read', { i, again: true }, () => i);
      });
    }
    const nanos = ([seconds, ns]: [number, number]) => BigInt(seconds) * 1_000_000_000n + BigInt(ns);
    const runs = new Map(byName('invoke_agent clock').map(run => [idOf(run), run]));
    const tools = byName('execute_tool kb.read');
    expect(tools).toHaveLength(100);
    for (const tool of tools) {
      const run = runs.get(parentOf(tool)!)!;
      expect(nanos(tool.startTime) >= nanos(run.startTime), 'starts after its run').toBe(true);
      expect(nanos(tool.endTime) <= nanos(run.endTime), 'ends before its run').toBe(true);
    }
  });

  it('ends spans of runs that never end once too many are open, so memory stays bounded', async () => {
    const telemetry = boundedTelemetry({
      tracer: provider.getTracer('t'),
      meter: meterProvider.getMeter('t'),
      maxOpenRuns: 3,
    });
    const g = createGovernor({ policy: {}, observers: [telemetry] });
    for (let i = 0; i < 5; i++) await g.start({ agent: `leaky-${i}` });
    expect(telemetry.openRuns).toBe(3);
    expect(spans().map(s => [s.name, s.status.message])).toEqual([
      ['invoke_agent leaky-0', 'abandoned: the run never ended'],
      ['invoke_agent leaky-1', 'abandoned: the run never ended'],
    ]);
  });

  it('an abandoned run takes its pending approvals with it: the gauge comes back to zero', async () => {
    const telemetry = boundedTelemetry({
      tracer: provider.getTracer('t'),
      meter: meterProvider.getMeter('t'),
      maxOpenRuns: 1,
    });
    const queue = new ApprovalQueue();
    const g = createGovernor({
      policy: { writes: { tools: ['crm.*'] } },
      approver: queue,
      observers: [telemetry],
    });
    const running = ['a', 'b', 'c'].map(agent => g.run({ agent }, run => run.tool('crm.update', {}, () => 'ok')));
    await new Promise(resolve => setTimeout(resolve, 10));
    for (const pending of queue.pending()) queue.approve(pending.id, { by: 'alice' });
    await Promise.all(running);
    const gauge = points(await collect(), 'bounded.approvals.pending').dataPoints.map(p => p.value);
    expect(gauge).toEqual([0]);
  });
});

describe('content', () => {
  const secretArgs = {
    to: 'jane.doe@example.com',
    password: 'hunter2',
    note: 'card 4111 1111 1111 1111, key sk-proj-abcdefghijklmnop123456, Authorization: Bearer abc.def.ghi',
  };

  it('is off by default: no arguments or results on spans', async () => {
    const { governor: g } = governor({});
    await g.run({ agent: 'a' }, run => run.tool('email.send', secretArgs, async () => 'sent'));
    const tool = one('execute_tool email.send');
    expect(tool.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    expect(tool.attributes['gen_ai.tool.call.result']).toBeUndefined();
  });

  it('when a tool opts in, goes through the redactor', async () => {
    const { governor: g } = governor({ monitoring: { record_content: ['email.*'] } });
    await g.run({ agent: 'a' }, run =>
      run.tool('email.send', secretArgs, async () => ({ status: 'sent', token: 't0ps3cret' })),
    );
    const tool = one('execute_tool email.send');
    const args = String(tool.attributes['gen_ai.tool.call.arguments']);
    expect(args).toBe(
      '{"to":"[REDACTED_EMAIL]","password":"[REDACTED]","note":"card [REDACTED_CARD], key [REDACTED_KEY], Authorization: Bearer [REDACTED]"}',
    );
    expect(tool.attributes['gen_ai.tool.call.result']).toBe('{"status":"sent","token":"[REDACTED]"}');
  });

  it('masks secrets in error messages and stop details too, whatever the tool records', async () => {
    const { governor: g } = governor({ tools: { on_refusal: 'continue' } });
    await g.run({ agent: 'a' }, async run => {
      await run
        .tool('db.query', {}, async () => {
          throw new Error('connect failed: postgres://admin:hunter2@db.internal:5432/prod password=hunter2');
        })
        .catch(() => undefined);
      throw new Error('upstream said no to Authorization: bearer sk-live-abcdefghijklmnopqrstu');
    });
    const tool = one('execute_tool db.query');
    const run = one('invoke_agent a');
    const exported = JSON.stringify([tool.status, run.status, run.attributes, run.events]);
    expect(exported).not.toContain('hunter2');
    expect(exported).not.toContain('abcdefghijklmnopqrstu');
    expect(tool.status.message).toBe(
      'Error: connect failed: postgres://admin:[REDACTED]@db.internal:5432/prod password=[REDACTED]',
    );
    expect(run.attributes['bounded.stop.detail']).toContain('Authorization: bearer [REDACTED]');
  });

  it('the redactor knows the common shapes of secrets', () => {
    const redact = createRedactor();
    expect(redact({ headers: { 'x-api-key': 'live_9f8a7b' }, privateKey: 'k', pwd: 'p', passport: 'P1' })).toBe(
      '{"headers":{"x-api-key":"[REDACTED]"},"privateKey":"[REDACTED]","pwd":"[REDACTED]","passport":"P1"}',
    );
    expect(redact('https://x.io/a?password=hunter2&api_key=k123&q=1')).toBe(
      'https://x.io/a?password=[REDACTED]&api_key=[REDACTED]&q=1',
    );
    expect(redact('{"password":"hunter2","q":1}')).toBe('{"password":"[REDACTED]","q":1}');
    expect(redact('card 4111 1111 1111 1111 123')).toBe('card [REDACTED_CARD] 123');
    expect(redact('1200 tokens: used of max_tokens 1000')).toBe('1200 tokens: used of max_tokens 1000');
  });

  it('can be switched off for all tools, whatever the policy says', async () => {
    const telemetry = boundedTelemetry({ tracer: provider.getTracer('t'), recordContent: false });
    const g = createGovernor({ policy: { monitoring: { record_content: ['*'] } }, observers: [telemetry] });
    await g.run({ agent: 'a' }, run => run.tool('email.send', secretArgs, async () => 'sent'));
    expect(one('execute_tool email.send').attributes['gen_ai.tool.call.arguments']).toBeUndefined();
  });
});

describe('metrics', () => {
  it('records tool calls per run, tokens per request, durations, runs by stop reason, decisions, approvals and spend', async () => {
    const queue = new ApprovalQueue();
    queue.onRequest(pending => setTimeout(() => queue.approve(pending.id, { by: 'bob' }), 5));
    const { governor: g } = governor(
      {
        budgets: { max_tool_calls: 2 },
        writes: { tools: ['crm.*'] },
        pricing: { models: { m: { input_per_1m: 10, output_per_1m: 20 } }, tools: { 'search.*': 0.01 } },
      },
      { approver: queue },
    );
    await g.run({ agent: 'support' }, async run => {
      await run.step();
      run.usage({ inputTokens: 100, outputTokens: 50, model: 'm', provider: 'openai.chat' });
      await run.tool('crm.update', { id: 1 }, async () => 'ok');
      await run.tool('search.read', { q: 1 }, async () => []);
      await run.tool('search.read', { q: 2 }, async () => []);
    });
    await g.run({ agent: 'support' }, async run => run.tool('kb.read', {}, async () => 'fine'));
    const metrics = await collect();

    const toolCalls = points(metrics, 'bounded.run.tool_calls');
    expect(toolCalls.dataPointType).toBe(DataPointType.HISTOGRAM);
    const byStatus = Object.fromEntries(
      toolCalls.dataPoints.map(p => [
        String(p.attributes['bounded.status']),
        (p.value as { sum: number; count: number }).sum,
      ]),
    );
    expect(byStatus).toEqual({ stopped: 2, ok: 1 });

    const runs = points(metrics, 'bounded.runs');
    expect(runs.dataPoints.map(p => [p.attributes['bounded.stop_reason'] ?? 'ok', p.value])).toEqual(
      expect.arrayContaining([
        ['max_tool_calls', 1],
        ['ok', 1],
      ]),
    );

    const tokens = points(metrics, 'gen_ai.client.token.usage');
    expect(tokens.descriptor.unit).toBe('{token}');
    const tokenSums = Object.fromEntries(
      tokens.dataPoints.map(p => [p.attributes['gen_ai.token.type'], (p.value as { sum: number }).sum]),
    );
    expect(tokenSums).toEqual({ input: 100, output: 50 });
    // The conventions' provider name, not the AI SDK's `openai.chat`.
    expect(tokens.dataPoints.map(p => p.attributes['gen_ai.provider.name'])).toEqual(['openai', 'openai']);

    const decisions = points(metrics, 'bounded.decisions');
    const decisionCounts = decisions.dataPoints.map(p => [
      p.attributes['bounded.decision'],
      p.attributes['gen_ai.tool.name'],
      p.value,
    ]);
    expect(decisionCounts).toEqual(
      expect.arrayContaining([
        ['approved', 'crm.update', 1],
        ['allow', 'search.read', 1],
        ['deny', 'search.read', 1],
        ['allow', 'kb.read', 1],
      ]),
    );

    expect(points(metrics, 'bounded.approvals.pending').dataPoints.map(p => p.value)).toEqual([0]);
    expect(
      points(metrics, 'bounded.approvals.decided').dataPoints.map(p => [p.attributes['bounded.outcome'], p.value]),
    ).toEqual([['approved', 1]]);
    const spend = points(metrics, 'bounded.cost.usd').dataPoints.map(p => [
      p.attributes['bounded.cost.source'],
      p.value,
    ]);
    // $0.001 + $0.001 of model tokens; one admitted search at $0.01 (the refused one costs nothing).
    expect(spend).toEqual(
      expect.arrayContaining([
        ['model', 0.002],
        ['tool', 0.01],
      ]),
    );
    expect(points(metrics, 'bounded.run.duration').descriptor.unit).toBe('s');
    expect(points(metrics, 'bounded.tool.duration').dataPoints.length).toBeGreaterThan(0);
  });

  it('labels runs stopped by a per-tenant limit by the scope, not one series per tenant', async () => {
    const { governor: g } = governor({ limits: { per_tenant: { tool_calls_per_hour: 1 } } });
    for (const tenant of ['t-1', 't-2', 't-3']) {
      await g.run({ agent: 'a', tenant }, async run => {
        await run.tool('kb.read', { n: 1 }, () => 1);
        await run.tool('kb.read', { n: 2 }, () => 2);
      });
    }
    const labels = points(await collect(), 'bounded.runs').dataPoints.map(p => [
      p.attributes['bounded.stop_reason'],
      p.value,
    ]);
    expect(labels).toEqual([['rate_limited:tenant', 3]]);
    expect(byName('invoke_agent a').map(span => span.attributes['bounded.stop_reason'])).toEqual([
      'rate_limited:tenant:t-1',
      'rate_limited:tenant:t-2',
      'rate_limited:tenant:t-3',
    ]);
  });

  it('caps the tool names used as metric attributes', async () => {
    const telemetry = boundedTelemetry({
      tracer: provider.getTracer('t'),
      meter: meterProvider.getMeter('t'),
      maxToolNames: 2,
    });
    const g = createGovernor({
      policy: { tools: { on_refusal: 'continue', allow: ['kb.read'] } },
      observers: [telemetry],
    });
    await g.run({ agent: 'a' }, async run => {
      for (const tool of ['kb.read', 'invented.one', 'invented.two', 'invented.three']) {
        await run.tool(tool, {}, async () => 1).catch(() => undefined);
      }
    });
    const names = points(await collect(), 'bounded.decisions').dataPoints.map(p => p.attributes['gen_ai.tool.name']);
    expect(new Set(names)).toEqual(new Set(['kb.read', 'invented.one', '_other']));
  });

  it("labels a canary's run metrics with its side, and only with baseline or candidate", async () => {
    const { governor: g } = governor({});
    const ask = (canary: string | undefined) =>
      g.run({ agent: 'support', ...(canary ? { metadata: { canary } } : {}) }, async run => {
        run.usage({ inputTokens: 10, outputTokens: 1 });
        return run.tool('kb.read', {}, async () => 1);
      });
    await ask('baseline');
    await ask('candidate');
    await ask('candidate');
    await ask('something-else');
    await ask(undefined);
    const metrics = await collect();
    const runs = points(metrics, 'bounded.runs').dataPoints.map(p => [p.attributes['bounded.canary'] ?? null, p.value]);
    expect(runs).toEqual(
      expect.arrayContaining([
        ['baseline', 1],
        ['candidate', 2],
        [null, 2],
      ]),
    );
    expect(runs).toHaveLength(3);
    for (const name of ['bounded.run.duration', 'bounded.run.tool_calls', 'gen_ai.client.token.usage']) {
      const labels = new Set(points(metrics, name).dataPoints.map(p => p.attributes['bounded.canary'] ?? null));
      expect(labels, name).toEqual(new Set(['baseline', 'candidate', null]));
    }
    const span = byName('invoke_agent support').find(s => s.attributes['bounded.metadata.canary'] === 'candidate');
    expect(span).toBeDefined();
  });

  it('counts kill-switch events', async () => {
    const { governor: g } = governor({});
    await g.kill({ scope: 'agent', agent: 'x' });
    await g.revive({ scope: 'agent', agent: 'x' });
    const events = points(await collect(), 'bounded.kill_switch.events').dataPoints.map(p => [
      p.attributes['bounded.event'],
      p.value,
    ]);
    expect(events).toEqual([
      ['kill', 1],
      ['revive', 1],
    ]);
  });
});

describe('without an SDK', () => {
  it('costs nothing but works: the global no-op tracer', async () => {
    const g = createGovernor({ policy: {}, observers: [boundedTelemetry()] });
    const result = await g.run({ agent: 'a' }, run => run.tool('kb.read', {}, async () => 'ok'));
    expect(result).toMatchObject({ status: 'ok', output: 'ok' });
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
