import type {
  BoundedEvent,
  BudgetSnapshot,
  Observer,
  RunEndEvent,
  RunStartEvent,
  ToolDecisionEvent,
  ToolEndEvent,
  ToolStartEvent,
} from '@bounded/core';
import {
  type Attributes,
  type Context,
  type Counter,
  context,
  createContextKey,
  type Histogram,
  type Meter,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
  type UpDownCounter,
} from '@opentelemetry/api';
import { genAiProviderName } from './provider-name.js';
import { createRedactor, type Redactor } from './redact.js';
import * as sc from './semconv.js';

export interface BoundedTelemetryOptions {
  /** Default: the global tracer provider's tracer `@bounded/otel` (a no-op until an SDK is registered). */
  readonly tracer?: Tracer;
  /** Default: the global meter provider's meter `@bounded/otel`. */
  readonly meter?: Meter;
  /**
   * Record tool arguments and results on spans. Default: only for tools the policy lists in
   * `monitoring.record_content`, always through the redactor; `false` turns content off everywhere.
   */
  readonly recordContent?: boolean;
  /** Masks secrets and bounds the size of recorded content. Default: `createRedactor()`. */
  readonly redact?: Redactor;
  /** Runs tracked at once; beyond this the oldest open run's span is ended as abandoned. Default 10,000. */
  readonly maxOpenRuns?: number;
  /** Distinct tool names used as metric attributes; further names are reported as `_other`. Default 200. */
  readonly maxToolNames?: number;
}

/** The telemetry observer: pass it to `createGovernor({ observers: [...] })`. */
export interface BoundedTelemetry extends Observer {
  /** Runs with an open span (for tests and health checks). */
  readonly openRuns: number;
}

interface ToolState {
  readonly start: ToolStartEvent;
  /** When the call began (epoch ms with sub-millisecond precision): the span starts then, even if made later. */
  readonly startTime: number;
  readonly parent: Context;
  /**
   * The span is made when the gateway decides, with every attribute at once: one attribute pass instead of two,
   * which is most of what a span costs. Approvals (which come before the decision) make it early.
   */
  span: Span | undefined;
  ctx: Context | undefined;
}

/**
 * A run's calls in progress by call id. Ids come from frameworks and providers, and some reuse them: calls made at
 * once under one id are told apart by their tool, so none loses its span.
 */
class ToolCalls {
  readonly #byId = new Map<string, ToolState | ToolState[]>();

  add(state: ToolState): void {
    const id = state.start.callId;
    const there = this.#byId.get(id);
    if (there === undefined) this.#byId.set(id, state);
    else this.#byId.set(id, Array.isArray(there) ? [...there, state] : [there, state]);
  }

  get(callId: string, tool: string): ToolState | undefined {
    const there = this.#byId.get(callId);
    if (there === undefined || !Array.isArray(there)) return there;
    return there.find(state => state.start.tool === tool) ?? there[0];
  }

  take(callId: string, tool: string): ToolState | undefined {
    const there = this.#byId.get(callId);
    if (there === undefined || !Array.isArray(there)) {
      this.#byId.delete(callId);
      return there;
    }
    const index = Math.max(
      0,
      there.findIndex(state => state.start.tool === tool),
    );
    const [state] = there.splice(index, 1);
    if (there.length === 1) this.#byId.set(callId, there[0]!);
    return state;
  }

  *all(): Iterable<ToolState> {
    for (const there of this.#byId.values()) {
      if (Array.isArray(there)) yield* there;
      else yield there;
    }
  }
}

interface RunState {
  readonly span: Span;
  readonly ctx: Context;
  readonly tools: ToolCalls;
  /**
   * The run's context marked as the inside of one of its tools: a tool span's context is made from it, so the mark
   * reaches everything under the tool (an HTTP span the tool starts, and a call made under that) at no extra copy.
   */
  readonly toolCtx: Context;
  /** approvalId -> the call waiting for it and the tool label its pending count was added under. */
  readonly pendingApprovals: Map<string, { readonly callId: string; readonly tool: string }>;
  readonly agent: string;
  readonly mode: string;
  /** `baseline` or `candidate` for a canary's runs (metadata.canary); a metric label, so nothing else is kept. */
  readonly canary: 'baseline' | 'candidate' | undefined;
}

interface Instruments {
  readonly runToolCalls: Histogram;
  readonly runDuration: Histogram;
  readonly runs: Counter;
  readonly toolDuration: Histogram;
  readonly tokens: Histogram;
  readonly decisions: Counter;
  readonly approvalsPending: UpDownCounter;
  readonly approvalsDecided: Counter;
  readonly cost: Counter;
  readonly killSwitch: Counter;
}

const VERSION = '0.1.0';

/** Bucket boundaries: tokens as the GenAI conventions advise; durations from 5 ms to 5 minutes. */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Tools range from in-process lookups (tenths of a millisecond) to slow APIs: p95 needs buckets at both ends. */
const TOOL_SECONDS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];
const CALL_BUCKETS = [0, 1, 2, 3, 5, 8, 12, 20, 30, 50, 100];

function createInstruments(meter: Meter): Instruments {
  const info = (name: string) => {
    const metric = sc.METRICS.find(m => m.name === name)!;
    return { description: metric.description, unit: metric.unit };
  };
  const histogram = (name: string, buckets: number[]) =>
    meter.createHistogram(name, { ...info(name), advice: { explicitBucketBoundaries: buckets } });
  return {
    runToolCalls: histogram(sc.METRIC_RUN_TOOL_CALLS, CALL_BUCKETS),
    runDuration: histogram(sc.METRIC_RUN_DURATION, SECONDS_BUCKETS),
    runs: meter.createCounter(sc.METRIC_RUNS, info(sc.METRIC_RUNS)),
    toolDuration: histogram(sc.METRIC_TOOL_DURATION, TOOL_SECONDS_BUCKETS),
    tokens: histogram(sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE, TOKEN_BUCKETS),
    decisions: meter.createCounter(sc.METRIC_DECISIONS, info(sc.METRIC_DECISIONS)),
    approvalsPending: meter.createUpDownCounter(sc.METRIC_APPROVALS_PENDING, info(sc.METRIC_APPROVALS_PENDING)),
    approvalsDecided: meter.createCounter(sc.METRIC_APPROVALS_DECIDED, info(sc.METRIC_APPROVALS_DECIDED)),
    cost: meter.createCounter(sc.METRIC_COST, info(sc.METRIC_COST)),
    killSwitch: meter.createCounter(sc.METRIC_KILL_SWITCH, info(sc.METRIC_KILL_SWITCH)),
  };
}

/**
 * Writes OpenTelemetry spans and metrics for every run, step and tool call a governor sees.
 *
 * ```ts
 * const governor = createGovernor({ policy, observers: [boundedTelemetry()] });
 * ```
 *
 * A run is a span (`invoke_agent <agent>` or `invoke_workflow <name>`) under whatever span is active when it starts;
 * each tool call is a child span (`execute_tool <tool>`), refused calls included (marked with their decision, their
 * tool never ran); steps, usage, approvals and the stop are span events; budgets and the stop reason are attributes.
 */
export function boundedTelemetry(options: BoundedTelemetryOptions = {}): BoundedTelemetry {
  return new TelemetryObserver(options);
}

class TelemetryObserver implements BoundedTelemetry {
  readonly name = '@bounded/otel';
  readonly #tracer: Tracer;
  readonly #metrics: Instruments;
  readonly #runs = new Map<string, RunState>();
  readonly #redact: Redactor;
  readonly #recordContent: boolean;
  readonly #maxOpenRuns: number;
  readonly #toolNames = new Set<string>();
  // Attribute sets and span names repeat endlessly (a few agents, tools, decisions and outcomes): each is built once.
  // Nested maps keyed by the event's own strings, so no key string is concatenated (and hashed) per call.
  readonly #decisionCache = new Map<string, Map<string, Map<string, Attributes>>>();
  readonly #durationCache = new Map<string, Map<string, Attributes>>();
  readonly #spanNames = new Map<string, string>();
  readonly #providerNames = new Map<string, string>();
  readonly #maxToolNames: number;

  constructor(options: BoundedTelemetryOptions) {
    this.#tracer = options.tracer ?? trace.getTracer('@bounded/otel', VERSION);
    this.#metrics = createInstruments(options.meter ?? metrics.getMeter('@bounded/otel', VERSION));
    this.#redact = options.redact ?? createRedactor();
    this.#recordContent = options.recordContent !== false;
    this.#maxOpenRuns = options.maxOpenRuns ?? 10_000;
    this.#maxToolNames = options.maxToolNames ?? 200;
  }

  get openRuns(): number {
    return this.#runs.size;
  }

  onEvent(event: BoundedEvent): void {
    switch (event.type) {
      case 'run.start':
        this.#runStart(event);
        return;
      case 'run.end':
        this.#runEnd(event);
        return;
      case 'tool.start':
        this.#toolStart(event);
        return;
      case 'tool.decision':
        this.#toolDecision(event);
        return;
      case 'tool.end':
        this.#toolEnd(event);
        return;
      case 'step': {
        const run = this.#runs.get(event.runId);
        run?.span.addEvent(sc.EVENT_STEP, {
          'bounded.step.index': event.index,
          ...(event.name ? { 'bounded.step.name': event.name } : {}),
          ...budgetAttributes(event.budgets, false),
        });
        return;
      }
      case 'usage': {
        const run = this.#runs.get(event.runId);
        const attributes: Attributes = {
          [sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS]: event.inputTokens,
          [sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: event.outputTokens,
          [sc.ATTR_COST_USD]: event.costUsd,
        };
        const provider = event.provider ? this.#providerName(event.provider) : undefined;
        if (event.model) attributes[sc.ATTR_GEN_AI_REQUEST_MODEL] = event.model;
        if (provider) attributes[sc.ATTR_GEN_AI_PROVIDER_NAME] = provider;
        run?.span.addEvent(sc.EVENT_USAGE, attributes);
        const common: Attributes = {
          [sc.ATTR_GEN_AI_OPERATION_NAME]: sc.GEN_AI_OPERATION_CHAT,
          [sc.ATTR_GEN_AI_AGENT_NAME]: event.agent,
        };
        if (event.model) common[sc.ATTR_GEN_AI_REQUEST_MODEL] = event.model;
        if (provider) common[sc.ATTR_GEN_AI_PROVIDER_NAME] = provider;
        if (run?.canary) common[sc.ATTR_CANARY] = run.canary;
        this.#metrics.tokens.record(event.inputTokens, {
          ...common,
          [sc.ATTR_GEN_AI_TOKEN_TYPE]: sc.GEN_AI_TOKEN_TYPE_INPUT,
        });
        this.#metrics.tokens.record(event.outputTokens, {
          ...common,
          [sc.ATTR_GEN_AI_TOKEN_TYPE]: sc.GEN_AI_TOKEN_TYPE_OUTPUT,
        });
        if (event.costUsd > 0) {
          this.#metrics.cost.add(event.costUsd, {
            [sc.ATTR_GEN_AI_AGENT_NAME]: event.agent,
            'bounded.cost.source': 'model',
          });
        }
        return;
      }
      case 'run.stop':
      case 'run.shadow_stop': {
        this.#runs.get(event.runId)?.span.addEvent(event.type === 'run.stop' ? sc.EVENT_STOP : sc.EVENT_SHADOW_STOP, {
          [sc.ATTR_STOP_REASON]: event.reason,
          [sc.ATTR_STOP_DETAIL]: this.#redact(event.detail),
          [sc.ATTR_STOP_RULE]: event.rule,
        });
        return;
      }
      case 'approval.requested': {
        const run = this.#runs.get(event.runId);
        const state = run?.tools.get(event.callId, event.tool);
        if (state)
          this.#ensureSpan(state, undefined).addEvent(sc.EVENT_APPROVAL_REQUESTED, {
            'bounded.approval.id': event.approvalId,
          });
        // Counted only for a run this observer follows: that is where its decision or its run's end takes it off.
        if (!run) return;
        const tool = this.#toolName(event.tool);
        run.pendingApprovals.set(event.approvalId, { callId: event.callId, tool });
        this.#metrics.approvalsPending.add(1, { [sc.ATTR_GEN_AI_TOOL_NAME]: tool });
        return;
      }
      case 'approval.decided': {
        const run = this.#runs.get(event.runId);
        run?.tools.get(event.callId, event.tool)?.span?.addEvent(sc.EVENT_APPROVAL_DECIDED, {
          'bounded.approval.id': event.approvalId,
          [sc.ATTR_APPROVED]: event.approved,
          [sc.ATTR_APPROVED_BY]: event.by,
          [sc.ATTR_TIMED_OUT]: event.timedOut,
          'bounded.approval.waited_ms': event.waitedMs,
        });
        this.#settleApproval(run, event.approvalId);
        this.#metrics.approvalsDecided.add(1, {
          [sc.ATTR_GEN_AI_TOOL_NAME]: this.#toolName(event.tool),
          [sc.ATTR_OUTCOME]: event.timedOut ? 'timeout' : event.approved ? 'approved' : 'rejected',
        });
        return;
      }
      case 'workflow.step': {
        this.#runs.get(event.runId)?.span.addEvent(sc.EVENT_WORKFLOW_STEP, {
          [sc.ATTR_WORKFLOW_STEP]: event.step,
          [sc.ATTR_ATTEMPT]: event.attempt,
          [sc.ATTR_OUTCOME]: event.outcome,
          'bounded.duration_ms': event.durationMs,
          ...(event.error ? { [sc.ATTR_ERROR_TYPE]: this.#redact(event.error) } : {}),
        });
        return;
      }
      case 'kill':
      case 'revive':
        this.#metrics.killSwitch.add(1, {
          [sc.ATTR_KILL_SCOPE]: event.record.target.scope,
          [sc.ATTR_EVENT]: event.type,
        });
        return;
    }
  }

  wrap<T>(scope: RunStartEvent | ToolDecisionEvent, fn: () => T): T {
    const run = this.#runs.get(scope.runId);
    if (!run) return fn();
    if (scope.type === 'run.start') return context.with(run.ctx, fn);
    const ctx = run.tools.get(scope.callId, scope.tool)?.ctx;
    return ctx ? context.with(ctx, fn) : fn();
  }

  #runStart(event: RunStartEvent): void {
    const workflow = event.mode === 'workflow';
    const attributes: Attributes = {
      [sc.ATTR_GEN_AI_OPERATION_NAME]: workflow
        ? sc.GEN_AI_OPERATION_INVOKE_WORKFLOW
        : sc.GEN_AI_OPERATION_INVOKE_AGENT,
      [workflow ? sc.ATTR_GEN_AI_WORKFLOW_NAME : sc.ATTR_GEN_AI_AGENT_NAME]: event.agent,
      [sc.ATTR_RUN_ID]: event.runId,
      [sc.ATTR_MODE]: event.mode,
      [sc.ATTR_ENFORCEMENT]: event.enforcement,
    };
    if (event.tenant) attributes[sc.ATTR_TENANT] = event.tenant;
    if (event.parentRunId) attributes[sc.ATTR_PARENT_RUN_ID] = event.parentRunId;
    for (const [key, value] of Object.entries(event.metadata)) attributes[sc.ATTR_METADATA_PREFIX + key] = value;
    for (const budget of event.budgets) attributes[sc.budgetAttribute(budget.kind, 'limit')] = budget.limit;
    // A child run (a workflow's escalation agent) nests under its parent even when started outside its context.
    const parent = (event.parentRunId ? this.#runs.get(event.parentRunId)?.ctx : undefined) ?? context.active();
    const name = `${workflow ? sc.GEN_AI_OPERATION_INVOKE_WORKFLOW : sc.GEN_AI_OPERATION_INVOKE_AGENT} ${event.agent}`;
    // On the clock core stamps tool calls with: the SDK's own starts on Date.now(), up to a millisecond off it, and
    // a run span would end before its last tool span.
    const span = this.#tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes, startTime: epochNow() }, parent);
    if (this.#runs.size >= this.#maxOpenRuns) this.#evictOldest();
    const runCtx = trace.setSpan(parent, span);
    this.#runs.set(event.runId, {
      span,
      ctx: runCtx,
      tools: new ToolCalls(),
      toolCtx: runCtx.setValue(TOOL_OF_RUN, event.runId),
      pendingApprovals: new Map(),
      agent: event.agent,
      mode: event.mode,
      canary: canaryVariant(event.metadata.canary),
    });
  }

  #runEnd(event: RunEndEvent): void {
    const run = this.#runs.get(event.runId);
    this.#runs.delete(event.runId);
    const usage = event.usage;
    const stopKind = event.stopReason ? kindOf(event.stopReason) : undefined;
    const metricAttributes: Attributes = {
      [sc.ATTR_GEN_AI_AGENT_NAME]: event.agent,
      [sc.ATTR_MODE]: event.mode,
      [sc.ATTR_STATUS]: event.status,
      ...(stopKind ? { [sc.ATTR_STOP_KIND]: stopKind } : {}),
      ...(run?.canary ? { [sc.ATTR_CANARY]: run.canary } : {}),
    };
    this.#metrics.runToolCalls.record(usage.toolCalls, metricAttributes);
    this.#metrics.runDuration.record(usage.durationMs / 1000, metricAttributes);
    this.#metrics.runs.add(1, {
      ...metricAttributes,
      ...(event.stopReason ? { [sc.ATTR_STOP_REASON]: this.#stopReasonLabel(event.stopReason) } : {}),
    });
    if (!run) return;
    for (const tool of run.tools.all()) {
      const span = this.#ensureSpan(tool, undefined);
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the run ended before the tool call did' });
      span.end(epochNow());
    }
    for (const approvalId of [...run.pendingApprovals.keys()]) this.#settleApproval(run, approvalId);
    const span = run.span;
    span.setAttributes({
      [sc.ATTR_STATUS]: event.status,
      [sc.ATTR_STEPS]: usage.steps,
      [sc.ATTR_TOOL_CALLS]: usage.toolCalls,
      [sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS]: usage.inputTokens,
      [sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: usage.outputTokens,
      [sc.ATTR_COST_USD]: usage.costUsd,
      ...budgetAttributes(event.budgets, true),
      ...(event.handledBy ? { [sc.ATTR_HANDLED_BY]: event.handledBy } : {}),
    });
    for (const [decision, count] of Object.entries(usage.decisions)) {
      if (count > 0) span.setAttribute(`bounded.decisions.${decision}`, count);
    }
    if (event.status === 'stopped' && event.stopReason) {
      span.setAttributes({
        [sc.ATTR_STOP_REASON]: event.stopReason,
        [sc.ATTR_STOP_KIND]: stopKind!,
        [sc.ATTR_STOP_DETAIL]: this.#redact(event.detail ?? ''),
        [sc.ATTR_ERROR_TYPE]: stopKind!,
      });
      // Details quote errors, and errors quote connection strings and headers: the redactor sees them all.
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: this.#redact(`${event.stopReason}: ${event.detail ?? ''}`),
      });
    }
    span.end(epochNow());
  }

  #toolStart(event: ToolStartEvent): void {
    const run = this.#runs.get(event.runId);
    const state: ToolState = {
      start: event,
      startTime: event.time,
      parent: run ? this.#toolParent(run, event.runId) : context.active(),
      span: undefined,
      ctx: undefined,
    };
    if (run) run.tools.add(state);
    else this.#ensureSpan(state, undefined).end(event.time); // a tool event without its run (observer added mid-run)
  }

  #toolDecision(event: ToolDecisionEvent): void {
    const state = this.#runs.get(event.runId)?.tools.get(event.callId, event.tool);
    if (state) {
      if (state.span) state.span.setAttributes(addDecisionAttributes({}, event, this.#redact));
      else this.#ensureSpan(state, event);
    }
    this.#metrics.decisions.add(1, this.#decisionAttributes(event));
  }

  /** Makes the tool span (with the decision's attributes, when it is known) if it does not exist yet. */
  #ensureSpan(state: ToolState, decision: ToolDecisionEvent | undefined): Span {
    if (state.span) return state.span;
    const start = state.start;
    const attributes: Attributes = {
      [sc.ATTR_GEN_AI_OPERATION_NAME]: sc.GEN_AI_OPERATION_EXECUTE_TOOL,
      [sc.ATTR_GEN_AI_TOOL_NAME]: start.tool,
      [sc.ATTR_GEN_AI_TOOL_CALL_ID]: start.callId,
    };
    if (start.write) attributes[sc.ATTR_TOOL_WRITE] = true;
    if (start.recordContent && this.#recordContent) {
      attributes[sc.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS] = this.#redact(start.args);
    }
    if (decision) addDecisionAttributes(attributes, decision, this.#redact);
    const span = this.#tracer.startSpan(
      this.#spanName(start.tool),
      { kind: SpanKind.INTERNAL, attributes, startTime: state.startTime },
      state.parent,
    );
    state.span = span;
    // Work inside the tool nests under its span; a span that records nothing (not sampled, no SDK) needs no context.
    if (span.isRecording()) state.ctx = trace.setSpan(state.parent, span);
    return span;
  }

  /** A call made inside another tool of the same run (a tool that calls tools) nests under that tool's span. */
  #toolParent(run: RunState, runId: string): Context {
    const active = context.active();
    return active.getValue(TOOL_OF_RUN) === runId ? active : run.toolCtx;
  }

  #toolEnd(event: ToolEndEvent): void {
    this.#metrics.toolDuration.record(event.durationMs / 1000, this.#durationAttributes(event));
    if (event.costUsd > 0 && event.outcome !== 'refused') {
      this.#metrics.cost.add(event.costUsd, {
        [sc.ATTR_GEN_AI_AGENT_NAME]: event.agent,
        'bounded.cost.source': 'tool',
      });
    }
    const run = this.#runs.get(event.runId);
    const state = run?.tools.take(event.callId, event.tool);
    if (!run || !state) return;
    // A call stopped while it waited for approval never gets a decision: it is no longer pending either.
    if (run.pendingApprovals.size > 0) {
      for (const [approvalId, pending] of run.pendingApprovals) {
        if (pending.callId === event.callId) this.#settleApproval(run, approvalId);
      }
    }
    const span = this.#ensureSpan(state, undefined);
    // A plain successful call needs nothing more: its decision is on the span and budgets are on the run span.
    if (event.outcome !== 'ok' || event.costUsd > 0 || (event.recordContent && this.#recordContent)) {
      const attributes: Attributes = {};
      if (event.outcome !== 'ok') attributes[sc.ATTR_TOOL_OUTCOME] = event.outcome;
      if (event.costUsd > 0) attributes[sc.ATTR_COST_USD] = event.costUsd;
      if (event.recordContent && this.#recordContent && event.outcome === 'ok') {
        attributes[sc.ATTR_GEN_AI_TOOL_CALL_RESULT] = this.#redact(event.result);
      }
      if (event.outcome === 'refused' || event.outcome === 'error' || event.outcome === 'aborted') {
        attributes[sc.ATTR_ERROR_TYPE] =
          event.outcome === 'error' ? (event.error ?? 'Error').split(':')[0]! : kindOf(event.error ?? event.outcome);
        span.setStatus({ code: SpanStatusCode.ERROR, message: this.#redact(event.error ?? event.outcome) });
      }
      span.setAttributes(attributes);
    }
    // The span was started at the call's own start time, so the SDK would end it on the millisecond clock
    // (Date.now()); the event's end time keeps the duration the call really took.
    span.end(event.time);
  }

  #decisionAttributes(event: ToolDecisionEvent): Attributes {
    const build = (): Attributes => ({
      [sc.ATTR_DECISION]: event.decision,
      [sc.ATTR_GEN_AI_TOOL_NAME]: this.#toolName(event.tool),
      [sc.ATTR_GEN_AI_AGENT_NAME]: event.agent,
      ...(event.reason ? { [sc.ATTR_STOP_KIND]: kindOf(event.reason) } : {}),
    });
    if (event.reason) return build(); // refusals are rare; their reasons vary
    let byTool = this.#decisionCache.get(event.agent);
    if (!byTool) {
      if (this.#decisionCache.size >= 256) this.#decisionCache.clear();
      byTool = new Map();
      this.#decisionCache.set(event.agent, byTool);
    }
    let byDecision = byTool.get(event.tool);
    if (!byDecision) {
      if (byTool.size >= 1024) byTool.clear();
      byDecision = new Map();
      byTool.set(event.tool, byDecision);
    }
    let attributes = byDecision.get(event.decision);
    if (!attributes) {
      attributes = Object.freeze(build());
      byDecision.set(event.decision, attributes);
    }
    return attributes;
  }

  #durationAttributes(event: ToolEndEvent): Attributes {
    let byOutcome = this.#durationCache.get(event.tool);
    if (!byOutcome) {
      if (this.#durationCache.size >= 1024) this.#durationCache.clear();
      byOutcome = new Map();
      this.#durationCache.set(event.tool, byOutcome);
    }
    let attributes = byOutcome.get(event.outcome);
    if (!attributes) {
      attributes = Object.freeze({
        [sc.ATTR_GEN_AI_TOOL_NAME]: this.#toolName(event.tool),
        [sc.ATTR_TOOL_OUTCOME]: event.outcome,
      });
      byOutcome.set(event.outcome, attributes);
    }
    return attributes;
  }

  #spanName(tool: string): string {
    let name = this.#spanNames.get(tool);
    if (name === undefined) {
      if (this.#spanNames.size >= 1024) this.#spanNames.clear();
      name = `${sc.GEN_AI_OPERATION_EXECUTE_TOOL} ${tool}`;
      this.#spanNames.set(tool, name);
    }
    return name;
  }

  #settleApproval(run: RunState | undefined, approvalId: string): void {
    const pending = run?.pendingApprovals.get(approvalId);
    if (!pending) return;
    run!.pendingApprovals.delete(approvalId);
    this.#metrics.approvalsPending.add(-1, { [sc.ATTR_GEN_AI_TOOL_NAME]: pending.tool });
  }

  /** Tool names come from models; capping them keeps a metric's series count bounded whatever a model invents. */
  #toolName(tool: string): string {
    if (this.#toolNames.has(tool)) return tool;
    if (this.#toolNames.size >= this.#maxToolNames) return '_other';
    this.#toolNames.add(tool);
    return tool;
  }

  /** Mapped once per provider string: a usage event comes with every model call. */
  #providerName(provider: string): string {
    let name = this.#providerNames.get(provider);
    if (name === undefined) {
      if (this.#providerNames.size >= 256) this.#providerNames.clear();
      name = genAiProviderName(provider);
      this.#providerNames.set(provider, name);
    }
    return name;
  }

  #stopReasonLabel(reason: string): string {
    const colon = reason.indexOf(':');
    if (colon === -1) return reason;
    const kind = reason.slice(0, colon);
    // `rate_limited:tenant:acme`: one series per tenant would be unbounded; the scope's kind is enough for a metric
    // (the span keeps the whole reason).
    if (kind === 'rate_limited') {
      const scopeEnd = reason.indexOf(':', colon + 1);
      return scopeEnd === -1 ? reason : reason.slice(0, scopeEnd);
    }
    return `${kind}:${this.#toolName(reason.slice(colon + 1))}`;
  }

  #evictOldest(): void {
    const [runId, run] = this.#runs.entries().next().value as [string, RunState];
    this.#runs.delete(runId);
    for (const tool of run.tools.all()) tool.span?.end(epochNow());
    for (const approvalId of [...run.pendingApprovals.keys()]) this.#settleApproval(run, approvalId);
    run.span.setStatus({ code: SpanStatusCode.ERROR, message: 'abandoned: the run never ended' });
    run.span.end(epochNow());
  }
}

function addDecisionAttributes(attributes: Attributes, event: ToolDecisionEvent, redact: Redactor): Attributes {
  attributes[sc.ATTR_DECISION] = event.decision;
  // For a plain allow the rule adds little (the audit log has it); for anything else it is the point.
  if (event.decision !== 'allow') attributes[sc.ATTR_DECISION_RULE] = event.rule;
  if (!event.enforced) attributes[sc.ATTR_DECISION_ENFORCED] = false;
  if (event.reason) attributes[sc.ATTR_DECISION_REASON] = event.reason;
  if (event.detail) attributes[sc.ATTR_DECISION_DETAIL] = redact(event.detail);
  if (event.approvedBy) attributes[sc.ATTR_APPROVED_BY] = event.approvedBy;
  if (event.idempotencyKey) attributes[sc.ATTR_IDEMPOTENCY_KEY] = event.idempotencyKey;
  return attributes;
}

/** Only the two sides become a label value: metadata is free-form, labels must stay few. */
function canaryVariant(value: unknown): 'baseline' | 'candidate' | undefined {
  return value === 'baseline' || value === 'candidate' ? value : undefined;
}

function kindOf(reason: string): string {
  const colon = reason.indexOf(':');
  return colon === -1 ? reason : reason.slice(0, colon);
}

function budgetAttributes(budgets: readonly BudgetSnapshot[], withLimit: boolean): Attributes {
  const attributes: Attributes = {};
  for (const budget of budgets) {
    if (withLimit) attributes[sc.budgetAttribute(budget.kind, 'limit')] = budget.limit;
    attributes[sc.budgetAttribute(budget.kind, 'used')] = budget.used;
    attributes[sc.budgetAttribute(budget.kind, 'remaining')] = budget.remaining;
  }
  return attributes;
}

/** Marks the context inside a tool span with its run's id: calls made there nest under that tool. */
const TOOL_OF_RUN = createContextKey('bounded.tool_of_run');

/** Epoch milliseconds on the clock core stamps events with (sub-millisecond), for ending spans started at an event. */
function epochNow(): number {
  return performance.timeOrigin + performance.now();
}
