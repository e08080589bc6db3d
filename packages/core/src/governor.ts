import type { Approver } from './approvals.js';
import { assertBudgets, stricterBudgets } from './budgets.js';
import { BoundedError, StopError, ToolRefusedError, UsageError } from './errors.js';
import type { BudgetSnapshot, KillRecord, KillTarget, Observer, RunUsage } from './events.js';
import { LimitPlan } from './limits.js';
import { ObserverHub } from './observers.js';
import { checkPricing, definePolicy } from './policy/load.js';
import type { Budgets, Policy } from './policy/types.js';
import { type GovernorCore, RunImpl } from './run.js';
import { formatStandardIssues } from './standard-schema.js';
import { memoryStores } from './stores/memory.js';
import type { Stores } from './stores/types.js';
import { PriceTable, ToolRules } from './tool-rules.js';
import type {
  ActiveRun,
  Governor,
  GovernorOptions,
  GovernorStats,
  Run,
  RunOptions,
  RunResult,
  ToolVerdict,
  WorkflowRunOptions,
} from './types.js';
import {
  EscalationSignal,
  StepFailedError,
  WorkflowContextImpl,
  type WorkflowDefinition,
  type WorkflowException,
  type WorkflowResult,
} from './workflow.js';

/**
 * Creates the gateway every step and tool call of your runs goes through.
 *
 * ```ts
 * const governor = createGovernor({ policy: await loadPolicy('bounded.yaml') });
 * const result = await governor.run({ agent: 'support' }, async run => {
 *   await run.step();
 *   return run.tool('kb.read', { id: 42 }, readArticle);
 * });
 * if (result.status === 'stopped') console.log(result.stopReason, result.detail);
 * ```
 */
export function createGovernor(options: GovernorOptions): Governor {
  return new GovernorImpl(options);
}

class GovernorImpl implements Governor, GovernorCore {
  readonly policy: Policy;
  readonly enforcement: 'enforce' | 'shadow';
  readonly rules: ToolRules;
  readonly prices: PriceTable;
  readonly stores: Stores;
  readonly hub: ObserverHub;
  readonly approver: Approver | undefined;
  readonly limitPlan: LimitPlan;
  readonly #active = new Set<RunImpl>();
  /** Run ids the caller chose, of the runs active now: two runs under one id would mix their records and traces. */
  readonly #chosenIds = new Set<string>();
  readonly #unsubscribeKill: () => void;
  readonly #warned = new Set<string>();
  #storeWarnedAt = Number.NEGATIVE_INFINITY;
  #runsStarted = 0;

  constructor(options: GovernorOptions) {
    if (!options || typeof options !== 'object') throw new UsageError('createGovernor() needs an options object');
    if (options.policy === undefined) {
      throw new UsageError('createGovernor(): `policy` is required (loadPolicy(path) or definePolicy({...}))');
    }
    this.policy = definePolicy(options.policy);
    // A misspelt price in code would count as $0 (NaN, in fact) and no USD budget would ever stop a run.
    if (options.pricing !== undefined) checkPricing(options.pricing, 'createGovernor({ pricing })');
    this.enforcement = options.enforcement ?? this.policy.enforcement;
    this.rules = new ToolRules(this.policy, options.tools, options.pricing?.tools);
    this.prices = new PriceTable({ ...this.policy.pricing.models, ...options.pricing?.models });
    const defaults = memoryStores();
    this.stores = { ...defaults, ...options.stores };
    this.hub = new ObserverHub(options.observers ?? [], options.onObserverError);
    this.approver = options.approver;
    this.limitPlan = new LimitPlan(this.policy.limits);
    this.#unsubscribeKill = this.stores.killSwitch.subscribe(record => this.#onKill(record));
  }

  async start(options: RunOptions): Promise<ActiveRun> {
    if (!options || typeof options.agent !== 'string' || options.agent.length === 0) {
      throw new UsageError('governor.run(): `agent` must be a non-empty string naming the agent or workflow');
    }
    assertBudgets(options.budgets, 'governor.run() budgets');
    const chosenId = options.runId;
    if (chosenId !== undefined) {
      if (typeof chosenId !== 'string' || chosenId.length === 0) {
        throw new UsageError('governor.run(): `runId` must be a non-empty string when given');
      }
      if (this.#chosenIds.has(chosenId)) {
        throw new UsageError(
          `governor.run(): a run with id "${chosenId}" is already running; a retried request needs a new run id`,
        );
      }
      this.#chosenIds.add(chosenId);
    }
    const run = new RunImpl(this, options);
    this.#runsStarted++;
    this.#active.add(run);
    try {
      await run.begin();
    } catch (error) {
      // A store failing at the start (runs in flight) ends the run at once, with the error.
      await run.end({ error });
    }
    return run;
  }

  async run<T>(options: RunOptions, fn: (run: Run) => T | PromiseLike<T>): Promise<RunResult<Awaited<T>>> {
    if (typeof fn !== 'function') throw new UsageError('governor.run(): the second argument must be a function');
    const run = (await this.start(options)) as RunImpl;
    type Outcome = { output: Awaited<T> } | { error: unknown };
    let outcome: Outcome | undefined;
    if (!run.stopped && !run.ended) {
      const body = (async (): Promise<Awaited<T>> => await run.within(() => fn(run)))();
      const settled: Promise<Outcome> = body.then(
        (output): Outcome => ({ output }),
        (error: unknown): Outcome => ({ error }),
      );
      // The body may hang (a tool that never returns): a stop ends the run at once, whatever the body does.
      outcome = await Promise.race([settled, run.stoppedPromise.then(() => undefined)]);
    }
    return run.end<Awaited<T>>(outcome);
  }

  /** Called by a run's end(): forgets it and turns its state and the body's outcome into the result. */
  finishRun<T>(run: RunImpl, outcome: { output: T } | { error: unknown } | undefined): RunResult<T> {
    this.#active.delete(run);
    this.#chosenIds.delete(run.id);
    let error: unknown;
    if (outcome && 'error' in outcome && !run.stopped) {
      error = outcome.error;
      if (StopError.is(error) || ToolRefusedError.is(error)) {
        run.stopFromOutside(error.reason, error.detail);
      } else {
        run.stopFromOutside('error', describeError(error));
      }
    }
    const stopped = run.stopped;
    const usage = run.snapshot();
    const budgets = run.budgets();
    const base = {
      runId: run.id,
      agent: run.agent,
      mode: run.mode,
      usage,
      budgets,
      wouldHaveStopped: run.wouldHaveStopped,
    };
    const result: RunResult<T> = stopped
      ? {
          status: 'stopped',
          stopReason: stopped.reason,
          detail: stopped.detail,
          ...(error !== undefined && !StopError.is(error) ? { error } : {}),
          ...base,
        }
      : { status: 'ok', output: (outcome as { output: T } | undefined)?.output as T, ...base };
    if (this.hub.active) {
      this.hub.emit({
        type: 'run.end',
        time: Date.now(),
        runId: run.id,
        agent: run.agent,
        mode: run.mode,
        status: result.status,
        stopReason: stopped?.reason,
        detail: stopped?.detail,
        usage,
        budgets,
        handledBy: run.handledBy,
      });
    }
    return result;
  }

  async workflow<I, O>(
    definition: WorkflowDefinition<I, O>,
    input: I,
    options: WorkflowRunOptions = {},
  ): Promise<WorkflowResult<Awaited<O>>> {
    if (!definition || typeof definition.run !== 'function' || !definition.name) {
      throw new UsageError('governor.workflow(): pass a workflow made with defineWorkflow({ name, run })');
    }
    let escalation: WorkflowResult<Awaited<O>>['escalation'];
    const result = await this.run({ ...options, agent: definition.name, mode: 'workflow' }, async run => {
      const impl = run as RunImpl;
      impl.handledBy = 'workflow';
      try {
        return (await definition.run(new WorkflowContextImpl(run, input, this.hub), input)) as Awaited<O>;
      } catch (error) {
        const exception = toException(error, input);
        if (!exception) throw error;
        const escalate = definition.escalate;
        if (!escalate || !this.policy.mode.agent_for_exceptions) {
          const why = !escalate
            ? 'the workflow defines no escalation agent'
            : 'the policy does not allow it (mode.agent_for_exceptions: false)';
          throw new BoundedError('WORKFLOW_UNHANDLED', `${exception.reason}; cannot escalate: ${why}`, {
            cause: error,
          });
        }
        impl.handledBy = 'agent';
        // The agent works within what the workflow has left of its own budgets (and the agents' budgets).
        const left = leftOf(run.budgets(), impl.limits.per_tool);
        const child = await this.run(
          {
            agent: escalate.agent,
            mode: 'agent',
            parentRunId: run.id,
            signal: run.signal,
            ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
            metadata: {
              ...options.metadata,
              escalation_reason: exception.reason,
              ...(exception.step === undefined ? {} : { escalation_step: exception.step }),
            },
            budgets: stricterBudgets(this.policy.mode.agent_budgets, escalate.budgets, left),
          },
          agentRun => escalate.run(agentRun, exception),
        );
        escalation = { reason: exception.reason, step: exception.step, result: child as RunResult<Awaited<O>> };
        if (child.status === 'ok') return child.output as Awaited<O>;
        throw new StopError(child.stopReason, `escalation agent ${escalate.agent}: ${child.detail}`);
      }
    });
    const handledBy = escalation ? 'agent' : 'workflow';
    const usage = escalation ? addUsage(result.usage, escalation.result.usage) : result.usage;
    return { ...result, usage, handledBy, ...(escalation ? { escalation } : {}) } as WorkflowResult<Awaited<O>>;
  }

  async kill(target: KillTarget, options: { reason?: string; by?: string } = {}): Promise<KillRecord> {
    assertTarget(target);
    const record = await this.stores.killSwitch.kill(target, options);
    if (this.hub.active) this.hub.emit({ type: 'kill', time: Date.now(), record });
    return record;
  }

  async revive(target: KillTarget): Promise<boolean> {
    assertTarget(target);
    const revived = await this.stores.killSwitch.revive(target);
    if (revived && this.hub.active) {
      this.hub.emit({
        type: 'revive',
        time: Date.now(),
        record: { target, reason: 'revived', by: 'revive', at: Date.now() },
      });
    }
    return revived;
  }

  async explain(tool: string, args?: unknown): Promise<ToolVerdict> {
    if (typeof tool !== 'string' || tool.length === 0)
      throw new UsageError('explain(): the tool name must be a non-empty string');
    const rule = this.rules.get(tool);
    const common = {
      tool,
      write: rule.write,
      writeRule: rule.writeRule,
      idempotent: rule.idempotent,
      perToolLimit: rule.perToolLimit,
      perToolRule: rule.perToolRule,
      costUsd: rule.costUsd,
      recordContent: rule.recordContent,
      autoApproveRules: this.rules.autoApprove.rulesFor(tool),
    };
    if (!rule.access.allowed) {
      return {
        ...common,
        decision: 'deny',
        rule: rule.access.rule,
        detail: rule.access.detail,
        reason: `tool_denied:${tool}`,
      };
    }
    if (rule.schema && args !== undefined) {
      const result = await rule.schema['~standard'].validate(args);
      if (result.issues) {
        return {
          ...common,
          decision: 'deny',
          rule: 'tool schema',
          detail: formatStandardIssues(result.issues),
          reason: `invalid_args:${tool}`,
        };
      }
    }
    if (rule.write && this.policy.writes.require_approval) {
      const auto = this.rules.autoApprove.match(tool, args);
      if (auto) {
        return {
          ...common,
          decision: 'auto_approved',
          rule: auto.rule,
          detail: 'approved by policy rule',
          reason: undefined,
        };
      }
      return {
        ...common,
        decision: 'approval_required',
        rule: 'writes.require_approval',
        detail: `"${tool}" is a write (${rule.writeRule}) and writes need approval`,
        reason: undefined,
      };
    }
    return {
      ...common,
      decision: 'allow',
      rule: rule.access.rule,
      detail: rule.write ? `"${tool}" is a write; approval is not required` : `"${tool}" is allowed`,
      reason: undefined,
    };
  }

  observe(observer: Observer): () => void {
    return this.hub.add(observer);
  }

  stats(): GovernorStats {
    return { runsStarted: this.#runsStarted, runsActive: this.#active.size, observerErrors: this.hub.errors };
  }

  close(): void {
    this.#unsubscribeKill();
  }

  warnUnpriced(model: string): void {
    if (this.#warned.has(model)) return;
    this.#warned.add(model);
    process.emitWarning(`Model "${model}" has no price in pricing.models; its calls count as $0 against USD budgets.`, {
      code: 'BOUNDED_UNPRICED_MODEL',
    });
  }

  warnStoreUnavailable(what: string, error: unknown): void {
    // Once per outage-sized interval, not once per call: an outage can last thousands of calls.
    const now = Date.now();
    if (now < this.#storeWarnedAt + 10_000) return;
    this.#storeWarnedAt = now;
    const why = error instanceof Error ? error.message : String(error);
    process.emitWarning(`Shared store unavailable (${why}); ${what} (fail_mode.reads: open).`, {
      code: 'BOUNDED_STORE_UNAVAILABLE',
    });
  }

  #onKill(record: KillRecord): void {
    // Off in this policy: running runs are left alone, as new ones are (the store may serve other governors).
    if (!this.policy.kill_switch.enabled) return;
    for (const run of this.#active) {
      const target = record.target;
      if (
        target.scope === 'global' ||
        (target.scope === 'agent' && target.agent === run.agent) ||
        (target.scope === 'run' && target.runId === run.id)
      ) {
        run.kill(record);
      }
    }
  }
}

function assertTarget(target: KillTarget): void {
  const ok =
    target &&
    (target.scope === 'global' ||
      (target.scope === 'agent' && typeof target.agent === 'string' && target.agent.length > 0) ||
      (target.scope === 'run' && typeof target.runId === 'string' && target.runId.length > 0));
  if (!ok) {
    throw new UsageError(
      `kill target must be { scope: 'global' }, { scope: 'agent', agent } or { scope: 'run', runId }; got ${JSON.stringify(target)}`,
    );
  }
}

function toException<I>(error: unknown, input: I): WorkflowException<I> | undefined {
  if (error instanceof EscalationSignal) {
    return { reason: error.reason, step: error.step, input, data: error.data, error: undefined };
  }
  if (error instanceof StepFailedError) {
    return { reason: error.message, step: error.step, input, data: undefined, error: error.cause };
  }
  return undefined;
}

function addUsage(a: RunUsage, b: RunUsage): RunUsage {
  const byTool: Record<string, number> = { ...a.toolCallsByTool };
  for (const [tool, count] of Object.entries(b.toolCallsByTool)) byTool[tool] = (byTool[tool] ?? 0) + count;
  const decisions = { ...a.decisions };
  for (const key of Object.keys(decisions) as Array<keyof typeof decisions>) decisions[key] += b.decisions[key];
  return {
    steps: a.steps + b.steps,
    toolCalls: a.toolCalls + b.toolCalls,
    toolCallsByTool: byTool,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    costUsd: Math.round((a.costUsd + b.costUsd) * 1e6) / 1e6,
    // The agent ran inside the workflow run, so the workflow's duration already covers it.
    durationMs: a.durationMs,
    decisions,
  };
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `thrown: ${String(error)}`;
}

const BUDGET_KEYS: Readonly<Record<BudgetSnapshot['kind'], keyof Budgets>> = {
  steps: 'max_steps',
  tool_calls: 'max_tool_calls',
  seconds: 'max_seconds',
  tokens: 'max_tokens',
  input_tokens: 'max_input_tokens',
  output_tokens: 'max_output_tokens',
  usd: 'max_usd',
};

/** A run's remaining budgets, as budgets for a run that works on its behalf (a workflow's escalation agent). */
function leftOf(snapshots: readonly BudgetSnapshot[], perTool: Budgets['per_tool']): Budgets {
  const left: Record<string, unknown> = {};
  for (const budget of snapshots) {
    // A deadline of zero would stop the agent before it starts: it gets a moment, and the clock stops it.
    left[BUDGET_KEYS[budget.kind]] = budget.kind === 'seconds' ? Math.max(0.001, budget.remaining) : budget.remaining;
  }
  if (perTool) left.per_tool = perTool;
  return left as Budgets;
}
