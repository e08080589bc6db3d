/**
 * One trace holds the SDK's spans and Bounded's, nested: Bounded's run span at the root, the SDK's operation under
 * it, and one span per tool call (the SDK's, carrying Bounded's decision), checked with an in-memory exporter.
 */
import { OpenTelemetry } from '@ai-sdk/otel';
import { createGovernor, type Observer, type PolicyInput } from '@bounded/core';
import * as boundedOtel from '@bounded/otel';
import { boundedTelemetry } from '@bounded/otel';
import { context, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { boundedAI } from './bounded-ai.js';
import { ATTR, enrichSdkToolSpans } from './otel.js';
import { TOOL_NAMES } from './test-utils/leads.js';
import { SDKS, type Sdk } from './test-utils/sdks.js';

const AGENT = 'lead-enricher';
const prompt = 'Enrich lead 42 (Acme).';
const contextManager = new AsyncLocalStorageContextManager();
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracer = provider.getTracer('test');

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});
afterEach(() => exporter.reset());

/** The SDK's own telemetry, per call: `@ai-sdk/otel` on ai@7, the built-in `experimental_telemetry` on ai@6. */
function sdkTelemetry(sdk: Sdk, t: Tracer) {
  return sdk.major === 7
    ? { telemetry: { functionId: AGENT, integrations: [new OpenTelemetry({ tracer: t })] } }
    : { experimental_telemetry: { isEnabled: true, functionId: AGENT, tracer: t } };
}

function tools(sdk: Sdk) {
  const ran = { search: 0, remove: 0 };
  return {
    ran,
    tools: {
      searchCompanies: sdk.ai.tool({
        inputSchema: z.object({ q: z.string(), page: z.number().optional() }),
        // Work inside the tool (an HTTP call, say) makes a span of its own.
        execute: async ({ q }) =>
          tracer.startActiveSpan('GET /companies', span => {
            ran.search++;
            span.end();
            return [{ id: 'co_1', name: `${q} Inc.` }];
          }),
      }),
      deleteLead: sdk.ai.tool({
        inputSchema: z.object({ id: z.string() }),
        execute: async () => {
          ran.remove++;
          return 'deleted';
        },
      }),
    },
  };
}

const callIdOf = (span: ReadableSpan) => span.attributes['gen_ai.tool.call.id'] ?? span.attributes['ai.toolCall.id'];
const parentOf = (span: ReadableSpan, spans: readonly ReadableSpan[]) =>
  spans.find(s => s.spanContext().spanId === span.parentSpanContext?.spanId);
function ancestors(span: ReadableSpan, spans: readonly ReadableSpan[]): string[] {
  const names: string[] = [];
  for (let parent = parentOf(span, spans); parent; parent = parentOf(parent, spans)) names.push(parent.name);
  return names;
}

async function governedCall(
  sdk: Sdk,
  options: { observer: (o: Observer) => Observer; policy: PolicyInput; script: Parameters<Sdk['model']>[0] },
  path: 'generateText' | 'streamText' = 'generateText',
) {
  const governor = createGovernor({
    policy: options.policy,
    observers: [options.observer(boundedTelemetry({ tracer }))],
  });
  const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
  const { tools: leadTools, ran } = tools(sdk);
  const model = sdk.model(options.script);
  const telemetry = sdkTelemetry(sdk, tracer);
  let bounded: unknown;
  if (path === 'generateText') {
    ({ bounded } = await ai.run({ agent: AGENT }, run =>
      sdk.ai.generateText({ ...run.settings({ model, tools: leadTools }), prompt, ...telemetry }),
    ));
  } else {
    const out = await ai.stream({ agent: AGENT }, run =>
      sdk.ai.streamText({ ...run.settings({ model, tools: leadTools }), prompt, ...telemetry }),
    );
    await out.result!.consumeStream();
    bounded = await out.bounded;
  }
  await provider.forceFlush();
  return { spans: exporter.getFinishedSpans(), ran, bounded };
}

const search = (page: number) => ({ calls: [['searchCompanies', { q: 'acme', page }]] as const });

describe.each(SDKS)('$name', sdk => {
  const sdkRoot = sdk.major === 7 ? 'invoke_agent mock-model' : 'ai.generateText';
  const sdkTool = (key: string) => (sdk.major === 7 ? `execute_tool ${key}` : 'ai.toolCall');

  it('puts the run, the SDK operation and one span per executed tool call in one trace, nested', async () => {
    const { spans, ran } = await governedCall(sdk, {
      observer: enrichSdkToolSpans,
      policy: { tools: { allow: ['search.*'], on_refusal: 'continue' } },
      script: [search(1), { calls: [['deleteLead', { id: '42' }]] }, { text: 'done' }],
    });
    expect(ran).toEqual({ search: 1, remove: 0 });
    expect(new Set(spans.map(s => s.spanContext().traceId)).size).toBe(1);

    const run = spans.find(s => s.name === `invoke_agent ${AGENT}`)!;
    expect(run.parentSpanContext).toBeUndefined();
    expect(run.attributes).toMatchObject({ 'bounded.run.id': expect.any(String), 'bounded.status': 'ok' });
    const root = spans.find(s => s.name === sdkRoot)!;
    expect(parentOf(root, spans)).toBe(run);

    // The executed call: the SDK's span, under its step, with Bounded's decision; no second span for it.
    const searchSpans = spans.filter(s => callIdOf(s) === 'call-0-0');
    expect(searchSpans.map(s => s.name)).toEqual([sdkTool('searchCompanies')]);
    const tool = searchSpans[0]!;
    expect(ancestors(tool, spans)).toContain(root.name);
    expect(ancestors(tool, spans).at(-1)).toBe(run.name);
    expect(tool.attributes).toMatchObject({
      [ATTR.RUN_ID]: run.attributes['bounded.run.id'],
      [ATTR.TOOL]: 'search.companies',
      [ATTR.DECISION]: 'allow',
      [ATTR.TOOL_OUTCOME]: 'ok',
    });
    expect(spans.filter(s => s.name === 'execute_tool search.companies')).toEqual([]);
    // The tool's own work nests under the tool call's span.
    expect(parentOf(spans.find(s => s.name === 'GET /companies')!, spans)).toBe(tool);

    // The refused call still has exactly one span, marked denied; its tool never ran.
    const denied = spans.filter(s => s.attributes[ATTR.DECISION] === 'deny');
    expect(denied).toHaveLength(1);
    expect(denied[0]!.attributes).toMatchObject({ [ATTR.DECISION_REASON]: 'tool_denied:crm.delete' });
    if (sdk.major === 7) {
      // Denied through toolApproval: the SDK never executed it, so the span is Bounded's, under the run.
      expect(denied[0]!.name).toBe('execute_tool crm.delete');
      expect(parentOf(denied[0]!, spans)).toBe(run);
    } else {
      expect(denied[0]!.name).toBe('ai.toolCall');
      expect(denied[0]!.status.code).toBe(2);
    }
  });

  it('without enrichSdkToolSpans, the same call would have two spans (what it prevents)', async () => {
    const { spans } = await governedCall(sdk, { observer: o => o, policy: {}, script: [search(1), { text: 'done' }] });
    const names = spans.filter(s => callIdOf(s) === 'call-0-0').map(s => s.name);
    expect(names.sort()).toEqual([sdkTool('searchCompanies'), 'execute_tool search.companies'].sort());
  });

  it('streams too, and sets the stop reason on the run span', async () => {
    const { spans, ran, bounded } = await governedCall(
      sdk,
      {
        observer: enrichSdkToolSpans,
        policy: { budgets: { max_tool_calls: 2 } },
        script: call => search(call),
      },
      'streamText',
    );
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    expect(ran.search).toBe(2);
    expect(new Set(spans.map(s => s.spanContext().traceId)).size).toBe(1);
    const run = spans.find(s => s.name === `invoke_agent ${AGENT}`)!;
    expect(run.attributes['bounded.stop_reason']).toBe('max_tool_calls');
    const toolSpans = spans.filter(s => callIdOf(s) !== undefined);
    // Three calls: two ran, the third was refused by the budget; one span each, all the SDK's.
    expect(toolSpans.map(s => s.attributes[ATTR.TOOL_OUTCOME])).toEqual(['ok', 'ok', 'refused']);
    for (const span of toolSpans) expect(ancestors(span, spans).at(-1)).toBe(run.name);
  });
});

it('writes the attribute names @bounded/otel uses', () => {
  expect(ATTR.RUN_ID).toBe(boundedOtel.ATTR_RUN_ID);
  expect(ATTR.DECISION).toBe(boundedOtel.ATTR_DECISION);
  expect(ATTR.DECISION_RULE).toBe(boundedOtel.ATTR_DECISION_RULE);
  expect(ATTR.DECISION_REASON).toBe(boundedOtel.ATTR_DECISION_REASON);
  expect(ATTR.APPROVED_BY).toBe(boundedOtel.ATTR_APPROVED_BY);
  expect(ATTR.COST_USD).toBe(boundedOtel.ATTR_COST_USD);
});
