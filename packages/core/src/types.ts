import type { Approver } from './approvals.js';
import type { BudgetSnapshot, KillRecord, KillTarget, Observer, RunUsage } from './events.js';
import type { ObserverErrorHandler } from './observers.js';
import type { Budgets, ModelPrice, Policy, PolicyInput, RunMode } from './policy/types.js';
import type { StopReason } from './stop-reason.js';
import type { Stores } from './stores/types.js';
import type { ToolDefinition } from './tool-rules.js';
import type { WorkflowDefinition, WorkflowResult } from './workflow.js';

export interface GovernorOptions {
  /** A loaded Policy, or the same keys as an object (validated here). */
  readonly policy: Policy | PolicyInput;
  /** Stores shared by runs; anything not given lives in this process's memory. */
  readonly stores?: Partial<Stores>;
  readonly observers?: readonly Observer[];
  /** Decides writes that need approval (see `writes.require_approval`). */
  readonly approver?: Approver;
  /** Prices merged over the policy's `pricing` (code wins). */
  readonly pricing?: {
    readonly models?: Readonly<Record<string, ModelPrice>>;
    readonly tools?: Readonly<Record<string, number>>;
  };
  /** Argument schemas and per-tool overrides that code knows and the policy file cannot say. */
  readonly tools?: Readonly<Record<string, ToolDefinition>>;
  /** Overrides the policy's `enforcement`, e.g. to try a policy in shadow mode first. */
  readonly enforcement?: 'enforce' | 'shadow';
  /** Told about every observer failure (they are always caught and counted). */
  readonly onObserverError?: ObserverErrorHandler;
}

export interface RunOptions {
  /** Agent (or workflow) name: budgets, limits and the kill switch apply per agent. */
  readonly agent: string;
  /** Defaults to the policy's `mode.default`. */
  readonly mode?: RunMode;
  readonly runId?: string;
  readonly tenant?: string;
  /** Tightens the policy's budgets for this run (each limit is the stricter of the two). */
  readonly budgets?: Budgets;
  readonly parentRunId?: string;
  /** Aborting it stops the run with `killed`. */
  readonly signal?: AbortSignal;
  /** Copied to events and spans. */
  readonly metadata?: Readonly<Record<string, string | number | boolean>>;
}

/** Options of `governor.workflow()`: the workflow's name is its agent, its mode is `workflow`. */
export type WorkflowRunOptions = Omit<RunOptions, 'agent' | 'mode'>;

export interface ToolContext {
  /**
   * Aborts on the deadline, the kill switch or the caller's abort, and when the run ends. A budget stop elsewhere in
   * the run (another call refused) does not abort it then: a call that has returned keeps its result, and one still
   * running is cut short when the run ends. Pass it to fetch & co.
   */
  readonly signal: AbortSignal;
  readonly callId: string;
  readonly runId: string;
  readonly idempotencyKey: string | undefined;
  /**
   * The call's actual cost in USD, when it differs from its price (`pricing.tools`, `costUsd`): the price was
   * reserved against USD budgets before the call, and is settled with this (the difference is refunded or added).
   */
  reportCost(usd: number): void;
}

export type ToolExecute<A, R> = (args: A, context: ToolContext) => R | PromiseLike<R>;

export interface ToolCallOptions {
  /** The framework's tool-call id, if it has one. */
  readonly callId?: string;
  /** Deduplicate on this key instead of a hash of agent + tool + arguments. */
  readonly idempotencyKey?: string;
}

export interface UsageInput {
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  /** Input tokens served from a prompt cache (priced at `cached_input_per_1m`). */
  readonly cachedInputTokens?: number;
  readonly model?: string;
  /**
   * Who served the model, as the framework names it (`openai.chat`, `anthropic`, `amazon-bedrock`): telemetry turns
   * it into the GenAI conventions' `gen_ai.provider.name`.
   */
  readonly provider?: string;
  /** The cost when the provider reports it; otherwise it is computed from the price table. */
  readonly costUsd?: number;
}

/** The handle a run's body uses: every step, tool call and token spent goes through it. */
export interface Run {
  readonly id: string;
  readonly agent: string;
  readonly mode: RunMode;
  readonly tenant: string | undefined;
  /**
   * Aborts with the StopError as its reason: at once on the deadline, the kill switch or the caller's abort; after a
   * budget stop or a refused call, when the run ends (a call that has returned by then keeps its result).
   */
  readonly signal: AbortSignal;
  /** Set once the run has stopped. */
  readonly stopped: { readonly reason: StopReason; readonly detail: string } | undefined;
  /** Call before each model call (a step). Throws StopError when a budget, the clock or the kill switch says stop. */
  step(options?: { readonly name?: string }): Promise<void>;
  /**
   * Runs a tool through the gateway: kill switch, circuit, allow/deny, arguments, budgets, loop check, cross-run
   * limits, idempotency, approval; then `execute`, raced against the run's deadline and kill switch.
   * Throws StopError when the run must stop, ToolRefusedError when only this call is refused.
   */
  tool<A, R>(name: string, args: A, execute: ToolExecute<A, R>, options?: ToolCallOptions): Promise<R>;
  /** Records a model call's tokens and cost. Throws StopError when that spends a token or USD budget. */
  usage(usage: UsageInput): void;
  /** Throws StopError if the run has stopped or must stop now (kill switch, deadline). For custom loops. */
  check(): void;
  /** Every limited budget: limit, used, remaining. */
  budgets(): BudgetSnapshot[];
  /** What the run has used so far. */
  snapshot(): RunUsage;
}

/**
 * A run started with `governor.start()`, for frameworks whose hooks cannot wrap the whole run in one function
 * (an agent middleware, a callback handler). End it with `end()`, always: it releases the run's timer and limits.
 */
export interface ActiveRun extends Run {
  /** True once `end()` has been called. */
  readonly ended: boolean;
  /** Runs `fn` inside the run's observer context (its span), so work done there nests under the run. */
  within<T>(fn: () => T): T;
  /**
   * Ends the run and says how it ended: `{ output }` when the work finished, `{ error }` when it threw; with no
   * argument, ok with an undefined output unless the run stopped. Later calls return the same result.
   */
  end<T>(outcome?: { readonly output: T } | { readonly error: unknown }): Promise<RunResult<T>>;
}

interface RunResultBase {
  readonly runId: string;
  readonly agent: string;
  readonly mode: RunMode;
  readonly usage: RunUsage;
  readonly budgets: readonly BudgetSnapshot[];
  /** Shadow mode: the first stop the policy would have made. */
  readonly wouldHaveStopped: { readonly reason: StopReason; readonly detail: string } | undefined;
}

export interface RunOk<T> extends RunResultBase {
  readonly status: 'ok';
  readonly output: T;
}

export interface RunStopped extends RunResultBase {
  readonly status: 'stopped';
  readonly stopReason: StopReason;
  readonly detail: string;
  /** The error, when the stop reason is `error` (or a refusal the body did not handle). */
  readonly error?: unknown;
}

/** How a run ended: never a silent timeout, always `ok` or a stop reason. */
export type RunResult<T> = RunOk<T> | RunStopped;

/** What the policy says about one tool, without running anything (`bounded explain`). */
export interface ToolVerdict {
  readonly tool: string;
  readonly decision: 'allow' | 'deny' | 'approval_required' | 'auto_approved';
  /** The policy rule that decided. */
  readonly rule: string;
  readonly detail: string;
  /** Set for `deny`. */
  readonly reason: StopReason | undefined;
  readonly write: boolean;
  /** What made it a write: `writes.tools[0] "crm.*"` or `tool definition`. */
  readonly writeRule: string | undefined;
  readonly idempotent: boolean;
  readonly perToolLimit: number | undefined;
  /** Which `budgets.per_tool` entry set the limit. */
  readonly perToolRule: string | undefined;
  readonly costUsd: number;
  readonly recordContent: boolean;
  /** Policy `writes.auto_approve` rules that name this tool (whether or not their conditions held). */
  readonly autoApproveRules: readonly string[];
}

export interface GovernorStats {
  readonly runsStarted: number;
  readonly runsActive: number;
  readonly observerErrors: number;
}

export interface Governor {
  readonly policy: Policy;
  /** Whether refusals are applied (`enforce`) or only recorded (`shadow`): the option if given, else the policy's. */
  readonly enforcement: 'enforce' | 'shadow';
  /**
   * Starts a run whose end the caller controls (`activeRun.end()`), for framework hooks. Prefer `run()` when the
   * whole run is one function. A run refused at the start (kill switch, runs in flight) comes back already stopped.
   */
  start(options: RunOptions): Promise<ActiveRun>;
  /** Runs `fn` as one governed run and says how it ended. Never throws for a stop or an error in `fn`. */
  run<T>(options: RunOptions, fn: (run: Run) => T | PromiseLike<T>): Promise<RunResult<Awaited<T>>>;
  /**
   * Runs a workflow (deterministic steps) as one governed run; an exception it cannot handle goes to its bounded
   * escalation agent when the policy allows (`mode.agent_for_exceptions`). The result says which path handled it.
   */
  workflow<I, O>(
    definition: WorkflowDefinition<I, O>,
    input: I,
    options?: WorkflowRunOptions,
  ): Promise<WorkflowResult<Awaited<O>>>;
  /** Stops matching runs now (their signals abort) and refuses new ones until `revive`. */
  kill(target: KillTarget, options?: { readonly reason?: string; readonly by?: string }): Promise<KillRecord>;
  revive(target: KillTarget): Promise<boolean>;
  /** What the policy would decide for a call, without running it. */
  explain(tool: string, args?: unknown): Promise<ToolVerdict>;
  /** Adds an observer; returns a function that removes it. */
  observe(observer: Observer): () => void;
  stats(): GovernorStats;
  /** Stops listening to the stores. Runs in flight are not affected. */
  close(): void;
}
