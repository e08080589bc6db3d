/**
 * The policy, as loaded: the keys of the YAML file, with every default filled in.
 * Hand-written so the public type reads well; `schema.ts` checks at compile time that the zod schema produces it.
 */
export interface Policy {
  readonly version: 1;
  readonly mode: ModePolicy;
  /** `shadow` records what would have been refused but lets everything run. The kill switch always acts. */
  readonly enforcement: 'enforce' | 'shadow';
  readonly budgets: Budgets;
  readonly tools: ToolsPolicy;
  readonly writes: WritesPolicy;
  readonly idempotency: IdempotencyPolicy;
  readonly loop_detection: LoopDetectionPolicy;
  readonly circuit_breaker: CircuitBreakerPolicy;
  readonly kill_switch: KillSwitchPolicy;
  readonly limits: CrossRunLimitsPolicy;
  readonly fail_mode: FailModePolicy;
  readonly pricing: PricingPolicy;
  readonly monitoring: MonitoringPolicy;
}

export type RunMode = 'workflow' | 'agent';

export interface ModePolicy {
  /** What `governor.run()` uses when the caller does not say. */
  readonly default: RunMode;
  /** Whether a workflow may hand an exception to a bounded agent. */
  readonly agent_for_exceptions: boolean;
  /** Budgets for that agent: each one is the stricter of these and the run's own. */
  readonly agent_budgets: Budgets;
}

/** Per-run budgets. A missing key means no limit of that kind. */
export interface Budgets {
  readonly max_steps?: number;
  readonly max_tool_calls?: number;
  readonly max_seconds?: number;
  readonly max_tokens?: number;
  readonly max_input_tokens?: number;
  readonly max_output_tokens?: number;
  readonly max_usd?: number;
  /** Calls per tool (name or glob) in one run; each matching tool has its own count. */
  readonly per_tool?: Readonly<Record<string, number>>;
}

export interface ToolsPolicy {
  /** Globs. Once the list is non-empty, a tool it does not match is denied. */
  readonly allow: readonly string[];
  /** Globs. Deny wins over allow. */
  readonly deny: readonly string[];
  /** Deny every write tool (see `writes.tools`). */
  readonly read_only: boolean;
  /** What a refused call (denied, invalid arguments, approval refused) does: end the run, or fail just that call. */
  readonly on_refusal: 'stop' | 'continue';
}

export interface AutoApproveRule {
  readonly tool: string;
  /** Conditions on argument fields (dot paths), all of which must hold. */
  readonly when?: Readonly<Record<string, Comparison>>;
  readonly name?: string;
}

export interface Comparison {
  readonly eq?: string | number | boolean;
  readonly ne?: string | number | boolean;
  readonly lt?: number;
  readonly lte?: number;
  readonly gt?: number;
  readonly gte?: number;
  readonly in?: readonly (string | number | boolean)[];
}

export interface WritesPolicy {
  /** Globs naming the tools that change the world. Tools can also be marked as writes in code. */
  readonly tools: readonly string[];
  readonly require_approval: boolean;
  readonly approval_timeout_seconds: number;
  /** Writes approved without asking anyone when a rule matches. */
  readonly auto_approve: readonly AutoApproveRule[];
}

export interface IdempotencyPolicy {
  readonly enabled: boolean;
  /** Globs of tools whose calls are deduplicated. Default: the write tools. */
  readonly tools?: readonly string[];
  readonly ttl_seconds: number;
  /**
   * Globs of tools whose call may run again when the process running it died before recording its result
   * (at least once). Every other deduplicated tool is blocked until the key is cleared (at most once).
   */
  readonly retry_on_crash: readonly string[];
}

export interface LoopDetectionPolicy {
  readonly enabled: boolean;
  /** The same tool with the same arguments more than this many times in one run is a loop. */
  readonly max_repeats: number;
}

export interface CircuitBreakerPolicy {
  readonly enabled: boolean;
  /** Consecutive failures of one tool that open its circuit. */
  readonly failure_threshold: number;
  readonly cooldown_seconds: number;
}

export interface KillSwitchPolicy {
  readonly enabled: boolean;
}

export interface CrossRunLimits {
  readonly tool_calls_per_minute?: number;
  readonly tool_calls_per_hour?: number;
  readonly tool_calls_per_day?: number;
  readonly usd_per_hour?: number;
  readonly usd_per_day?: number;
  readonly runs_in_flight?: number;
  /** `sliding` weighs the previous window by how much of it still overlaps; `fixed` resets on the boundary. */
  readonly window: 'fixed' | 'sliding';
}

export interface CrossRunLimitsPolicy {
  readonly global?: CrossRunLimits;
  readonly per_agent?: CrossRunLimits;
  readonly per_tenant?: CrossRunLimits;
}

/** What a call does when a shared store (Redis) cannot be reached, per tool class. */
export interface FailModePolicy {
  /** Calls that are not writes, run starts and steps: refused with `store_unavailable`, or run unchecked. */
  readonly reads: 'closed' | 'open';
  /** Writes always fail closed: one that cannot be deduplicated or counted could run twice or overspend. */
  readonly writes: 'closed';
}

export interface ModelPrice {
  readonly input_per_1m: number;
  readonly output_per_1m: number;
  readonly cached_input_per_1m?: number;
}

export interface PricingPolicy {
  /** USD per million tokens, by model id (exact, or a glob such as `gpt-4o*`). */
  readonly models: Readonly<Record<string, ModelPrice>>;
  /** USD per call, by tool name or glob. */
  readonly tools: Readonly<Record<string, number>>;
}

export type TrackedSignal =
  | 'tool_calls_per_run'
  | 'tokens_per_request'
  | 'latency_p95'
  | 'stop_reason'
  | 'cost'
  | 'decisions'
  | 'approvals';

export interface MonitoringPolicy {
  readonly track: readonly TrackedSignal[];
  /** Globs of tools whose arguments and results may be recorded in telemetry (redacted). Off by default. */
  readonly record_content: readonly string[];
}

/** What `definePolicy()` accepts: the same shape with everything optional. */
export type PolicyInput = DeepPartial<Omit<Policy, 'version'>> & { readonly version?: 1 };

type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly U[]
  : T extends object
    ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
    : T;
