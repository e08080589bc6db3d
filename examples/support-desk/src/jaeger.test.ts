import { randomUUID } from 'node:crypto';
import { boundedTelemetry } from '@bounded/otel';
import { setupTelemetry } from '@bounded/otel/setup';
import { describe, expect, it } from 'vitest';
import { runDemo } from './scenarios.js';

/**
 * End to end against a real Jaeger (v2): the demo's scenarios export over OTLP/HTTP, then the traces are read back
 * from Jaeger's query API. `.ci/run` starts Jaeger and sets JAEGER_OTLP_ENDPOINT and JAEGER_QUERY_URL.
 */
const otlp = process.env.JAEGER_OTLP_ENDPOINT;
const query = process.env.JAEGER_QUERY_URL;
const available = Boolean(otlp && query);
if (!available && process.env.CI === 'true') {
  throw new Error('CI=true but JAEGER_OTLP_ENDPOINT / JAEGER_QUERY_URL are not set: .ci/run must start Jaeger');
}

interface JaegerTag {
  key: string;
  type: string;
  value: string | number | boolean;
}
interface JaegerSpan {
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; spanID: string }>;
  tags: JaegerTag[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
}

const tag = (span: JaegerSpan, key: string) => span.tags.find(t => t.key === key);
const value = (span: JaegerSpan, key: string) => tag(span, key)?.value;
const parentId = (span: JaegerSpan) => span.references.find(r => r.refType === 'CHILD_OF')?.spanID;

async function fetchTraces(service: string, expected: number): Promise<JaegerTrace[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await fetch(`${query}/api/traces?service=${encodeURIComponent(service)}&limit=100`);
    const body = (await response.json()) as { data: JaegerTrace[] | null };
    const traces = body.data ?? [];
    if (traces.length >= expected || Date.now() > deadline) return traces;
    await new Promise(resolve => setTimeout(resolve, 250));
  }
}

// Skipped where no Jaeger runs (a laptop without the services); under CI=true a missing Jaeger fails above.
it.skipIf(available)('needs a running Jaeger: set JAEGER_OTLP_ENDPOINT and JAEGER_QUERY_URL (.ci/run does)', () => {});

describe.skipIf(!available)('the demo in a real Jaeger', () => {
  it('exports one trace per scenario, with run, agent and tool spans nested and governed', async () => {
    const service = `bounded-demo-e2e-${randomUUID().slice(0, 8)}`;
    const telemetry = setupTelemetry({ serviceName: service, otlpEndpoint: otlp! });
    const outcomes = await runDemo({ observers: [boundedTelemetry()], approvalDelayMs: 20 });
    await telemetry.shutdown();
    expect(telemetry.exportErrors).toBe(0);
    expect(outcomes.every(o => o.asExpected)).toBe(true);

    const traces = await fetchTraces(service, outcomes.length);
    expect(traces).toHaveLength(outcomes.length);
    // Each scenario is one trace whose root is the workflow run span.
    const byScenario = new Map<string, JaegerTrace>();
    for (const trace of traces) {
      const root = trace.spans.find(span => span.operationName === 'invoke_workflow support-ticket');
      expect(root, 'every trace has its workflow run span').toBeDefined();
      expect(parentId(root!)).toBeUndefined();
      byScenario.set(String(value(root!, 'bounded.metadata.scenario')), trace);
    }
    expect([...byScenario.keys()].sort()).toEqual(['approval', 'dedup', 'injection', 'killed', 'ok', 'thrash']);

    for (const [scenario, trace] of byScenario) {
      const spans = trace.spans;
      const workflow = spans.find(s => s.operationName === 'invoke_workflow support-ticket')!;
      const agent = spans.find(s => s.operationName === 'invoke_agent support-agent');
      const tools = spans.filter(s => s.operationName.startsWith('execute_tool '));
      if (scenario === 'ok') {
        expect(agent).toBeUndefined();
        expect(tools.map(t => parentId(t))).toEqual([workflow.spanID]);
      } else {
        // The run span is the parent of its tool spans: the agent under the workflow, the tools under the agent.
        expect(parentId(agent!)).toBe(workflow.spanID);
        for (const tool of tools) expect(parentId(tool)).toBe(agent!.spanID);
      }
    }

    const thrash = byScenario.get('thrash')!.spans;
    const thrashAgent = thrash.find(s => s.operationName === 'invoke_agent support-agent')!;
    expect(value(thrashAgent, 'bounded.stop_reason')).toBe('max_tool_calls');
    const searches = thrash.filter(s => s.operationName === 'execute_tool search.read');
    expect(searches.filter(s => value(s, 'bounded.decision') === 'allow')).toHaveLength(12);
    const refused = searches.filter(s => value(s, 'bounded.decision') === 'deny');
    expect(refused).toHaveLength(1);
    expect(value(refused[0]!, 'bounded.decision.reason')).toBe('max_tool_calls');
    expect(value(refused[0]!, 'bounded.tool.outcome')).toBe('refused');
    expect(value(refused[0]!, 'otel.status_code')).toBe('ERROR');
    // Budget attributes are numbers with the right values.
    for (const [key, expected] of [
      ['bounded.budget.tool_calls.limit', 12],
      ['bounded.budget.tool_calls.used', 12],
      ['bounded.budget.tool_calls.remaining', 0],
      ['bounded.budget.steps.limit', 16],
      ['bounded.budget.steps.used', 13],
    ] as const) {
      const found = tag(thrashAgent, key);
      expect(found?.type, key).toBe('int64');
      expect(found?.value, key).toBe(expected);
    }
    expect(tag(thrashAgent, 'bounded.budget.usd.used')?.type).toBe('float64');
    const thrashAgentResult = outcomes.find(o => o.scenario.id === 'thrash')!.result.escalation!.result;
    expect(value(thrashAgent, 'bounded.budget.usd.used')).toBe(thrashAgentResult.usage.costUsd);
    expect(value(thrashAgent, 'bounded.cost.usd')).toBe(thrashAgentResult.usage.costUsd);

    const injection = byScenario.get('injection')!.spans;
    const injected = injection.find(s => s.operationName === 'execute_tool admin.delete_user')!;
    expect(value(injected, 'bounded.decision')).toBe('deny');
    expect(value(injected, 'bounded.decision.reason')).toBe('tool_denied:admin.delete_user');
    expect(value(injected, 'bounded.decision.rule')).toBe('tools.allow');
    expect(value(injection.find(s => s.operationName === 'invoke_agent support-agent')!, 'bounded.stop_reason')).toBe(
      'tool_denied:admin.delete_user',
    );
    // No execution: the refused span has no child and the tool body never ran.
    expect(injection.filter(s => parentId(s) === injected.spanID)).toEqual([]);
    expect(outcomes.find(o => o.scenario.id === 'injection')!.world.executions['admin.delete_user']).toBeUndefined();

    const approval = byScenario.get('approval')!.spans.find(s => s.operationName === 'execute_tool crm.update')!;
    expect(value(approval, 'bounded.decision')).toBe('approved');
    expect(value(approval, 'bounded.approved_by')).toBe('alice@support.example');

    const dedup = byScenario.get('dedup')!.spans.filter(s => s.operationName === 'execute_tool payments.charge');
    expect(dedup.map(s => value(s, 'bounded.decision')).sort()).toEqual(['approved', 'dedup']);

    const killed = byScenario.get('killed')!.spans.find(s => s.operationName === 'invoke_agent support-agent')!;
    expect(value(killed, 'bounded.stop_reason')).toBe('killed');
  }, 60_000);
});
