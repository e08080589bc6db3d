import type { StopReason } from './stop-reason.js';

const MARKER = Symbol.for('bounded.error');

/** Base class of every error Bounded throws. `code` is stable; match on it, not on the message. */
export class BoundedError extends Error {
  readonly code: string;
  readonly [MARKER] = true;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BoundedError';
    this.code = code;
  }

  /** True for errors from any copy of this package (several copies can end up in one process). */
  static isInstance(error: unknown): error is BoundedError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** One problem found in a policy document. */
export interface PolicyIssue {
  /** Key path, e.g. `budgets.max_steps` or `tools.allow[2]`. Empty for the document itself. */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the source text, when the source was YAML or JSON text. */
  readonly line?: number;
  readonly column?: number;
}

/** A policy failed to load: every problem is listed, each with its key path (and line, for text). */
export class PolicyError extends BoundedError {
  declare readonly code: 'POLICY_INVALID' | 'POLICY_UNREADABLE';
  readonly issues: readonly PolicyIssue[];
  /** The file the policy came from, when it came from a file. */
  readonly source: string | undefined;

  /** `POLICY_INVALID` for a document with problems, `POLICY_UNREADABLE` when the file could not be read. */
  constructor(
    issues: readonly PolicyIssue[],
    source?: string,
    code: 'POLICY_INVALID' | 'POLICY_UNREADABLE' = 'POLICY_INVALID',
  ) {
    super(code, formatPolicyIssues(issues, source));
    this.name = 'PolicyError';
    this.issues = issues;
    this.source = source;
  }
}

export function formatPolicyIssues(issues: readonly PolicyIssue[], source?: string): string {
  const where = source ?? 'policy';
  const lines = issues.map(issue => {
    const at = issue.line === undefined ? where : `${where}:${issue.line}${issue.column ? `:${issue.column}` : ''}`;
    return `  ${at}  ${issue.path || '(document)'}: ${issue.message}`;
  });
  return `Invalid policy (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/**
 * Thrown by `run.step()`, `run.tool()` and `run.usage()` when the run must stop.
 * `governor.run()` catches it and returns `{ status: 'stopped', stopReason }`; adapters turn it into
 * the framework's way of ending a run.
 */
export class StopError extends BoundedError {
  readonly reason: StopReason;
  readonly detail: string;

  constructor(reason: StopReason, detail: string) {
    super('RUN_STOPPED', `Run stopped: ${reason} (${detail})`);
    this.name = 'StopError';
    this.reason = reason;
    this.detail = detail;
  }

  static is(error: unknown): error is StopError {
    return BoundedError.isInstance(error) && error.code === 'RUN_STOPPED';
  }
}

/**
 * A single tool call was refused but the run goes on (policy `on_refusal: continue`).
 * Adapters hand `message` to the model as the tool's error result.
 */
export class ToolRefusedError extends BoundedError {
  readonly reason: StopReason;
  readonly tool: string;
  readonly detail: string;

  constructor(reason: StopReason, tool: string, detail: string) {
    super('TOOL_REFUSED', `Tool call refused: ${reason} (${detail})`);
    this.name = 'ToolRefusedError';
    this.reason = reason;
    this.tool = tool;
    this.detail = detail;
  }

  static is(error: unknown): error is ToolRefusedError {
    return BoundedError.isInstance(error) && error.code === 'TOOL_REFUSED';
  }
}

/**
 * Throw from a tool's `execute` when the call's input, not the tool, was at fault (the framework's own schema refused
 * the model's arguments). The call fails as any failure does, but the circuit breaker does not count it: a model that
 * keeps sending bad arguments must not open the circuit of a healthy tool for every run.
 */
export class ToolInputError extends BoundedError {
  readonly tool: string;

  constructor(tool: string, message: string, options?: { cause?: unknown }) {
    super('TOOL_INPUT_INVALID', message, options);
    this.name = 'ToolInputError';
    this.tool = tool;
  }

  static is(error: unknown): error is ToolInputError {
    return BoundedError.isInstance(error) && error.code === 'TOOL_INPUT_INVALID';
  }
}

/** The same idempotency key was used with different arguments: a bug in the caller, never silently merged. */
export class IdempotencyConflictError extends BoundedError {
  readonly key: string;
  readonly tool: string;

  constructor(key: string, tool: string) {
    super(
      'IDEMPOTENCY_CONFLICT',
      `Idempotency key "${key}" was already used for ${tool} with different arguments. ` +
        'Use a new key for a different request, or send the same arguments to replay the first result.',
    );
    this.name = 'IdempotencyConflictError';
    this.key = key;
    this.tool = tool;
  }
}

/**
 * An earlier call with this key was in flight in a process that died before recording its result, and the tool
 * runs at most once (`onCrash: 'block'`): whether the side effect happened is unknown, so it is not run again.
 */
export class IdempotencyCrashedError extends BoundedError {
  readonly key: string;
  readonly tool: string;

  constructor(key: string, tool: string) {
    super(
      'IDEMPOTENCY_CRASHED',
      `Idempotency key "${key}": an earlier call of ${tool} was in flight in a process that stopped before recording ` +
        'its result, and the tool runs at most once (onCrash: block). Check whether its side effect happened, then ' +
        "clear the key in the store (or use a new key); mark the tool onCrash: 'retry' if running it twice is safe.",
    );
    this.name = 'IdempotencyCrashedError';
    this.key = key;
    this.tool = tool;
  }
}

/** The API was used in a way that cannot work (a run method after the run ended, a bad option). */
export class UsageError extends BoundedError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}
