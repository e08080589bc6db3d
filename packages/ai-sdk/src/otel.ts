/**
 * `@bounded/ai-sdk/otel`: one span per tool call when both Bounded and the AI SDK trace it.
 *
 * The SDK's telemetry (`@ai-sdk/otel` on ai@7, `experimental_telemetry` on ai@6) already makes a span for every tool
 * call it executes, nested under its step, and runs the tool inside it. `@bounded/otel` would make a second one for
 * the same call under the run's span. `enrichSdkToolSpans` keeps the SDK's span and writes Bounded's decision and
 * outcome on it; calls the SDK never executes (denied through `toolApproval`, or with no SDK telemetry) keep
 * Bounded's own span. Metrics, the run span and everything else pass through unchanged.
 */
import type { BoundedEvent, Observer, ToolDecisionEvent, ToolEndEvent } from '@bounded/core';
import { type Attributes, type Span, SpanStatusCode, trace } from '@opentelemetry/api';

/** The `@bounded/otel` attribute names written on the SDK's spans (the same names, checked by a test). */
export const ATTR = {
  RUN_ID: 'bounded.run.id',
  DECISION: 'bounded.decision',
  DECISION_RULE: 'bounded.decision.rule',
  DECISION_REASON: 'bounded.decision.reason',
  DECISION_DETAIL: 'bounded.decision.detail',
  DECISION_ENFORCED: 'bounded.decision.enforced',
  APPROVED_BY: 'bounded.approved_by',
  IDEMPOTENCY_KEY: 'bounded.idempotency.key',
  TOOL: 'bounded.tool.name',
  TOOL_WRITE: 'bounded.tool.write',
  TOOL_OUTCOME: 'bounded.tool.outcome',
  COST_USD: 'bounded.cost.usd',
  ERROR_TYPE: 'error.type',
} as const;

/** The attribute that carries the tool-call id on the SDK's tool spans: ai@7 (`@ai-sdk/otel`), then ai@6. */
const SDK_CALL_ID_KEYS = ['gen_ai.tool.call.id', 'ai.toolCall.id'] as const;

/**
 * Wraps the telemetry observer (`boundedTelemetry()`) so that a tool call the AI SDK traces has one span, the SDK's,
 * with Bounded's attributes on it.
 *
 * ```ts
 * const governor = createGovernor({ policy, observers: [enrichSdkToolSpans(boundedTelemetry())] });
 * ```
 */
export function enrichSdkToolSpans(observer: Observer): Observer {
  /** `runId \0 callId` -> the SDK's span standing for that call. */
  const spans = new Map<string, Span>();
  const enriching: Observer = {
    name: `${observer.name ?? 'observer'} (AI SDK tool spans)`,
    onEvent(event: BoundedEvent) {
      if (!('runId' in event) || !('callId' in event)) {
        if (event.type === 'run.end' && spans.size > 0) forgetRun(spans, event.runId);
        observer.onEvent?.(event);
        return;
      }
      const key = `${event.runId}\u0000${event.callId}`;
      if (event.type === 'tool.start') {
        // Emitted synchronously as the governed `execute` starts: inside the SDK's tool span, if it made one.
        const span = sdkToolSpan(event.callId);
        if (span) {
          spans.set(key, span);
          span.setAttributes({
            [ATTR.RUN_ID]: event.runId,
            [ATTR.TOOL]: event.tool,
            ...(event.write ? { [ATTR.TOOL_WRITE]: true } : {}),
          });
          return; // no span of Bounded's own for this call
        }
        observer.onEvent?.(event);
        return;
      }
      const span = spans.get(key);
      if (span) {
        if (event.type === 'tool.decision') span.setAttributes(decisionAttributes(event));
        else if (event.type === 'tool.end') {
          spans.delete(key);
          endOn(span, event);
        } else if (event.type === 'approval.requested') {
          span.addEvent('bounded.approval.requested', { 'bounded.approval.id': event.approvalId });
        } else if (event.type === 'approval.decided') {
          span.addEvent('bounded.approval.decided', {
            'bounded.approval.id': event.approvalId,
            'bounded.approval.approved': event.approved,
            [ATTR.APPROVED_BY]: event.by,
          });
        }
      }
      // Decisions, ends and approvals still reach the observer: its metrics count them (it has no span to end).
      observer.onEvent?.(event);
    },
  };
  if (observer.wrap) {
    const wrap = observer.wrap.bind(observer);
    // A call without a span of Bounded's runs in the context it is in: the SDK's tool span.
    Object.assign(enriching, { wrap });
  }
  return enriching;
}

/** The active span, if it is the SDK's span for this very tool call. */
function sdkToolSpan(callId: string): Span | undefined {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return undefined;
  // The SDK tracer's spans expose their attributes (ReadableSpan); the call id says it is this call's span.
  const attributes = (span as unknown as { attributes?: Attributes }).attributes;
  if (!attributes) return undefined;
  for (const key of SDK_CALL_ID_KEYS) if (attributes[key] === callId) return span;
  return undefined;
}

function decisionAttributes(event: ToolDecisionEvent): Attributes {
  const attributes: Attributes = { [ATTR.DECISION]: event.decision, [ATTR.DECISION_RULE]: event.rule };
  if (!event.enforced) attributes[ATTR.DECISION_ENFORCED] = false;
  if (event.reason) attributes[ATTR.DECISION_REASON] = event.reason;
  if (event.detail) attributes[ATTR.DECISION_DETAIL] = event.detail;
  if (event.approvedBy) attributes[ATTR.APPROVED_BY] = event.approvedBy;
  if (event.idempotencyKey) attributes[ATTR.IDEMPOTENCY_KEY] = event.idempotencyKey;
  return attributes;
}

/** The outcome goes on the span; the SDK ends it (and records a tool error itself). */
function endOn(span: Span, event: ToolEndEvent): void {
  const attributes: Attributes = { [ATTR.TOOL_OUTCOME]: event.outcome };
  if (event.costUsd > 0) attributes[ATTR.COST_USD] = event.costUsd;
  if (event.outcome === 'refused' || event.outcome === 'aborted') {
    attributes[ATTR.ERROR_TYPE] = kindOf(event.error ?? event.outcome);
    span.setStatus({ code: SpanStatusCode.ERROR, message: event.error ?? event.outcome });
  }
  span.setAttributes(attributes);
}

function kindOf(reason: string): string {
  const colon = reason.indexOf(':');
  return colon === -1 ? reason : reason.slice(0, colon);
}

function forgetRun(spans: Map<string, Span>, runId: string): void {
  const prefix = `${runId}\u0000`;
  for (const key of spans.keys()) if (key.startsWith(prefix)) spans.delete(key);
}
