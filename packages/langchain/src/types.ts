import type { Budgets, RunOptions, RunResult, StopReason } from '@bounded/core';

/** How a governed run ended: on the final message of the agent's state, read with `boundedRun(state)`. */
export interface BoundedRunState {
  readonly runId: string;
  readonly status: 'ok' | 'stopped';
  /** Set when `status` is `stopped`: `max_tool_calls`, `tool_denied:admin_delete_user`, `killed`, … */
  readonly stopReason?: StopReason;
  readonly detail?: string;
  readonly usage: RunUsageSummary;
  /** Totals over the thread's runs so far, this one included (only with `thread.budgets`). */
  readonly thread?: ThreadUsage;
}

export interface RunUsageSummary {
  readonly steps: number;
  readonly toolCalls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
  readonly costUsd: number;
  readonly durationMs: number;
}

/** Usage summed over the governed runs of one conversation thread. */
export interface ThreadUsage {
  readonly runs: number;
  readonly steps: number;
  readonly toolCalls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
}

/** Budgets that span every turn of a thread (wall-clock seconds and per-tool limits stay per run). */
export type ThreadBudgets = Pick<
  Budgets,
  'max_steps' | 'max_tool_calls' | 'max_tokens' | 'max_input_tokens' | 'max_output_tokens' | 'max_usd'
>;

/** What the middleware knows about an invocation when it starts its run. */
export interface InvocationInfo {
  /** `invoke(input, { context })`: LangChain's per-invocation context. */
  readonly context: unknown;
  /** `configurable.thread_id`, when the agent runs on a thread. */
  readonly threadId: string | undefined;
}

/** Per-invocation run settings: who the run is for, and budgets tighter than the policy's. */
export type InvocationRunOptions = Partial<Pick<RunOptions, 'agent' | 'tenant' | 'budgets' | 'metadata' | 'runId'>>;

export interface BoundedMiddlewareOptions {
  /** Agent name of the runs (budgets, cross-run limits and the kill switch apply per agent). Default `agent`. */
  readonly agent?: string;
  /** Budgets for every run, tightening the policy's (each limit is the stricter of the two). */
  readonly budgets?: Budgets;
  /** Run settings from the invocation, e.g. the tenant from `context`. Wins over `agent` and `budgets`. */
  readonly runOptions?: (invocation: InvocationInfo) => InvocationRunOptions | undefined;
  /**
   * Budgets across the turns of one thread, for chat apps (needs a checkpointer and a `thread_id`). Each run
   * gets what the thread has left; the totals ride on each turn's final message (`boundedRun(state).thread`).
   */
  readonly thread?: { readonly budgets: ThreadBudgets };
  /** `end` (default): a stop ends the run with a final message. `error`: the invocation throws AgentStoppedError. */
  readonly exitBehavior?: 'end' | 'error';
  /**
   * A tool error becomes an error ToolMessage the model can react to (default, as LangChain does without
   * middleware); `false` lets it fail the invocation.
   */
  readonly handleToolErrors?: boolean;
  /** Maps a LangChain tool name to the policy's name (`kb_search` -> `kb.search`). */
  readonly toolName?: (name: string) => string;
  /** Model id for pricing when the response does not name one (`response_metadata.model_name`). */
  readonly model?: string;
  /** The final message when a stop ends the run. */
  readonly stopMessage?: (stop: { readonly reason: StopReason; readonly detail: string }) => string;
  /** Told every run's result as it ends. Errors it throws are ignored. */
  readonly onRunEnd?: (result: RunResult<unknown>, invocation: InvocationInfo) => void;
  /** Middleware name (LangChain requires unique names per agent). Default `Bounded`. */
  readonly name?: string;
}
