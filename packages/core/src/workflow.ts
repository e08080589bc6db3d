import { setTimeout as sleep } from 'node:timers/promises';
import { BoundedError, StopError, ToolRefusedError } from './errors.js';
import type { ObserverHub } from './observers.js';
import type { Budgets } from './policy/types.js';
import type { Run, RunResult } from './types.js';

export interface RetryOptions {
  /** Total attempts, the first included. Default 1 (no retry). */
  readonly attempts?: number;
  /** Wait before the second attempt; doubles (by `factor`) each time after. Default 100 ms. */
  readonly backoffMs?: number;
  readonly factor?: number;
  readonly maxBackoffMs?: number;
  /** Which errors are worth another attempt. Default: all (governance stops and refusals never are). */
  readonly retryOn?: (error: unknown) => boolean;
}

export interface StepOptions {
  readonly retry?: RetryOptions;
}

/** What a workflow's code uses: named deterministic steps, and a way to hand an exception to the agent. */
export interface WorkflowContext<I> {
  readonly run: Run;
  readonly input: I;
  /** Runs one named step (counted as a run step, so budgets, the deadline and the kill switch apply). */
  step<T>(name: string, fn: (run: Run) => T | PromiseLike<T>, options?: StepOptions): Promise<T>;
  /** Hands the case to the escalation agent: the workflow cannot handle it. */
  escalate(reason: string, data?: unknown): never;
}

/** What the escalation agent is told. */
export interface WorkflowException<I> {
  readonly reason: string;
  /** The step that failed or escalated. */
  readonly step: string | undefined;
  readonly input: I;
  readonly data: unknown;
  /** The error, when a step failed after its retries. */
  readonly error: unknown;
}

export interface EscalationDefinition<I, O> {
  /** Agent name of the escalation runs (budgets, limits and the kill switch apply to it). */
  readonly agent: string;
  /** Tightens the policy's `mode.agent_budgets` further. */
  readonly budgets?: Budgets;
  readonly run: (run: Run, exception: WorkflowException<I>) => O | PromiseLike<O>;
}

export interface WorkflowDefinition<I, O> {
  readonly name: string;
  readonly run: (workflow: WorkflowContext<I>, input: I) => O | PromiseLike<O>;
  /** The bounded agent for exceptions; used when the policy sets `mode.agent_for_exceptions: true`. */
  readonly escalate?: EscalationDefinition<I, O>;
}

/**
 * A workflow: the known path as deterministic code, and a bounded agent for the cases it cannot handle.
 *
 * ```ts
 * const refunds = defineWorkflow({
 *   name: 'refunds',
 *   run: async (wf, ticket) => {
 *     const order = await wf.step('lookup', run => run.tool('orders.get', { id: ticket.orderId }, getOrder));
 *     if (!order) wf.escalate('order not found');
 *     return wf.step('refund', run => run.tool('payments.refund', { id: order.id }, refund));
 *   },
 *   escalate: { agent: 'refund-agent', budgets: { max_tool_calls: 4 }, run: (run, exception) => agent(run, exception) },
 * });
 * const result = await governor.workflow(refunds, ticket);
 * ```
 */
export function defineWorkflow<I, O>(definition: WorkflowDefinition<I, O>): WorkflowDefinition<I, O> {
  if (!definition || typeof definition.name !== 'string' || definition.name.length === 0) {
    throw new TypeError('defineWorkflow(): `name` must be a non-empty string');
  }
  if (typeof definition.run !== 'function')
    throw new TypeError(`defineWorkflow("${definition.name}"): run must be a function`);
  return definition;
}

export type WorkflowResult<O> = RunResult<O> & {
  /** Whether the deterministic path or the escalation agent produced this outcome. */
  readonly handledBy: 'workflow' | 'agent';
  /** Present when the workflow escalated. */
  readonly escalation?: {
    readonly reason: string;
    readonly step: string | undefined;
    readonly result: RunResult<O>;
  };
};

/** Thrown by `wf.escalate()`; the runner catches it. */
export class EscalationSignal extends BoundedError {
  readonly reason: string;
  readonly data: unknown;
  step: string | undefined;

  constructor(reason: string, data: unknown) {
    super('WORKFLOW_ESCALATE', `workflow escalated: ${reason}`);
    this.name = 'EscalationSignal';
    this.reason = reason;
    this.data = data;
  }
}

/** A step failed after all its attempts. */
export class StepFailedError extends BoundedError {
  readonly step: string;
  readonly attempts: number;

  constructor(step: string, attempts: number, cause: unknown) {
    super(
      'WORKFLOW_STEP_FAILED',
      `step "${step}" failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'StepFailedError';
    this.step = step;
    this.attempts = attempts;
  }
}

export class WorkflowContextImpl<I> implements WorkflowContext<I> {
  readonly run: Run;
  readonly input: I;
  readonly #hub: ObserverHub;
  #current: string | undefined;

  constructor(run: Run, input: I, hub: ObserverHub) {
    this.run = run;
    this.input = input;
    this.#hub = hub;
  }

  async step<T>(name: string, fn: (run: Run) => T | PromiseLike<T>, options?: StepOptions): Promise<T> {
    const retry = options?.retry ?? {};
    const attempts = Math.max(1, Math.floor(retry.attempts ?? 1));
    let backoff = retry.backoffMs ?? 100;
    for (let attempt = 1; ; attempt++) {
      this.#current = name;
      await this.run.step({ name });
      const started = performance.now();
      try {
        const value = await fn(this.run);
        this.#emit(name, attempt, 'ok', started, undefined);
        return value;
      } catch (error) {
        if (error instanceof EscalationSignal) {
          error.step ??= name;
          this.#emit(name, attempt, 'escalate', started, error.reason);
          throw error;
        }
        const governance = StopError.is(error) || ToolRefusedError.is(error);
        const retryable = !governance && attempt < attempts && (retry.retryOn?.(error) ?? true);
        this.#emit(name, attempt, retryable ? 'retry' : 'failed', started, message(error));
        if (governance) throw error;
        if (!retryable) throw new StepFailedError(name, attempt, error);
        // Abortable: a stop during the backoff ends the wait at once.
        await sleep(backoff, undefined, { signal: this.run.signal }).catch(() => this.run.check());
        backoff = Math.min(backoff * (retry.factor ?? 2), retry.maxBackoffMs ?? 10_000);
      }
    }
  }

  escalate(reason: string, data?: unknown): never {
    const signal = new EscalationSignal(reason, data);
    signal.step = this.#current;
    throw signal;
  }

  #emit(
    step: string,
    attempt: number,
    outcome: 'ok' | 'retry' | 'failed' | 'escalate',
    started: number,
    error?: string,
  ) {
    if (!this.#hub.active) return;
    this.#hub.emit({
      type: 'workflow.step',
      time: Date.now(),
      runId: this.run.id,
      agent: this.run.agent,
      step,
      attempt,
      outcome,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      error,
    });
  }
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
