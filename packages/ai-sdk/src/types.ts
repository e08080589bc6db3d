import type { ActiveRun, RunOptions, RunResult, RunStopped, StopReason } from '@bounded/core';
import type {
  BoundedMiddleware,
  BoundedStopCondition,
  BoundedToolApproval,
  GovernedModel,
  GovernedSettings,
  LanguageModelLike,
  SettingsLike,
  StreamingResultLike,
} from './sdk-types.js';

export interface BoundedAIOptions {
  /**
   * The policy's name for each SDK tool key where the two differ, e.g. `{ crmUpdate: 'crm.update' }`: providers
   * refuse dots in tool names, policies use them.
   */
  readonly toolNames?: Readonly<Record<string, string>>;
  /**
   * Who approves writes that need approval (`writes.require_approval`). `bounded` (the default): the governor's
   * approver, while the tool call waits. `sdk`: the AI SDK's own flow; the call ends with a `tool-approval-request`,
   * your app answers with a `tool-approval-response`, and the next call runs the write (pass `sdkApprover()` to
   * `createGovernor` so the gateway honours that answer).
   */
  readonly approvals?: 'bounded' | 'sdk';
}

/**
 * One governed run, as the AI SDK sees it: everything to pass to `generateText`, `streamText` or a `ToolLoopAgent`.
 *
 * ```ts
 * generateText({ ...run.settings({ model, tools, stopWhen: stepCountIs(20) }), prompt });
 * ```
 */
export interface AIRun {
  /** The core run: id, budgets, usage, `stopped`, `signal`. */
  readonly run: ActiveRun;
  /** Set once the run has stopped: the reason the SDK itself never reports. */
  readonly stopped: { readonly reason: StopReason; readonly detail: string } | undefined;
  /** Copies of `tools` whose `execute` goes through the gateway; tools without `execute` pass unchanged. */
  tools<T extends object>(tools: T): T;
  /** The model with `middleware` around it (the same as `wrapLanguageModel({ model, middleware })`). */
  model<M extends LanguageModelLike>(model: M): GovernedModel<M>;
  /**
   * For `wrapLanguageModel`: each model call is a step (budgets, deadline, kill switch checked first) and its usage
   * and cost are recorded, on the generate and the stream path. A stopped run's next call returns an empty response
   * (finish reason `other`), so the SDK's loop ends cleanly instead of throwing.
   */
  readonly middleware: BoundedMiddleware;
  /** True once the run has stopped or a budget is spent: the loop ends after the current step. */
  readonly stopWhen: BoundedStopCondition;
  /**
   * ai@7's `toolApproval`: denies, before they run, the calls the policy refuses outright (a tool not allowed, a stopped
   * run, the kill switch); the model gets `execution-denied` with the reason. With `approvals: 'sdk'`, asks for the
   * SDK's user approval for writes. ai@6 has no such option: refusals reach the model as tool errors.
   */
  readonly toolApproval: BoundedToolApproval;
  /**
   * `settings` with `model`, `tools`, `stopWhen` and `toolApproval` governed and everything else unchanged; your own
   * `stopWhen` and `toolApproval` still apply beside Bounded's.
   */
  settings<S extends SettingsLike>(settings: S): GovernedSettings<S>;
  /** Runs `fn` inside the run's observer context, so spans started there (the SDK's) nest under the run's span. */
  within<T>(fn: () => T): T;
  /** Ends the run (always call it for runs from `start()`); later calls return the same result. */
  end<T>(outcome?: { readonly output: T } | { readonly error: unknown }): Promise<RunResult<T>>;
}

/**
 * What the SDK returned, and how the run ended. `result` is undefined only when the SDK threw (or the run was refused
 * before it started); `bounded` then says why.
 */
export type AIResult<T> =
  | { readonly result: T; readonly bounded: RunResult<T> }
  | { readonly result: undefined; readonly bounded: RunStopped };

/** A streaming call: the stream to read now, and how the run ended once the stream has finished. */
export type AIStream<T> =
  | { readonly result: T; readonly bounded: Promise<RunResult<T>> }
  | { readonly result: undefined; readonly bounded: Promise<RunStopped> };

export interface BoundedAI {
  /** One SDK call (`generateText`, `agent.generate`) as one governed run. Never throws for the SDK's errors. */
  run<T>(options: RunOptions, call: (run: AIRun) => T | PromiseLike<T>): Promise<AIResult<Awaited<T>>>;
  /**
   * A streaming call (`streamText`, `agent.stream`) as one governed run: returns as soon as the stream exists; the run
   * ends when the stream has finished, failed or been aborted.
   */
  stream<T extends StreamingResultLike>(
    options: RunOptions,
    call: (run: AIRun) => T | PromiseLike<T>,
  ): Promise<AIStream<Awaited<T>>>;
  /** A run that spans several SDK calls (a chat turn answered after an approval): end it with `run.end()`. */
  start(options: RunOptions): Promise<AIRun>;
}
