import type { RunMode } from './policy/types.js';
import type { StopReason } from './stop-reason.js';

/** How the gateway decided one tool call. */
export type Decision = 'allow' | 'deny' | 'dedup' | 'approved' | 'rejected' | 'shadow_deny';

export type BudgetKind = 'steps' | 'tool_calls' | 'seconds' | 'tokens' | 'input_tokens' | 'output_tokens' | 'usd';

export interface BudgetSnapshot {
  readonly kind: BudgetKind;
  readonly limit: number;
  readonly used: number;
  readonly remaining: number;
}

export interface RunUsage {
  readonly steps: number;
  /** Calls admitted by the gateway (deduplicated calls included; refused calls not). */
  readonly toolCalls: number;
  readonly toolCallsByTool: Readonly<Record<string, number>>;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
  readonly costUsd: number;
  readonly durationMs: number;
  /** Decisions on tool calls, one per `tool.decision` event (a shadow stop of a step or token budget is not one). */
  readonly decisions: Readonly<Record<Decision, number>>;
}

export type KillTarget =
  | { readonly scope: 'global' }
  | { readonly scope: 'agent'; readonly agent: string }
  | { readonly scope: 'run'; readonly runId: string };

export interface KillRecord {
  readonly target: KillTarget;
  readonly reason: string;
  readonly by: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

interface EventBase {
  /** Epoch milliseconds (tool events have sub-millisecond precision). */
  readonly time: number;
  readonly runId: string;
  readonly agent: string;
}

export interface RunStartEvent extends EventBase {
  readonly type: 'run.start';
  readonly mode: RunMode;
  readonly tenant: string | undefined;
  readonly parentRunId: string | undefined;
  readonly budgets: readonly BudgetSnapshot[];
  readonly enforcement: 'enforce' | 'shadow';
  readonly metadata: Readonly<Record<string, string | number | boolean>>;
}

export interface StepEvent extends EventBase {
  readonly type: 'step';
  /** 1-based. */
  readonly index: number;
  readonly name: string | undefined;
  readonly budgets: readonly BudgetSnapshot[];
}

export interface ToolStartEvent extends EventBase {
  readonly type: 'tool.start';
  readonly callId: string;
  readonly tool: string;
  readonly write: boolean;
  /** The arguments, by reference. Record them only when `recordContent` is true, and redacted. */
  readonly args: unknown;
  readonly recordContent: boolean;
}

export interface ToolDecisionEvent extends EventBase {
  readonly type: 'tool.decision';
  readonly callId: string;
  readonly tool: string;
  readonly decision: Decision;
  /** For refusals and shadow denials: the stop reason it is (or would be). */
  readonly reason: StopReason | undefined;
  /** The policy rule that decided, e.g. `tools.allow[0] "kb.*"` or `budgets.max_tool_calls`. */
  readonly rule: string;
  readonly detail: string | undefined;
  /** Who approved or rejected a write. */
  readonly approvedBy: string | undefined;
  /** False in shadow mode: the decision was recorded, not applied. */
  readonly enforced: boolean;
  readonly idempotencyKey: string | undefined;
}

export type ToolOutcome = 'ok' | 'error' | 'aborted' | 'dedup' | 'refused' | 'interrupted';

export interface ToolEndEvent extends EventBase {
  readonly type: 'tool.end';
  readonly callId: string;
  readonly tool: string;
  readonly outcome: ToolOutcome;
  readonly durationMs: number;
  readonly costUsd: number;
  readonly error: string | undefined;
  /** The result, by reference; see `ToolStartEvent.args`. */
  readonly result: unknown;
  readonly recordContent: boolean;
  /** Every limited budget as it stood when the call ended (built when first read). */
  readonly budgets: readonly BudgetSnapshot[];
  /** Tool calls the run has admitted so far, and its limit: the budget a tool call moves. */
  readonly toolCalls: number;
  readonly toolCallsLimit: number | undefined;
  /** Calls of this tool in the run so far. */
  readonly toolCallsOfTool: number;
}

export interface UsageEvent extends EventBase {
  readonly type: 'usage';
  readonly model: string | undefined;
  /** Who served the model, as the framework names it (see `UsageInput.provider`). */
  readonly provider?: string | undefined;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
  readonly budgets: readonly BudgetSnapshot[];
}

export interface ApprovalRequestedEvent extends EventBase {
  readonly type: 'approval.requested';
  readonly approvalId: string;
  readonly callId: string;
  readonly tool: string;
}

export interface ApprovalDecidedEvent extends EventBase {
  readonly type: 'approval.decided';
  readonly approvalId: string;
  readonly callId: string;
  readonly tool: string;
  readonly approved: boolean;
  readonly by: string;
  readonly reason: string | undefined;
  readonly timedOut: boolean;
  readonly waitedMs: number;
}

/** The moment a run stops (the run ends right after). */
export interface RunStopEvent extends EventBase {
  readonly type: 'run.stop';
  readonly reason: StopReason;
  readonly detail: string;
  /** The policy rule that stopped it, e.g. `budgets.max_tool_calls`, `kill_switch`. */
  readonly rule: string;
}

/** Shadow mode: the run would have stopped here under `enforce`, and went on. */
export interface RunShadowStopEvent extends EventBase {
  readonly type: 'run.shadow_stop';
  readonly reason: StopReason;
  readonly detail: string;
  readonly rule: string;
}

export interface RunEndEvent extends EventBase {
  readonly type: 'run.end';
  readonly mode: RunMode;
  readonly status: 'ok' | 'stopped';
  readonly stopReason: StopReason | undefined;
  readonly detail: string | undefined;
  readonly usage: RunUsage;
  readonly budgets: readonly BudgetSnapshot[];
  /** For workflows: whether the workflow or its escalation agent produced the outcome. */
  readonly handledBy: 'workflow' | 'agent' | undefined;
}

export interface WorkflowStepEvent extends EventBase {
  readonly type: 'workflow.step';
  readonly step: string;
  readonly attempt: number;
  readonly outcome: 'ok' | 'retry' | 'failed' | 'escalate';
  readonly durationMs: number;
  readonly error: string | undefined;
}

export interface KillEvent {
  readonly type: 'kill' | 'revive';
  readonly time: number;
  readonly record: KillRecord;
}

/** Everything observable, as one union. OTel, the audit log and reports all read these. */
export type BoundedEvent =
  | RunStartEvent
  | StepEvent
  | ToolStartEvent
  | ToolDecisionEvent
  | ToolEndEvent
  | UsageEvent
  | ApprovalRequestedEvent
  | ApprovalDecidedEvent
  | RunStopEvent
  | RunShadowStopEvent
  | RunEndEvent
  | WorkflowStepEvent
  | KillEvent;

export type BoundedEventType = BoundedEvent['type'];

/**
 * Watches a governor. `onEvent` is called synchronously and must be quick; an observer that throws is caught and
 * counted, never breaking the run. `wrap` lets an observer run the run body or a tool's execution inside its own
 * context (an active span, say), so work done there nests correctly.
 */
export interface Observer {
  readonly name?: string;
  onEvent?(event: BoundedEvent): void;
  wrap?<T>(scope: RunStartEvent | ToolDecisionEvent, fn: () => T): T;
}
