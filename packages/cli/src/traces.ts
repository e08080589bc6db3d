import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { JsonStreamError, JsonValueStream, type RawHandler } from './json-stream.js';
import { INCOMPLETE, own, readJaegerSpan, readOtlpSpan, ScannedSpan, scanJaegerSpan } from './span-text.js';

/** One tool call of a run, as its span (or audit records) tell it. */
export interface ToolCallRecord {
  readonly tool: string;
  /** Epoch milliseconds. */
  readonly start: number;
  readonly durationMs: number;
  /** The gateway's decision: allow, deny, dedup, approved, rejected, shadow_deny (or `unknown`). */
  readonly decision: string;
  /** For refusals: the stop reason it is. */
  readonly reason: string | undefined;
  readonly rule: string | undefined;
  /** ok, error, aborted, dedup, refused, interrupted. */
  readonly outcome: string;
  readonly approvedBy: string | undefined;
}

/** Something that happened in a run at a moment (or over a while): a step, a model call, a workflow step, the stop. */
export interface TimelineMark {
  readonly kind: 'step' | 'usage' | 'workflow_step' | 'stop' | 'approval';
  readonly time: number;
  readonly durationMs: number;
  readonly label: string;
}

/** One governed run, rebuilt from its spans or from the audit log. */
export interface RunRecord {
  readonly runId: string;
  readonly traceId: string | undefined;
  readonly agent: string;
  readonly mode: string;
  readonly parentRunId: string | undefined;
  readonly tenant: string | undefined;
  /** Epoch milliseconds. */
  readonly start: number;
  readonly durationMs: number;
  /** `ok`, `stopped`, or `unknown` when the run never ended in the record. */
  readonly status: 'ok' | 'stopped' | 'unknown';
  readonly stopReason: string | undefined;
  readonly stopDetail: string | undefined;
  readonly steps: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
  readonly handledBy: string | undefined;
  readonly metadata: Readonly<Record<string, string | number | boolean>>;
  /** In start order. */
  readonly tools: readonly ToolCallRecord[];
  /** Only when asked for (`withMarks`), in time order. */
  readonly marks: readonly TimelineMark[];
}

/** What mining needs of a run (a worker thread sends these instead of whole runs). */
export interface RunSummary {
  readonly agent: string;
  readonly mode: string;
  readonly status: 'ok' | 'stopped' | 'unknown';
  readonly stopReason: string | undefined;
  readonly tokens: number;
  readonly costUsd: number;
  readonly durationMs: number;
  /** The tools the gateway let through, in order. */
  readonly path: readonly string[];
  /** Calls the gateway refused. */
  readonly refused: number;
}

export function summarizeRun(run: RunRecord): RunSummary {
  return {
    agent: run.agent,
    mode: run.mode,
    status: run.status,
    stopReason: run.stopReason,
    tokens: run.inputTokens + run.outputTokens,
    costUsd: run.costUsd,
    durationMs: run.durationMs,
    path: toolPath(run),
    refused: run.tools.reduce((sum, call) => sum + (call.outcome === 'refused' ? 1 : 0), 0),
  };
}

/** Decisions under which a tool call ran (or replayed its recorded result): they make up a run's path. */
const ADMITTED = new Set(['allow', 'approved', 'dedup', 'shadow_deny', 'unknown']);

export function isAdmitted(call: ToolCallRecord): boolean {
  return ADMITTED.has(call.decision);
}

/** A run's path: the tools it called that the gateway let through, in order. */
export function toolPath(run: RunRecord): string[] {
  const path: string[] = [];
  for (const call of run.tools) if (ADMITTED.has(call.decision)) path.push(call.tool);
  return path;
}

interface MutableRun {
  runId: string;
  traceId: string | undefined;
  agent: string;
  mode: string;
  parentRunId: string | undefined;
  tenant: string | undefined;
  start: number;
  durationMs: number;
  status: 'ok' | 'stopped' | 'unknown';
  stopReason: string | undefined;
  stopDetail: string | undefined;
  steps: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  handledBy: string | undefined;
  metadata: Record<string, string | number | boolean>;
  tools: ToolCallRecord[];
  marks: TimelineMark[];
}

export interface CollectorOptions {
  /** Keep span events as timeline marks (for reports). Default false: mining needs only runs and tool calls. */
  readonly withMarks?: boolean;
}

/**
 * Rebuilds runs from spans in any order: a run span (`invoke_agent <agent>`, `invoke_workflow <name>`) is a run, an
 * `execute_tool <tool>` span under it one of its tool calls. Other spans are counted and ignored.
 */
export class RunCollector {
  readonly #runs = new Map<string, MutableRun>();
  /** Tool calls whose run span has not been seen yet, by the run span's key. */
  readonly #orphans = new Map<string, ToolCallRecord[]>();
  readonly #withMarks: boolean;
  /** Reused for every tool span: its tags are read into it one at a time. */
  readonly #toolTags = new ToolTags();
  /** The trace of the span read last (Jaeger JSON). */
  #trace: string | undefined;
  /** The run span added last, and its key. */
  #lastRun: MutableRun | undefined;
  #lastRunKey = '';
  readonly #toolNames = new Map<string, string>();
  spans = 0;

  constructor(options: CollectorOptions = {}) {
    this.#withMarks = options.withMarks ?? false;
  }

  /** Whether span events are kept as timeline marks. */
  get withMarks(): boolean {
    return this.#withMarks;
  }

  /** A span from Jaeger's JSON (`/api/traces`, or the UI's "Download JSON"). */
  addJaegerSpan(span: JaegerSpan): void {
    this.spans++;
    const name = span.operationName;
    if (typeof name !== 'string') return;
    const kind = spanKind(name);
    if (kind === OTHER) return;
    const traceId = span.traceID;
    this.#trace = traceId;
    const tags = span.tags ?? [];
    let parent: string | undefined;
    for (const ref of span.references ?? []) {
      if (ref.refType === 'CHILD_OF') {
        parent = ref.spanID;
        break;
      }
    }
    const start = span.startTime / 1000;
    const durationMs = span.duration / 1000;
    if (kind === TOOL) {
      const read = this.#toolTags.reset();
      for (const tag of tags) read.read(tag.key, tag.value);
      const tool = read.tool ?? this.#toolOf(name);
      this.#addTool(parent, read.record(tool, start, durationMs));
      this.#addLogMarks(this.#runs.get(parent ?? ''), span.logs, tool);
      return;
    }
    const run = this.#newRun(traceId, span.spanID, name, kind, start, durationMs);
    for (const tag of tags) applyRunAttribute(run, tag.key, tag.value);
    this.#addLogMarks(run, span.logs, undefined);
  }

  /** A Jaeger span read in place (`scanJaegerSpan`): what `addJaegerSpan` does with it, without the span object. */
  addScannedJaegerSpan(span: ScannedSpan): void {
    this.spans++;
    this.#trace = span.traceID;
    const name = span.operationName;
    const kind = spanKind(name);
    if (kind === OTHER) return;
    const start = span.startTime / 1000;
    const durationMs = span.duration / 1000;
    const keys = span.keys;
    const values = span.values;
    if (kind === TOOL) {
      const read = this.#toolTags.reset();
      for (let i = 0; i < span.count; i++) read.read(keys[i]!, values[i]);
      const tool = read.tool ?? this.#toolOf(name);
      const call = read.record(tool, start, durationMs);
      // The run span just read is the usual parent (a trace's run span, then its tool spans): no id to make.
      const parent = span.parent;
      const last = this.#lastRun;
      if (last && parent === this.#lastRunKey) last.tools.push(call);
      else this.#addTool(parent === undefined ? undefined : own(parent), call);
      this.#addLogMarks(this.#runs.get(parent ?? ''), span.logs, tool);
      return;
    }
    const run = this.#newRun(own(span.traceID), own(span.spanID), name, kind, start, durationMs);
    for (let i = 0; i < span.count; i++) applyRunAttribute(run, keys[i]!, values[i]);
    this.#addLogMarks(run, span.logs, undefined);
  }

  /** Jaeger span logs as timeline marks of `run` (only when marks are wanted). */
  #addLogMarks(run: MutableRun | undefined, logs: readonly JaegerLog[] | undefined, tool: string | undefined): void {
    if (!this.#withMarks || !logs || !run) return;
    for (const log of logs) {
      const mark = jaegerLogMarks(log, tool);
      if (mark) run.marks.push(mark);
    }
  }

  /** `execute_tool <tool>`: the tool, made once a name. */
  #toolOf(name: string): string {
    let tool = this.#toolNames.get(name);
    if (tool === undefined) {
      // Copies: a span's name can be a view into a megabyte of input, kept alive as long as the name is.
      tool = own(name.slice(TOOL_PREFIX.length));
      if (this.#toolNames.size < 4096) this.#toolNames.set(own(name), tool);
    }
    return tool;
  }

  /** A span from OTLP JSON (`resourceSpans[].scopeSpans[].spans[]`). */
  addOtlpSpan(span: OtlpSpan): void {
    this.spans++;
    const name = span.name;
    if (typeof name !== 'string') return;
    const kind = spanKind(name);
    if (kind === OTHER) return;
    const traceId = span.traceId;
    const start = nanosToMs(span.startTimeUnixNano);
    const durationMs = nanosToMs(span.endTimeUnixNano) - start;
    const attributes = span.attributes ?? [];
    if (kind === TOOL) {
      const read = this.#toolTags.reset();
      for (const attribute of attributes) read.read(attribute.key, otlpValue(attribute.value));
      const tool = read.tool ?? this.#toolOf(name);
      const parent = span.parentSpanId || undefined;
      this.#addTool(parent, read.record(tool, start, durationMs));
      return;
    }
    const run = this.#newRun(traceId, span.spanId, name, kind, start, durationMs);
    for (const attribute of attributes) applyRunAttribute(run, attribute.key, otlpValue(attribute.value));
    if (this.#withMarks && span.events) {
      for (const event of span.events) {
        const fields: Record<string, unknown> = {};
        for (const attribute of event.attributes ?? []) fields[attribute.key] = otlpValue(attribute.value);
        const mark = eventMark(event.name, nanosToMs(event.timeUnixNano), fields, undefined);
        if (mark) run.marks.push(mark);
      }
    }
  }

  /** A run told by other means (the audit log). */
  addRun(run: RunRecord): void {
    this.#lastRun = undefined;
    this.#runs.set(`audit/${run.runId}`, {
      ...run,
      metadata: { ...run.metadata },
      tools: [...run.tools],
      marks: [...run.marks],
    });
  }

  #newRun(traceId: string, spanId: string, name: string, kind: number, start: number, durationMs: number): MutableRun {
    // Span ids are 64 random bits: unique enough across the traces of one input to key runs by them alone.
    const key = spanId;
    const run: MutableRun = {
      runId: spanId,
      traceId,
      agent: name.slice(kind === AGENT ? AGENT_PREFIX.length : WORKFLOW_PREFIX.length),
      mode: kind === AGENT ? 'agent' : 'workflow',
      parentRunId: undefined,
      tenant: undefined,
      start,
      durationMs,
      status: 'unknown',
      stopReason: undefined,
      stopDetail: undefined,
      steps: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      handledBy: undefined,
      metadata: {},
      tools: this.#orphans.get(key) ?? [],
      marks: [],
    };
    this.#orphans.delete(key);
    this.#runs.set(key, run);
    this.#lastRun = run;
    this.#lastRunKey = key;
    return run;
  }

  #addTool(parent: string | undefined, call: ToolCallRecord): void {
    const key = parent ?? '';
    const run = this.#runs.get(key);
    if (run) {
      run.tools.push(call);
      return;
    }
    let waiting = this.#orphans.get(key);
    if (!waiting) {
      waiting = [];
      this.#orphans.set(key, waiting);
    }
    waiting.push(call);
  }

  /** Tool spans whose run span never came (a trace cut short, or tools outside a governed run). */
  get orphanToolCalls(): number {
    let count = 0;
    for (const calls of this.#orphans.values()) count += calls.length;
    return count;
  }

  /** The runs, oldest first, each with its tool calls and marks in time order. */
  runs(): RunRecord[] {
    const runs = [...this.#runs.values()];
    for (const run of runs) inTimeOrder(run);
    return runs.sort((a, b) => a.start - b.start);
  }

  /**
   * Takes out the runs of the Jaeger traces read to their end, in the order they came, each with its tool calls and
   * marks in time order. Only for input whose traces are not interleaved (Jaeger's JSON has a trace's spans
   * together): there a trace is over once a span of another has come. The trace being read stays. Keeping no more
   * than that is what lets a large file be mined in little memory (and fast: a heap of finished runs is slow to
   * collect).
   */
  takeFinishedRuns(): RunRecord[] {
    const current = this.#trace;
    const done: RunRecord[] = [];
    for (const [key, run] of this.#runs) {
      if (run.traceId === current) continue;
      this.#runs.delete(key);
      done.push(inTimeOrder(run));
    }
    if (this.#lastRun && this.#lastRun.traceId !== current) {
      this.#lastRun = undefined;
      this.#lastRunKey = '';
    }
    return done;
  }
}

function inTimeOrder(run: MutableRun): MutableRun {
  if (run.tools.length > 1) run.tools.sort((a, b) => a.start - b.start);
  if (run.marks.length > 1) run.marks.sort((a, b) => a.time - b.time);
  return run;
}

const OTHER = 0;
const AGENT = 1;
const WORKFLOW = 2;
const TOOL = 3;
const AGENT_PREFIX = 'invoke_agent ';
const WORKFLOW_PREFIX = 'invoke_workflow ';
const TOOL_PREFIX = 'execute_tool ';

function spanKind(name: string): number {
  const first = name.charCodeAt(0);
  if (first === 0x65 /* e */) return name.startsWith(TOOL_PREFIX) ? TOOL : OTHER;
  if (first === 0x69 /* i */) {
    if (name.startsWith(AGENT_PREFIX)) return AGENT;
    if (name.startsWith(WORKFLOW_PREFIX)) return WORKFLOW;
  }
  return OTHER;
}

function applyRunAttribute(run: MutableRun, key: string, value: unknown): void {
  switch (key) {
    case 'bounded.run.id':
      run.runId = String(value);
      return;
    case 'gen_ai.agent.name':
    case 'gen_ai.workflow.name':
      run.agent = String(value);
      return;
    case 'bounded.mode':
      run.mode = String(value);
      return;
    case 'bounded.run.parent_id':
      run.parentRunId = String(value);
      return;
    case 'bounded.tenant':
      run.tenant = String(value);
      return;
    case 'bounded.status':
      run.status = value === 'ok' ? 'ok' : value === 'stopped' ? 'stopped' : 'unknown';
      return;
    case 'bounded.stop_reason':
      run.stopReason = String(value);
      return;
    case 'bounded.stop.detail':
      run.stopDetail = String(value);
      return;
    case 'bounded.steps':
      run.steps = Number(value);
      return;
    case 'gen_ai.usage.input_tokens':
      run.inputTokens = Number(value);
      return;
    case 'gen_ai.usage.output_tokens':
      run.outputTokens = Number(value);
      return;
    case 'bounded.cost.usd':
      run.costUsd = Number(value);
      return;
    case 'bounded.handled_by':
      run.handledBy = String(value);
      return;
  }
  if (key.startsWith('bounded.metadata.')) {
    run.metadata[key.slice('bounded.metadata.'.length)] = value as string | number | boolean;
  }
}

/** A tool span's Bounded tags, whatever format they come in, read one at a time. */
class ToolTags {
  tool: string | undefined = undefined;
  decision = 'unknown';
  reason: string | undefined = undefined;
  rule: string | undefined = undefined;
  outcome = 'ok';
  approvedBy: string | undefined = undefined;

  reset(): this {
    this.tool = undefined;
    this.decision = 'unknown';
    this.reason = undefined;
    this.rule = undefined;
    this.outcome = 'ok';
    this.approvedBy = undefined;
    return this;
  }

  read(key: string, value: unknown): void {
    switch (key) {
      case 'gen_ai.tool.name':
        this.tool = String(value);
        return;
      case 'bounded.decision':
        this.decision = String(value);
        return;
      case 'bounded.decision.reason':
        this.reason = String(value);
        return;
      case 'bounded.decision.rule':
        this.rule = String(value);
        return;
      case 'bounded.tool.outcome':
        this.outcome = String(value);
        return;
      case 'bounded.approved_by':
        this.approvedBy = String(value);
        return;
    }
  }

  /** The call; a refused call whose span says nothing of its outcome is `refused`. */
  record(tool: string, start: number, durationMs: number): ToolCallRecord {
    const { decision, outcome } = this;
    return {
      tool,
      start,
      durationMs,
      decision,
      reason: this.reason,
      rule: this.rule,
      outcome: outcome === 'ok' && (decision === 'deny' || decision === 'rejected') ? 'refused' : outcome,
      approvedBy: this.approvedBy,
    };
  }
}

function jaegerLogMarks(log: JaegerLog, tool: string | undefined): TimelineMark | undefined {
  let name: string | undefined;
  const fields: Record<string, unknown> = {};
  for (const field of log.fields ?? []) {
    if (field.key === 'event') name = String(field.value);
    else fields[field.key] = field.value;
  }
  return name ? eventMark(name, log.timestamp / 1000, fields, tool) : undefined;
}

/** A span event of @bounded/otel as a timeline mark. */
function eventMark(
  name: string,
  time: number,
  fields: Record<string, unknown>,
  tool: string | undefined,
): TimelineMark | undefined {
  switch (name) {
    case 'bounded.step': {
      const label = fields['bounded.step.name'] ?? `step ${fields['bounded.step.index'] ?? ''}`;
      return { kind: 'step', time, durationMs: 0, label: String(label) };
    }
    case 'bounded.usage': {
      const input = Number(fields['gen_ai.usage.input_tokens'] ?? 0);
      const output = Number(fields['gen_ai.usage.output_tokens'] ?? 0);
      const model = fields['gen_ai.request.model'];
      return { kind: 'usage', time, durationMs: 0, label: `${model ? `${model} ` : ''}${input} in / ${output} out` };
    }
    case 'bounded.workflow_step': {
      const durationMs = Number(fields['bounded.duration_ms'] ?? 0);
      // The event is recorded when the step ends.
      return {
        kind: 'workflow_step',
        time: time - durationMs,
        durationMs,
        label: `${fields['bounded.workflow.step']} (${fields['bounded.outcome']})`,
      };
    }
    case 'bounded.stop':
      return { kind: 'stop', time, durationMs: 0, label: String(fields['bounded.stop_reason'] ?? 'stopped') };
    case 'bounded.approval.requested':
      return { kind: 'approval', time, durationMs: 0, label: `${tool ?? 'write'} held for approval` };
    case 'bounded.approval.decided': {
      const verdict = fields['bounded.approval.approved'] === true ? 'approved' : 'rejected';
      return {
        kind: 'approval',
        time,
        durationMs: 0,
        label: `${tool ?? 'write'} ${verdict} by ${fields['bounded.approved_by']}`,
      };
    }
  }
  return undefined;
}

// ---- input formats ------------------------------------------------------------------------------------------

export interface JaegerTag {
  readonly key: string;
  readonly type?: string;
  readonly value: unknown;
}
export interface JaegerLog {
  readonly timestamp: number;
  readonly fields?: readonly JaegerTag[];
}
export interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly references?: ReadonlyArray<{ readonly refType: string; readonly spanID: string }>;
  /** Epoch microseconds. */
  readonly startTime: number;
  /** Microseconds. */
  readonly duration: number;
  readonly tags?: readonly JaegerTag[];
  readonly logs?: readonly JaegerLog[];
}
export interface JaegerTrace {
  readonly traceID: string;
  readonly spans: readonly JaegerSpan[];
}

export interface OtlpAttribute {
  readonly key: string;
  readonly value: OtlpAnyValue;
}
export interface OtlpAnyValue {
  readonly stringValue?: string;
  readonly intValue?: string | number;
  readonly doubleValue?: number;
  readonly boolValue?: boolean;
}
export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly startTimeUnixNano: string | number;
  readonly endTimeUnixNano: string | number;
  readonly attributes?: readonly OtlpAttribute[];
  readonly events?: ReadonlyArray<{
    readonly timeUnixNano: string | number;
    readonly name: string;
    readonly attributes?: readonly OtlpAttribute[];
  }>;
}

function otlpValue(value: OtlpAnyValue | undefined): string | number | boolean | undefined {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  return undefined;
}

function nanosToMs(nanos: string | number): number {
  if (typeof nanos === 'number') return nanos / 1e6;
  // Nanoseconds since the epoch do not fit a double exactly; milliseconds with microsecond precision do.
  const micros = nanos.length > 3 ? Number(nanos.slice(0, -3)) : 0;
  return micros / 1000;
}

/**
 * Where a trace document holds its spans: Jaeger's `/api/traces` answer and JSON download (`data[].spans[]`), one
 * Jaeger trace a line (`spans[]`), OTLP JSON (`resourceSpans[]…spans[]`, also inside `result` as Jaeger's
 * `/api/v3/traces` answers). Spans are read from their text (`span-text.ts`), not parsed whole.
 */
const JAEGER_SPAN_PATHS = ['data[].spans[]', 'spans[]'];
const OTLP_SPAN_PATHS = ['resourceSpans[].scopeSpans[].spans[]', 'result.resourceSpans[].scopeSpans[].spans[]'];

/** Feeds trace documents (any of the formats above, in chunks) to a collector. */
export function traceStream(collector: RunCollector): JsonValueStream {
  const withMarks = collector.withMarks;
  const raw: Record<string, RawHandler> = {};
  const read =
    <T>(reader: (text: string, start: number, end: number, full: boolean) => [T, number], add: (span: T) => void) =>
    (text: string, start: number, end: number): number => {
      let result: [T, number];
      try {
        result = reader(text, start, end, withMarks);
      } catch (error) {
        if (error === INCOMPLETE) return -1;
        throw error;
      }
      add(result[0]);
      return result[1];
    };
  const scanned = new ScannedSpan();
  const readJaeger = read(readJaegerSpan, span => collector.addJaegerSpan(span));
  // Compact spans are read in place; any other layout (or a span cut by the end of a chunk) by the full reader.
  const jaeger = (text: string, start: number, end: number): number => {
    const spanEnd = scanJaegerSpan(text, start, end, withMarks, scanned);
    if (spanEnd < 0) return readJaeger(text, start, end);
    collector.addScannedJaegerSpan(scanned);
    return spanEnd;
  };
  for (const path of JAEGER_SPAN_PATHS) raw[path] = jaeger;
  for (const path of OTLP_SPAN_PATHS) raw[path] = read(readOtlpSpan, span => collector.addOtlpSpan(span));
  return new JsonValueStream([], () => {}, raw);
}

export interface ReadProgress {
  readonly bytes: number;
  readonly totalBytes: number | undefined;
  readonly spans: number;
}

/** The trace input could not be read or is not a trace document. */
export class TraceInputError extends Error {
  readonly code: 'TRACES_UNREADABLE' | 'TRACES_INVALID' | 'JAEGER_UNREACHABLE';
  constructor(code: TraceInputError['code'], message: string) {
    super(message);
    this.name = 'TraceInputError';
    this.code = code;
  }
}

/** Reads a trace file (Jaeger JSON, OTLP JSON, or JSON Lines of either) in chunks into the collector. */
export async function readTraceFile(
  file: string,
  collector: RunCollector,
  onProgress?: (progress: ReadProgress) => void,
): Promise<void> {
  let totalBytes: number;
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new TraceInputError('TRACES_UNREADABLE', `cannot read ${file}: it is a directory`);
    totalBytes = info.size;
  } catch (error) {
    if (error instanceof TraceInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new TraceInputError(
      'TRACES_UNREADABLE',
      `cannot read ${file}: ${code === 'ENOENT' ? 'file not found' : (error as Error).message}`,
    );
  }
  const stream = traceStream(collector);
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      stream.write(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      onProgress?.({ bytes, totalBytes, spans: collector.spans });
    }
    stream.end();
  } catch (error) {
    if (error instanceof JsonStreamError) {
      throw new TraceInputError('TRACES_INVALID', `${file}: ${error.message}${auditLogHint(file)}`);
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code) throw new TraceInputError('TRACES_UNREADABLE', `cannot read ${file}: ${(error as Error).message}`);
    throw error;
  }
  if (stream.values === 0) {
    throw new TraceInputError(
      'TRACES_INVALID',
      `${file}: no spans found; expected Jaeger JSON ({ "data": [traces] }) or OTLP JSON ({ "resourceSpans": [...] })${auditLogHint(file)}`,
    );
  }
}

/** Said when the file given for traces is a Bounded audit log, the other JSON a user has at hand. */
function auditLogHint(file: string): string {
  let first: unknown;
  try {
    const fd = openSync(file, 'r');
    try {
      const head = Buffer.alloc(4096);
      const length = readSync(fd, head, 0, head.length, 0);
      first = JSON.parse(head.subarray(0, length).toString('utf8').split('\n')[0] ?? '');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
  const record = first as { seq?: unknown; hash?: unknown; prev?: unknown } | null;
  if (typeof record?.seq !== 'number' || typeof record.hash !== 'string' || typeof record.prev !== 'string') return '';
  return `. It is a Bounded audit log (JSON lines): \`bounded audit verify ${file}\` checks it; reports read traces`;
}

export interface JaegerQuery {
  /** Jaeger's query service, e.g. http://127.0.0.1:16686. */
  readonly url: string;
  readonly service: string;
  /** Epoch milliseconds: only traces that started since. */
  readonly since?: number;
  /** Traces at most. */
  readonly limit?: number;
  /** Only runs of this operation (span name), e.g. `invoke_agent support-agent`. */
  readonly operation?: string;
}

/** Reads traces from Jaeger's query API (`/api/traces`), streaming the answer into the collector. */
export async function readJaegerTraces(
  query: JaegerQuery,
  collector: RunCollector,
  onProgress?: (progress: ReadProgress) => void,
): Promise<void> {
  const params = new URLSearchParams({ service: query.service, limit: String(query.limit ?? 10_000) });
  if (query.since !== undefined) {
    params.set('start', String(Math.floor(query.since * 1000)));
    params.set('end', String(Date.now() * 1000));
  }
  if (query.operation) params.set('operation', query.operation);
  const url = `${query.url.replace(/\/+$/, '')}/api/traces?${params}`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new TraceInputError(
      'JAEGER_UNREACHABLE',
      `cannot reach Jaeger at ${query.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => '');
    throw new TraceInputError(
      'JAEGER_UNREACHABLE',
      `Jaeger at ${query.url} answered ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`,
    );
  }
  const length = Number(response.headers.get('content-length'));
  const totalBytes = Number.isFinite(length) && length > 0 ? length : undefined;
  const stream = traceStream(collector);
  let bytes = 0;
  try {
    for await (const chunk of response.body) {
      stream.write(chunk);
      bytes += chunk.byteLength;
      onProgress?.({ bytes, totalBytes, spans: collector.spans });
    }
    stream.end();
  } catch (error) {
    if (error instanceof JsonStreamError) {
      throw new TraceInputError('TRACES_INVALID', `Jaeger's answer from ${query.url}: ${error.message}`);
    }
    throw error;
  }
}

/** `1h`, `30m`, `2d`, `45s`, or an ISO date: the epoch milliseconds it means. Undefined if it is neither. */
export function parseSince(text: string, now = Date.now()): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (match) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(match[1]) * unit;
  }
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : date;
}
