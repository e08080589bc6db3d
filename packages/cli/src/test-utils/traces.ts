import { createGovernor, type PolicyInput, type Run } from '@bounded/core';
import { boundedTelemetry } from '@bounded/otel';
import { context, type HrTime } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

let contextReady = false;

/** A scripted agent turn: call a tool, or answer. */
export type Turn = { readonly tool: string; readonly args?: Record<string, unknown> } | { readonly answer: string };

/** One agent run of a scripted traffic mix: its turns, and how many runs follow it. */
export interface ScriptedRun {
  readonly turns: readonly Turn[];
  readonly count: number;
  readonly metadata?: Record<string, string>;
}

/**
 * Runs scripted agents through a governor with the telemetry observer and an in-memory exporter, and returns the
 * spans the SDK made (the same spans an OTLP exporter sends to Jaeger).
 */
export async function scriptedSpans(
  mix: readonly ScriptedRun[],
  options: { policy?: PolicyInput; agent?: string } = {},
): Promise<ReadableSpan[]> {
  if (!contextReady) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextReady = true;
  }
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const governor = createGovernor({
    policy: options.policy ?? { budgets: { max_tool_calls: 5 }, loop_detection: { enabled: false } },
    observers: [boundedTelemetry({ tracer: provider.getTracer('test') })],
  });
  for (const entry of mix) {
    for (let i = 0; i < entry.count; i++) {
      await governor.run(
        { agent: options.agent ?? 'helper', ...(entry.metadata ? { metadata: entry.metadata } : {}) },
        run => scriptedAgent(run, entry.turns),
      );
    }
  }
  await provider.forceFlush();
  return exporter.getFinishedSpans() as ReadableSpan[];
}

/** The agent loop of a scripted model: each turn a step and some tokens; turns past the end repeat the last. */
export async function scriptedAgent(run: Run, turns: readonly Turn[]): Promise<string> {
  for (let turn = 0; ; turn++) {
    await run.step();
    run.usage({ inputTokens: 100, outputTokens: 10 });
    const next = turns[Math.min(turn, turns.length - 1)]!;
    if ('answer' in next) return next.answer;
    await run.tool(next.tool, next.args ?? { turn }, async () => `${next.tool} result`);
  }
}

const micros = (time: HrTime) => time[0] * 1e6 + Math.round(time[1] / 1000);
const nanos = (time: HrTime) => `${BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])}`;

function jaegerValue(value: unknown) {
  if (typeof value === 'number') return { type: Number.isInteger(value) ? 'int64' : 'float64', value };
  if (typeof value === 'boolean') return { type: 'bool', value };
  return { type: 'string', value: String(value) };
}

/** Spans as Jaeger's query API returns them: `{ data: [{ traceID, spans, processes }] }`. */
export function toJaeger(spans: readonly ReadableSpan[]): { data: unknown[] } {
  const traces = new Map<string, unknown[]>();
  for (const span of spans) {
    const traceID = span.spanContext().traceId;
    const parent = span.parentSpanContext?.spanId;
    const list = traces.get(traceID) ?? [];
    list.push({
      traceID,
      spanID: span.spanContext().spanId,
      operationName: span.name,
      references: parent ? [{ refType: 'CHILD_OF', traceID, spanID: parent }] : [],
      startTime: micros(span.startTime),
      duration: micros(span.duration),
      tags: Object.entries(span.attributes).map(([key, value]) => ({ key, ...jaegerValue(value) })),
      logs: span.events.map(event => ({
        timestamp: micros(event.time),
        fields: [
          { key: 'event', type: 'string', value: event.name },
          ...Object.entries(event.attributes ?? {}).map(([key, value]) => ({ key, ...jaegerValue(value) })),
        ],
      })),
      processID: 'p1',
      warnings: null,
    });
    traces.set(traceID, list);
  }
  return {
    data: [...traces].map(([traceID, list]) => ({
      traceID,
      // Jaeger does not promise an order: children may come before their parents.
      spans: list.reverse(),
      processes: { p1: { serviceName: 'test', tags: [] } },
    })),
  };
}

function otlpValue(value: unknown) {
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  return { stringValue: String(value) };
}

/** Spans as OTLP/JSON (`ExportTraceServiceRequest`). */
export function toOtlp(spans: readonly ReadableSpan[]): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'test' } }] },
        scopeSpans: [
          {
            scope: { name: 'test' },
            spans: spans.map(span => ({
              traceId: span.spanContext().traceId,
              spanId: span.spanContext().spanId,
              parentSpanId: span.parentSpanContext?.spanId ?? '',
              name: span.name,
              kind: 1,
              startTimeUnixNano: nanos(span.startTime),
              endTimeUnixNano: nanos(span.endTime),
              attributes: Object.entries(span.attributes).map(([key, value]) => ({ key, value: otlpValue(value) })),
              events: span.events.map(event => ({
                timeUnixNano: nanos(event.time),
                name: event.name,
                attributes: Object.entries(event.attributes ?? {}).map(([key, value]) => ({
                  key,
                  value: otlpValue(value),
                })),
              })),
              status: { code: span.status.code },
            })),
          },
        ],
      },
    ],
  };
}
