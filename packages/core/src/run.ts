import { randomUUID } from 'node:crypto';
import { type ApprovalDecision, type Approver, newApprovalId } from './approvals.js';
import { stricterBudgets } from './budgets.js';
import { canonicalJson, FingerprintCounter, sha256 } from './canonical.js';
import {
  IdempotencyConflictError,
  IdempotencyCrashedError,
  StopError,
  ToolInputError,
  ToolRefusedError,
  UsageError,
} from './errors.js';
import type {
  BudgetSnapshot,
  Decision,
  KillRecord,
  RunStartEvent,
  RunUsage,
  ToolDecisionEvent,
  ToolEndEvent,
  ToolOutcome,
} from './events.js';
import type { BoundLimit, BoundSlot, LimitPlan } from './limits.js';
import type { ObserverHub } from './observers.js';
import type { Budgets, Policy, RunMode } from './policy/types.js';
import { formatStandardIssues, type StandardResult } from './standard-schema.js';
import type { StopReason } from './stop-reason.js';
import type {
  AdmissionOutcome,
  AdmissionRequest,
  IdempotencyBegin,
  IdempotencyOptions,
  LimitOutcome,
  LimitRequest,
  OnCrash,
  Stores,
} from './stores/types.js';
import { PerToolLimits, type PriceTable, type ToolRule, type ToolRules } from './tool-rules.js';
import type {
  ActiveRun,
  RunOptions,
  RunResult,
  ToolCallOptions,
  ToolContext,
  ToolExecute,
  UsageInput,
} from './types.js';

/** What a run needs from its governor. */
export interface GovernorCore {
  readonly policy: Policy;
  readonly enforcement: 'enforce' | 'shadow';
  readonly rules: ToolRules;
  readonly prices: PriceTable;
  readonly stores: Stores;
  readonly hub: ObserverHub;
  readonly approver: Approver | undefined;
  readonly limitPlan: LimitPlan;
  warnUnpriced(model: string): void;
  /** A shared store failed and `fail_mode.reads: open` let something run unchecked. */
  warnStoreUnavailable(what: string, error: unknown): void;
  finishRun<T>(run: RunImpl, outcome: { output: T } | { error: unknown } | undefined): RunResult<T>;
}

/** Refusals that concern the run as a whole always stop it; the others follow `tools.on_refusal`. */
const RUN_LEVEL = new Set(['max_tool_calls', 'max_usd', 'max_seconds', 'loop_detected', 'rate_limited', 'killed']);

interface StopState {
  readonly reason: StopReason;
  readonly detail: string;
  readonly error: StopError;
}

type CallState = ToolCall;

export class RunImpl implements ActiveRun {
  readonly id: string;
  readonly agent: string;
  readonly mode: RunMode;
  readonly tenant: string | undefined;
  readonly parentRunId: string | undefined;
  readonly limits: Budgets;
  readonly metadata: Readonly<Record<string, string | number | boolean>>;
  /** For workflow runs: which path produced the outcome. */
  handledBy: 'workflow' | 'agent' | undefined;

  readonly #g: GovernorCore;
  /** Created on first use: most runs never read their signal, and an AbortController is not free. */
  #controller: AbortController | undefined;
  readonly #startedAt = performance.now();
  readonly #startedEpoch = Date.now();
  readonly #deadline: number;
  readonly #shadow: boolean;
  #timer: NodeJS.Timeout | undefined;
  #stop: StopState | undefined;
  /** Set when work in flight was told to stop (the signal aborted, running calls rejected): see #abortWork. */
  #workAborted = false;
  #wouldHaveStopped: { reason: StopReason; detail: string } | undefined;
  #ended = false;
  #startEvent: RunStartEvent | undefined;
  #result: Promise<RunResult<unknown>> | undefined;
  #resolveStopped!: (error: StopError) => void;
  /** Resolves with the StopError when the run stops: `governor.run()` races the body against it. */
  readonly stoppedPromise: Promise<StopError>;
  /** Rejecters of approvals and idempotency waits in progress, told when the run stops. */
  readonly #waiting = new Set<(error: StopError) => void>();
  /** Tool executions in progress, aborted when the run stops. */
  readonly #inFlight = new InFlight();
  #removeCallerAbort: (() => void) | undefined;

  #steps = 0;
  #toolCalls = 0;
  /** Calls per tool, indexed by ToolRule.index (an array is cheaper than a Map on every call). */
  readonly #callsByRule: number[] = [];
  readonly #rulesCalled: ToolRule[] = [];
  #inputTokens = 0;
  #outputTokens = 0;
  #costUsd = 0;
  #callSeq = 0;
  readonly #decisions: Record<Decision, number> = {
    allow: 0,
    deny: 0,
    dedup: 0,
    approved: 0,
    rejected: 0,
    shadow_deny: 0,
  };
  /** (tool, canonical arguments) -> times called; made on the first tool call. */
  #loopCounts: FingerprintCounter | undefined;
  readonly #crossRun: BoundLimit[];
  readonly #toolCallLimits: BoundLimit[];
  readonly #usdLimits: BoundLimit[];
  readonly #slots: BoundSlot[];
  /** Per-tool limits of this run's own budgets, beside the policy's. */
  readonly #ownPerTool: PerToolLimits | undefined;
  readonly #heldSlots: string[] = [];

  constructor(governor: GovernorCore, options: RunOptions) {
    this.#g = governor;
    this.id = options.runId ?? randomUUID();
    this.agent = options.agent;
    this.mode = options.mode ?? governor.policy.mode.default;
    this.tenant = options.tenant;
    this.parentRunId = options.parentRunId;
    this.metadata = options.metadata ?? {};
    this.limits = options.budgets ? stricterBudgets(governor.policy.budgets, options.budgets) : governor.policy.budgets;
    const ownPerTool = options.budgets?.per_tool;
    this.#ownPerTool = ownPerTool && Object.keys(ownPerTool).length > 0 ? new PerToolLimits(ownPerTool) : undefined;
    this.#shadow = governor.enforcement === 'shadow';
    this.#deadline =
      this.limits.max_seconds === undefined
        ? Number.POSITIVE_INFINITY
        : this.#startedAt + this.limits.max_seconds * 1000;
    this.stoppedPromise = new Promise(resolve => {
      this.#resolveStopped = resolve;
    });
    const bound = governor.limitPlan.empty
      ? { limits: [], slots: [] }
      : governor.limitPlan.bind(this.agent, this.tenant);
    this.#crossRun = bound.limits;
    this.#toolCallLimits = bound.limits.filter(limit => limit.metric === 'tool_calls');
    this.#usdLimits = bound.limits.filter(limit => limit.metric === 'usd');
    this.#slots = bound.slots;
    if (options.signal) {
      const signal = options.signal;
      const onAbort = () => this.#stopWith('killed', 'aborted by the caller', 'signal');
      if (signal.aborted) queueMicrotask(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.#removeCallerAbort = () => signal.removeEventListener('abort', onAbort);
      }
    }
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#workAborted) this.#controller.abort(this.#stop!.error);
    }
    return this.#controller.signal;
  }

  get stopped(): { reason: StopReason; detail: string } | undefined {
    return this.#stop ? { reason: this.#stop.reason, detail: this.#stop.detail } : undefined;
  }

  get wouldHaveStopped(): { reason: StopReason; detail: string } | undefined {
    return this.#wouldHaveStopped;
  }

  // ---- lifecycle (called by the governor) ----

  /** Emits run.start and applies the checks that can refuse a run before its body starts. */
  async begin(): Promise<RunStartEvent | undefined> {
    const g = this.#g;
    const start: RunStartEvent | undefined = g.hub.active
      ? {
          type: 'run.start',
          time: this.#startedEpoch,
          runId: this.id,
          agent: this.agent,
          mode: this.mode,
          tenant: this.tenant,
          parentRunId: this.parentRunId,
          budgets: this.budgets(),
          enforcement: g.enforcement,
          metadata: this.metadata,
        }
      : undefined;
    if (start) g.hub.emit(start);
    this.#startEvent = start;
    const kill = this.#killRecord();
    if (kill) {
      this.#stopWith('killed', killDetail(kill), 'kill_switch');
      return start;
    }
    for (const slot of this.#slots) {
      let acquired: boolean;
      try {
        acquired = await g.stores.limits.acquire(slot.key, slot.limit);
      } catch (error) {
        if (g.policy.fail_mode.reads === 'open') {
          g.warnStoreUnavailable(`run ${this.id} started without counting ${slot.rule}`, error);
          continue;
        }
        this.#stopWith('store_unavailable', storeDetail(`cannot count ${slot.rule}`, error), 'fail_mode.reads');
        return start;
      }
      if (acquired) {
        this.#heldSlots.push(slot.key);
        continue;
      }
      const reason: StopReason = `rate_limited:${slot.scopeName}`;
      const detail = `${slot.scopeName} already has ${slot.limit} run(s) in flight (${slot.rule})`;
      if (this.#shadow) this.#recordShadowStop(reason, detail, slot.rule);
      else {
        this.#stopWith(reason, detail, slot.rule);
        return start;
      }
    }
    if (this.#deadline !== Number.POSITIVE_INFINITY) this.#armDeadline();
    return start;
  }

  /** The deadline's timer; in shadow mode it only records that the run would have stopped. */
  #armDeadline(): void {
    const ms = this.#deadline - performance.now();
    // setTimeout takes at most 2^31-1 ms (24.8 days) and fires at once beyond: a longer deadline is waited in legs.
    this.#timer = setTimeout(
      () => {
        if (performance.now() < this.#deadline) return this.#armDeadline();
        if (this.#shadow) this.#recordShadowStop('max_seconds', this.#deadlineDetail(), 'budgets.max_seconds');
        else this.#deadlineStop();
      },
      Math.min(Math.max(0, ms), MAX_TIMER_MS),
    );
  }

  /** Stops the run from outside (kill switch). */
  kill(record: KillRecord): void {
    this.#stopWith('killed', killDetail(record), 'kill_switch');
  }

  get ended(): boolean {
    return this.#ended;
  }

  within<T>(fn: () => T): T {
    const start = this.#startEvent;
    return start ? this.#g.hub.wrap(start, fn) : fn();
  }

  end<T>(outcome?: { output: T } | { error: unknown }): Promise<RunResult<T>> {
    this.#result ??= (async () => {
      await this.#release();
      return this.#g.finishRun<unknown>(this, outcome);
    })();
    return this.#result as Promise<RunResult<T>>;
  }

  /** Marks the run ended: timers and slots are released, later calls are refused. */
  async #release(): Promise<void> {
    this.#ended = true;
    if (this.#timer) clearTimeout(this.#timer);
    // A budget stop let the calls already running finish; once the run is over, whatever still runs is cut short.
    if (this.#stop) this.#abortWork(this.#stop.error);
    // A call still being admitted (an async schema) after this gets a fresh table, never the pooled one.
    this.#loopCounts?.release();
    this.#loopCounts = undefined;
    this.#removeCallerAbort?.();
    for (const key of this.#heldSlots.splice(0)) {
      try {
        await this.#g.stores.limits.releaseSlot(key);
      } catch {
        // A store that cannot release will expire the slot itself; the run's result stands.
      }
    }
  }

  /** Records a stop decided by the governor (an error in the body, an unhandled refusal). */
  stopFromOutside(reason: StopReason, detail: string): StopError {
    return this.#stopWith(reason, detail, 'run');
  }

  // ---- the public Run API ----

  check(): void {
    if (this.#stop) throw this.#stop.error;
    const kill = this.#killRecord();
    if (kill) throw this.#stopWith('killed', killDetail(kill), 'kill_switch');
    if (performance.now() >= this.#deadline && !this.#shadow) throw this.#deadlineStop();
  }

  #deadlineDetail(): string {
    return `ran for ${this.limits.max_seconds}s (budgets.max_seconds)`;
  }

  #deadlineStop(): StopError {
    return this.#stopWith('max_seconds', this.#deadlineDetail(), 'budgets.max_seconds');
  }

  async step(options?: { name?: string }): Promise<void> {
    this.#assertLive('step');
    this.check();
    const limits = this.limits;
    if (limits.max_steps !== undefined && this.#steps + 1 > limits.max_steps) {
      this.#runLevel('max_steps', `step ${this.#steps + 1} exceeds max_steps ${limits.max_steps}`, 'budgets.max_steps');
    }
    this.#checkSpent();
    if (this.#usdLimits.length > 0) await this.#checkCrossRunSpend();
    this.#steps++;
    const hub = this.#g.hub;
    if (hub.active) {
      hub.emit({
        type: 'step',
        time: Date.now(),
        runId: this.id,
        agent: this.agent,
        index: this.#steps,
        name: options?.name,
        budgets: this.budgets(),
      });
    }
  }

  usage(usage: UsageInput): void {
    const input = nonNegative(usage.inputTokens, 'inputTokens');
    const output = nonNegative(usage.outputTokens, 'outputTokens');
    const cached = nonNegative(usage.cachedInputTokens, 'cachedInputTokens');
    const provider = usage.provider;
    if (provider !== undefined && typeof provider !== 'string') {
      throw new UsageError(`run.usage(): provider must be a string when given, not ${typeof provider}`);
    }
    let cost = usage.costUsd;
    if (cost === undefined && usage.model !== undefined) {
      cost = this.#g.prices.cost(usage.model, input, output, cached);
      if (cost === undefined && (this.limits.max_usd !== undefined || this.#usdLimits.length > 0)) {
        this.#g.warnUnpriced(usage.model);
      }
    }
    cost ??= 0;
    this.#inputTokens += input;
    this.#outputTokens += output;
    this.#costUsd += cost;
    if (cost > 0 && this.#usdLimits.length > 0) this.#addCrossRunSpend(cost);
    const hub = this.#g.hub;
    if (hub.active) {
      hub.emit({
        type: 'usage',
        time: Date.now(),
        runId: this.id,
        agent: this.agent,
        model: usage.model,
        provider,
        inputTokens: input,
        outputTokens: output,
        costUsd: cost,
        budgets: this.budgets(),
      });
    }
    // Spend reported after a stop is still recorded, but cannot stop the run twice.
    if (this.#stop || this.#ended) return;
    const limits = this.limits;
    const total = this.#inputTokens + this.#outputTokens;
    if (limits.max_tokens !== undefined && total > limits.max_tokens) {
      this.#runLevel('max_tokens', `${total} tokens exceed max_tokens ${limits.max_tokens}`, 'budgets.max_tokens');
    }
    if (limits.max_input_tokens !== undefined && this.#inputTokens > limits.max_input_tokens) {
      this.#runLevel(
        'max_input_tokens',
        `${this.#inputTokens} input tokens exceed max_input_tokens ${limits.max_input_tokens}`,
        'budgets.max_input_tokens',
      );
    }
    if (limits.max_output_tokens !== undefined && this.#outputTokens > limits.max_output_tokens) {
      this.#runLevel(
        'max_output_tokens',
        `${this.#outputTokens} output tokens exceed max_output_tokens ${limits.max_output_tokens}`,
        'budgets.max_output_tokens',
      );
    }
    if (limits.max_usd !== undefined && this.#costUsd > limits.max_usd + USD_EPSILON) {
      this.#runLevel('max_usd', `spent $${fmtUsd(this.#costUsd)} of max_usd $${limits.max_usd}`, 'budgets.max_usd');
    }
  }

  tool<A, R>(name: string, args: A, execute: ToolExecute<A, R>, options?: ToolCallOptions): Promise<R> {
    // The common path (an allowed read) runs synchronously up to the tool itself: no async function, no extra
    // promise per check. Paths that must wait (async schemas, shared stores, idempotency, approvals) go async.
    try {
      this.#assertLive('tool');
      if (typeof name !== 'string' || name.length === 0) {
        throw new UsageError('run.tool(): the tool name must be a non-empty string');
      }
      if (typeof execute !== 'function') throw new UsageError(`run.tool("${name}"): execute must be a function`);
      if (this.#stop) throw this.#stop.error;
      // The deadline's timer cannot fire while a loop of calls to tools that answer at once keeps the thread busy.
      if (this.#deadline !== Number.POSITIVE_INFINITY && !this.#shadow && performance.now() >= this.#deadline) {
        throw this.#deadlineStop();
      }
      const g = this.#g;
      const policy = g.policy;
      const rule = g.rules.get(name);
      const hub = g.hub;
      // Only events need the time; a clock read is not free on every call.
      const call = new ToolCall(this, name, rule, options?.callId, ++this.#callSeq, hub.active ? epochNow() : 0);
      if (hub.active) {
        hub.emit({
          type: 'tool.start',
          time: call.started,
          runId: this.id,
          agent: this.agent,
          callId: call.callId,
          tool: name,
          write: rule.write,
          args,
          recordContent: rule.recordContent,
        });
      }

      // 1. The kill switch acts even in shadow mode. (The deadline needs no check here: its timer stops the run,
      // and a stopped run refuses the call above.)
      const kill = policy.kill_switch.enabled ? g.stores.killSwitch.check(this.agent, this.id) : undefined;
      if (kill) throw this.#refuse(call, 'killed', 'kill_switch', killDetail(kill), true);

      // 2. Circuit breaker: a tool that keeps failing is refused for a cool-down instead of hammered.
      if (policy.circuit_breaker.enabled) {
        const openUntil = g.stores.circuits.openUntil(name);
        if (openUntil < 0) call.trial = -openUntil;
        else if (openUntil > 0) {
          this.#refuseOrShadow(
            call,
            `circuit_open:${name}`,
            'circuit_breaker',
            `${name} failed ${policy.circuit_breaker.failure_threshold} times in a row; retry in ${Math.ceil((openUntil - Date.now()) / 1000)}s`,
          );
        }
      }

      // 3. Gateway: deny list, read-only, allow list.
      if (!rule.access.allowed) this.#refuseOrShadow(call, `tool_denied:${name}`, rule.access.rule, rule.access.detail);

      // 4. Arguments.
      if (rule.schema) {
        const result = rule.schema['~standard'].validate(args);
        if (result instanceof Promise) {
          return result.then(r => {
            // Not counted yet when the run stopped: any stop refuses it, a budget stop included.
            if (this.#stop || this.#ended) throw this.#refuseLate(call, undefined);
            return this.#afterArgs(call, this.#checkedArgs(call, r, args), execute, options);
          });
        }
        return this.#afterArgs(call, this.#checkedArgs(call, result, args), execute, options);
      }
      return this.#afterArgs(call, args, execute, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #checkedArgs<A>(call: CallState, result: StandardResult<unknown>, args: A): A {
    if (!result.issues) return result.value as A;
    this.#refuseOrShadow(call, `invalid_args:${call.name}`, 'tool schema', formatStandardIssues(result.issues));
    return args;
  }

  #afterArgs<A, R>(
    call: CallState,
    args: A,
    execute: ToolExecute<A, R>,
    options: ToolCallOptions | undefined,
  ): Promise<R> {
    const { name, rule } = call;
    const policy = this.#g.policy;

    // 5. Per-run budgets, checked before the call they would exceed.
    const limits = this.limits;
    if (limits.max_tool_calls !== undefined && this.#toolCalls + 1 > limits.max_tool_calls) {
      this.#refuseOrShadow(
        call,
        'max_tool_calls',
        'budgets.max_tool_calls',
        `call ${this.#toolCalls + 1} exceeds max_tool_calls ${limits.max_tool_calls}`,
      );
    }
    if (rule.perToolLimit !== undefined) {
      const ofTool = this.#callsByRule[rule.index] ?? 0;
      if (ofTool + 1 > rule.perToolLimit) {
        this.#refuseOrShadow(
          call,
          `max_tool_calls:${name}`,
          rule.perToolRule!,
          `call ${ofTool + 1} of ${name} exceeds its limit of ${rule.perToolLimit}`,
        );
      }
    }
    const own = this.#ownPerTool?.for(rule);
    if (own) {
      const ofTool = this.#callsByRule[rule.index] ?? 0;
      if (ofTool + 1 > own.limit) {
        this.#refuseOrShadow(
          call,
          `max_tool_calls:${name}`,
          own.rule,
          `call ${ofTool + 1} of ${name} exceeds its limit of ${own.limit}`,
        );
      }
    }
    if (limits.max_usd !== undefined && this.#costUsd + rule.costUsd > limits.max_usd + USD_EPSILON) {
      this.#refuseOrShadow(
        call,
        'max_usd',
        'budgets.max_usd',
        `spent $${fmtUsd(this.#costUsd)}; ${name} costs $${rule.costUsd} of max_usd $${limits.max_usd}`,
      );
    }

    // 6. Loop detection: the same call over and over is an agent stuck, not working.
    if (policy.loop_detection.enabled) {
      this.#loopCounts ??= FingerprintCounter.take();
      const seen = this.#loopCounts.add(rule.index, args);
      if (seen > policy.loop_detection.max_repeats) {
        this.#refuseOrShadow(
          call,
          `loop_detected:${name}`,
          'loop_detection.max_repeats',
          `${name} called ${seen} times with the same arguments (max_repeats ${policy.loop_detection.max_repeats})`,
        );
      }
    }

    // Counted now, in the same synchronous stretch as the checks above: calls made in parallel, which wait on a
    // shared store below, must see each other, or ten of them would all pass a budget of three.
    this.#reserve(call);

    // 7. Cross-run limits (per agent, tenant, globally). A shared store may take them and begin the idempotency
    // record (step 8) in one round trip.
    const limited = this.#toolCallLimits.length > 0 || (this.#usdLimits.length > 0 && rule.costUsd > 0);
    const admission = this.#g.stores.admission;
    if (admission && (limited || rule.idempotent || options?.idempotencyKey !== undefined)) {
      return this.#admitShared(call, args, execute, options, limited);
    }
    if (limited) {
      const taken = this.#takeCrossRun(call);
      if (taken) return taken.then(() => this.#admit(call, args, execute, options, undefined));
    }
    return this.#admit(call, args, execute, options, undefined);
  }

  /** Steps 7 and 8 through the store set's one-round-trip admission. */
  async #admitShared<A, R>(
    call: CallState,
    args: A,
    execute: ToolExecute<A, R>,
    options: ToolCallOptions | undefined,
    limited: boolean,
  ): Promise<R> {
    const g = this.#g;
    const requests = limited ? this.#crossRunRequests(call) : [];
    const idempotency =
      call.rule.idempotent || options?.idempotencyKey !== undefined
        ? {
            ...idempotencyKeyOf(this.agent, this.tenant, call.name, args, options),
            ttlMs: this.#ttlMs(),
            onCrash: call.rule.onCrash,
          }
        : undefined;
    const request: AdmissionRequest = {
      agent: this.agent,
      runId: this.id,
      tool: call.name,
      checkKill: g.policy.kill_switch.enabled,
      limits: requests,
      idempotency,
      now: Date.now(),
    };
    let outcome: AdmissionOutcome;
    try {
      outcome = await g.stores.admission!.admit(request);
    } catch (error) {
      this.#storeFailed(call, 'cross-run limits and idempotency', error);
      return this.#admit(call, args, execute, options, undefined);
    }
    if (outcome.status === 'killed') {
      throw this.#refuse(call, 'killed', 'kill_switch', killDetail(outcome.record), true);
    }
    if (outcome.status === 'limited') {
      // Throws, except in shadow mode, where the call goes on to begin its record on its own.
      this.#onTaken(call, requests, { ok: false, index: outcome.index, used: outcome.used });
      return this.#admit(call, args, execute, options, undefined);
    }
    this.#onTaken(call, requests, { ok: true });
    const begun = idempotency && outcome.idempotency ? { ...idempotency, first: outcome.idempotency } : undefined;
    return this.#admit(call, args, execute, options, begun);
  }

  /**
   * A shared store failed. Writes fail closed (`store_unavailable`); other calls too, unless `fail_mode.reads` is
   * `open`: then the call runs unchecked and the governor warns.
   */
  #storeFailed(call: CallState, what: string, error: unknown): void {
    const g = this.#g;
    const rule = call.rule.write ? 'fail_mode.writes' : 'fail_mode.reads';
    if (!call.rule.write && g.policy.fail_mode.reads === 'open') {
      call.unchecked = true;
      g.warnStoreUnavailable(`${call.name} ran without checking ${what}`, error);
      return;
    }
    // Not a policy refusal but a missing safeguard: enforced in shadow mode too.
    throw this.#refuse(call, 'store_unavailable', rule, storeDetail(`cannot check ${what}`, error), false);
  }

  #admit<A, R>(
    call: CallState,
    args: A,
    execute: ToolExecute<A, R>,
    options: ToolCallOptions | undefined,
    begun: Begun | undefined,
  ): Promise<R> {
    const rule = call.rule;
    // Admission may have waited on a shared store. A call counted before a budget stop may still run, as one already
    // running may finish; after a hard stop (kill, deadline, the caller's abort) or the run's end, nothing starts.
    if (this.#workAborted || this.#ended) {
      // Only a lease this call took is its to give back: `in_flight` or `conflict` means another call holds it.
      throw this.#refuseLate(call, begun?.first?.status === 'acquired' ? begun.key : undefined);
    }
    // Admitted: it counts against the budgets from here on, whether it runs, replays or is refused by an approver.
    call.reserved = false;
    const needsApproval = rule.write && this.#g.policy.writes.require_approval;
    if (rule.idempotent || options?.idempotencyKey !== undefined || needsApproval) {
      return this.#guarded(call, args, execute, options, begun);
    }
    const decision: Decision = call.shadow ? 'shadow_deny' : 'allow';
    const decisionRule = call.shadow?.rule ?? (call.unchecked ? 'fail_mode.reads' : rule.access.rule);
    return this.#execute(call, args, execute, decision, decisionRule, undefined, undefined);
  }

  /** Idempotency and approval: the parts of a call that wait on a store or a person. */
  #guarded<A, R>(
    call: CallState,
    args: A,
    execute: ToolExecute<A, R>,
    options: ToolCallOptions | undefined,
    begun: Begun | undefined,
  ): Promise<R> {
    const guarded = this.#guardedInner(call, args, execute, options, begun);
    // Nothing reserved, nothing to give back: no extra promise on the common path.
    if (call.costUsd === 0) return guarded;
    return guarded.catch((error: unknown) => {
      // Refused, conflicting or stopped before it ran: nothing was spent.
      if (!call.executed) this.settleCost(call, 0);
      throw error;
    });
  }

  async #guardedInner<A, R>(
    call: CallState,
    args: A,
    execute: ToolExecute<A, R>,
    options: ToolCallOptions | undefined,
    begun: Begun | undefined,
  ): Promise<R> {
    const { name, rule } = call;
    const g = this.#g;

    // 8. Idempotency: a side effect with the same key runs once; later calls get the recorded result.
    let idempotencyKey: string | undefined;
    if ((rule.idempotent || options?.idempotencyKey !== undefined) && !call.unchecked) {
      const { key, fingerprint } = begun ?? idempotencyKeyOf(this.agent, this.tenant, name, args, options);
      const replay = await this.#beginIdempotent(call, key, fingerprint, begun?.first);
      if (replay) return replay.value as R;
      // A read that could not be checked (fail_mode.reads: open) runs without a record.
      if (!call.unchecked) idempotencyKey = key;
    }

    // 9. Approval for writes.
    let decision: Decision = call.shadow ? 'shadow_deny' : 'allow';
    let approvedBy: string | undefined;
    let decisionRule = call.shadow?.rule ?? (call.unchecked ? 'fail_mode.reads' : rule.access.rule);
    if (rule.write && g.policy.writes.require_approval) {
      const auto = g.rules.autoApprove.match(name, args);
      if (auto) {
        approvedBy = `policy:${auto.rule}`;
        decisionRule = auto.rule;
        if (!call.shadow) decision = 'approved';
      } else if (this.#shadow) {
        // Shadow mode asks nobody: it only records that the write would have waited for approval.
        call.shadow ??= {
          reason: `approval_rejected:${name}`,
          rule: 'writes.require_approval',
          detail: 'approval required',
        };
        decision = 'shadow_deny';
        decisionRule = call.shadow.rule;
      } else {
        const approval = await this.#approve(call, args, idempotencyKey);
        approvedBy = approval.by;
        decision = 'approved';
        decisionRule = 'writes.require_approval';
      }
    }
    return this.#execute(call, args, execute, decision, decisionRule, approvedBy, idempotencyKey);
  }

  /** 10. Runs the tool, raced against the run's deadline and kill switch. */
  #execute<A, R>(
    call: CallState,
    args: A,
    execute: ToolExecute<A, R>,
    decision: Decision,
    decisionRule: string,
    approvedBy: string | undefined,
    idempotencyKey: string | undefined,
  ): Promise<R> {
    // The same after an idempotency record or a person was waited for.
    if (this.#workAborted || this.#ended) throw this.#refuseLate(call, idempotencyKey);
    const g = this.#g;
    const hub = g.hub;
    const name = call.name;
    this.#decisions[decision]++;
    const decisionEvent: ToolDecisionEvent | undefined = hub.active
      ? {
          type: 'tool.decision',
          time: Date.now(),
          runId: this.id,
          agent: this.agent,
          callId: call.callId,
          tool: name,
          decision,
          reason: call.shadow?.reason,
          rule: decisionRule,
          detail: call.shadow?.detail,
          approvedBy,
          enforced: !call.shadow,
          idempotencyKey,
        }
      : undefined;
    if (decisionEvent) hub.emit(decisionEvent);

    call.idempotencyKey = idempotencyKey;
    call.executed = true;
    let pending: Promise<R>;
    try {
      const returned = decisionEvent ? wrapExecute(hub, decisionEvent, execute, args, call) : execute(args, call);
      pending = Promise.resolve(returned);
    } catch (error) {
      pending = Promise.reject(error);
    }
    // The real outcome settles the idempotency lease, even if the run stops before the tool does.
    if (idempotencyKey !== undefined) {
      const key = idempotencyKey;
      const store = g.stores.idempotency;
      pending.then(
        value => settle(() => store.complete(key, value, this.#ttlMs())),
        () => settle(() => store.release(key)),
      );
    }
    // The caller's promise is settled through the call, not by a closure kept on it: with one (an abort callback),
    // the bytes an AI SDK loop promoted to the old generation more than doubled (measured against a plain loop).
    const promise = new Promise<R>((resolve, reject) => {
      call.resolve = resolve as (value: unknown) => void;
      call.reject = reject;
    });
    // Read again: the tool itself may have stopped the run (TypeScript narrowed the field at the check above).
    const stop = this.#stop as StopState | undefined;
    if (stop && this.#workAborted) {
      // Stopped while the tool started (it threw the kill switch, say): whatever it does next is nobody's to handle.
      pending.then(undefined, ignore);
      this.#abortCall(call, stop.error);
      return promise;
    }
    this.#inFlight.add(call);
    pending.then(
      value => this.#settled(call, value),
      (error: unknown) => this.#failed(call, error),
    );
    return promise;
  }

  #settled(call: CallState, value: unknown): void {
    if (!this.#inFlight.delete(call)) return;
    const g = this.#g;
    if (g.policy.circuit_breaker.enabled) g.stores.circuits.recordSuccess(call.name);
    this.#toolEnd(call, 'ok', undefined, value);
    call.resolve!(value);
  }

  #failed(call: CallState, error: unknown): void {
    if (!this.#inFlight.delete(call)) return;
    const stop = this.#stop;
    // Once the run's work was aborted, whatever the tool does next is the abort's doing.
    if (stop && this.#workAborted) {
      this.#abortCall(call, stop.error);
      return;
    }
    const g = this.#g;
    if (g.policy.circuit_breaker.enabled) {
      const cb = g.policy.circuit_breaker;
      // Bad arguments from the model say nothing about the tool's health: neither a failure nor a trial's answer.
      if (ToolInputError.is(error)) {
        // A store that does not say which call is the trial (openUntil 0) decides for itself.
        g.stores.circuits.releaseTrial?.(call.name, call.trial || undefined);
      } else g.stores.circuits.recordFailure(call.name, cb.failure_threshold, cb.cooldown_seconds * 1000, Date.now());
    }
    this.#toolEnd(call, 'error', errorMessage(error), undefined);
    call.reject!(error);
  }

  /** The run stopped while the tool ran: the caller is rejected at once, whatever the tool does next. */
  #abortCall(call: CallState, error: StopError): void {
    this.#toolEnd(call, 'aborted', error.reason, undefined);
    call.reject!(error);
  }

  budgets(): BudgetSnapshot[] {
    return budgetSnapshots(
      this.limits,
      this.#steps,
      this.#toolCalls,
      this.#inputTokens,
      this.#outputTokens,
      this.#costUsd,
      performance.now() - this.#startedAt,
    );
  }

  snapshot(): RunUsage {
    return {
      steps: this.#steps,
      toolCalls: this.#toolCalls,
      toolCallsByTool: Object.fromEntries(
        this.#rulesCalled.flatMap(rule => {
          const calls = this.#callsByRule[rule.index]!;
          return calls > 0 ? [[rule.name, calls]] : [];
        }),
      ),
      inputTokens: this.#inputTokens,
      outputTokens: this.#outputTokens,
      totalTokens: this.#inputTokens + this.#outputTokens,
      costUsd: round6(this.#costUsd),
      durationMs: round3(performance.now() - this.#startedAt),
      decisions: { ...this.#decisions },
    };
  }

  // ---- internals ----

  /**
   * Settles like `promise`, or rejects with the StopError as soon as the run stops. Not Promise.race against a
   * long-lived promise: that leaves a reaction behind on every call and grows without bound.
   */
  #untilStopped<T>(promise: PromiseLike<T>): Promise<T> {
    const stop = this.#stop;
    if (stop) return Promise.reject(stop.error);
    return new Promise<T>((resolve, reject) => {
      const waiting = this.#waiting;
      waiting.add(reject);
      promise.then(
        value => {
          waiting.delete(reject);
          resolve(value);
        },
        error => {
          waiting.delete(reject);
          reject(error);
        },
      );
    });
  }

  /** Read through a method: TypeScript would otherwise keep a narrowing of the field across awaits. */
  #currentStop(): StopState | undefined {
    return this.#stop;
  }

  #assertLive(method: string): void {
    if (this.#ended) {
      // A body still running after its run stopped gets the stop, not a usage error.
      if (this.#stop) throw this.#stop.error;
      throw new UsageError(
        `run.${method}() was called after run ${this.id} ended; keep calls inside the function passed to governor.run()`,
      );
    }
  }

  #killRecord(): KillRecord | undefined {
    return this.#g.policy.kill_switch.enabled ? this.#g.stores.killSwitch.check(this.agent, this.id) : undefined;
  }

  /**
   * Stops the run. The kill switch, the deadline, the caller's abort and an error in the body cut short the work in
   * flight at once (the signal aborts, running calls are rejected). Any other stop (a budget, a refused call) lets
   * the calls already admitted finish with their real outcome: they were within the budget, and a write that ran
   * must not be reported as failed. Their work is cut short when the run ends, or at once if a hard stop follows.
   */
  #stopWith(reason: StopReason, detail: string, rule: string): StopError {
    const hard = reason === 'killed' || reason === 'max_seconds' || rule === 'run';
    const stop = this.#stop;
    if (stop) {
      if (hard) this.#abortWork(stop.error);
      return stop.error;
    }
    const error = new StopError(reason, detail);
    this.#stop = { reason, detail, error };
    // The deadline still holds for calls left running by a budget stop.
    if (hard && this.#timer) clearTimeout(this.#timer);
    const hub = this.#g.hub;
    if (hub.active) {
      hub.emit({ type: 'run.stop', time: Date.now(), runId: this.id, agent: this.agent, reason, detail, rule });
    }
    for (const reject of this.#waiting) reject(error);
    this.#waiting.clear();
    if (hard) this.#abortWork(error);
    this.#resolveStopped(error);
    return error;
  }

  /** Aborts the run's signal and rejects the calls still running, once. */
  #abortWork(error: StopError): void {
    if (this.#workAborted) return;
    this.#workAborted = true;
    this.#controller?.abort(error);
    for (let call = this.#inFlight.takeAll(); call; call = call.nextInFlight) this.#abortCall(call, error);
  }

  #recordShadowStop(reason: StopReason, detail: string, rule: string): void {
    if (this.#wouldHaveStopped) return;
    this.#wouldHaveStopped = { reason, detail };
    const hub = this.#g.hub;
    if (hub.active) {
      hub.emit({ type: 'run.shadow_stop', time: Date.now(), runId: this.id, agent: this.agent, reason, detail, rule });
    }
  }

  /** A run-level budget ran out outside a tool call (steps, tokens, USD). */
  #runLevel(reason: StopReason, detail: string, rule: string): void {
    if (this.#shadow) {
      // Not a decision on a tool call (those are what `decisions` count, one per tool.decision event): the
      // would-be stop is recorded in `wouldHaveStopped` and its run.shadow_stop event.
      this.#recordShadowStop(reason, detail, rule);
      return;
    }
    throw this.#stopWith(reason, detail, rule);
  }

  #checkSpent(): void {
    const limits = this.limits;
    const total = this.#inputTokens + this.#outputTokens;
    if (limits.max_tokens !== undefined && total >= limits.max_tokens) {
      this.#runLevel('max_tokens', `${total} tokens used of max_tokens ${limits.max_tokens}`, 'budgets.max_tokens');
    }
    if (limits.max_input_tokens !== undefined && this.#inputTokens >= limits.max_input_tokens) {
      this.#runLevel(
        'max_input_tokens',
        `${this.#inputTokens} input tokens used of max_input_tokens ${limits.max_input_tokens}`,
        'budgets.max_input_tokens',
      );
    }
    if (limits.max_output_tokens !== undefined && this.#outputTokens >= limits.max_output_tokens) {
      this.#runLevel(
        'max_output_tokens',
        `${this.#outputTokens} output tokens used of max_output_tokens ${limits.max_output_tokens}`,
        'budgets.max_output_tokens',
      );
    }
    if (limits.max_usd !== undefined && this.#costUsd >= limits.max_usd - USD_EPSILON) {
      this.#runLevel('max_usd', `spent $${fmtUsd(this.#costUsd)} of max_usd $${limits.max_usd}`, 'budgets.max_usd');
    }
  }

  async #checkCrossRunSpend(): Promise<void> {
    const now = Date.now();
    for (const limit of this.#usdLimits) {
      let used: number;
      try {
        used = await this.#g.stores.limits.used(limit.key, limit.windowMs, limit.sliding, now);
      } catch (error) {
        if (this.#g.policy.fail_mode.reads === 'open') {
          this.#g.warnStoreUnavailable(`a step of run ${this.id} ran without checking ${limit.rule}`, error);
          continue;
        }
        throw this.#stopWith('store_unavailable', storeDetail(`cannot check ${limit.rule}`, error), 'fail_mode.reads');
      }
      if (used >= limit.limit - USD_EPSILON) {
        this.#runLevel(
          'max_usd',
          `${limit.scopeName} spent $${fmtUsd(used)} this ${limit.window} of $${limit.limit} (${limit.rule})`,
          limit.rule,
        );
      }
    }
  }

  #addCrossRunSpend(cost: number): void {
    const requests: LimitRequest[] = this.#usdLimits.map(limit => ({ ...limit, amount: cost }));
    void settle(() => this.#g.stores.limits.add(requests, Date.now()));
  }

  /**
   * Settles a call's reserved price with what it actually cost (0 when it never ran): the run's spend and the
   * cross-run USD counters get the difference. Called by `ctx.reportCost()` too, so it may run more than once.
   */
  settleCost(call: CallState, actual: number): void {
    const delta = actual - call.costUsd;
    if (delta !== 0) {
      this.#costUsd += delta;
      call.costUsd = actual;
    }
    if (this.#usdLimits.length === 0) return;
    const crossDelta = actual - call.crossRunUsd;
    if (crossDelta === 0) return;
    call.crossRunUsd = actual;
    this.#addCrossRunSpend(crossDelta);
  }

  #crossRunRequests(call: CallState): BoundLimit[] {
    const cost = call.rule.costUsd;
    const requests: BoundLimit[] = [];
    for (const limit of this.#crossRun) {
      if (limit.metric === 'tool_calls') requests.push({ ...limit, amount: 1 });
      else if (cost > 0) requests.push({ ...limit, amount: cost });
    }
    return requests;
  }

  /** Takes from the cross-run limits; returns a promise only when the store is asynchronous. */
  #takeCrossRun(call: CallState): Promise<void> | undefined {
    const requests = this.#crossRunRequests(call);
    let outcome: ReturnType<Stores['limits']['take']>;
    try {
      outcome = this.#g.stores.limits.take(requests, Date.now());
    } catch (error) {
      this.#storeFailed(call, 'cross-run limits', error);
      return undefined;
    }
    if (outcome instanceof Promise) {
      return outcome.then(
        result => this.#onTaken(call, requests, result),
        (error: unknown) => this.#storeFailed(call, 'cross-run limits', error),
      );
    }
    this.#onTaken(call, requests, outcome);
    return undefined;
  }

  #onTaken(call: CallState, requests: BoundLimit[], outcome: LimitOutcome): void {
    if (outcome.ok) {
      // What this call holds in the cross-run USD counters, to settle later.
      if (this.#usdLimits.length > 0 && call.rule.costUsd > 0) call.crossRunUsd = call.rule.costUsd;
      return;
    }
    const failed = requests[outcome.index]!;
    if (failed.metric === 'usd') {
      this.#refuseOrShadow(
        call,
        'max_usd',
        failed.rule,
        `${failed.scopeName} spent $${fmtUsd(outcome.used)} this ${failed.window} of $${failed.limit}`,
      );
    } else {
      this.#refuseOrShadow(
        call,
        `rate_limited:${failed.scopeName}`,
        failed.rule,
        `${failed.scopeName} made ${Math.floor(outcome.used)} tool calls this ${failed.window} (limit ${failed.limit})`,
      );
    }
  }

  async #beginIdempotent(
    call: CallState,
    key: string,
    fingerprint: string,
    first: IdempotencyBegin | undefined,
  ): Promise<{ value: unknown } | undefined> {
    const store = this.#g.stores.idempotency;
    const ttl = this.#ttlMs();
    let begun = first;
    for (; ; begun = undefined) {
      if (begun === undefined) {
        try {
          begun = await store.begin(key, fingerprint, ttl, ON_CRASH[call.rule.onCrash]);
        } catch (error) {
          this.#storeFailed(call, 'its idempotency record', error);
          return undefined; // a read under fail_mode.reads: open runs unchecked
        }
      }
      switch (begun.status) {
        case 'acquired':
          return undefined;
        case 'conflict': {
          const error = new IdempotencyConflictError(key, call.name);
          this.#idempotencyDecision(call, 'deny', key, error.message);
          this.#toolEnd(call, 'refused', 'idempotency conflict', undefined);
          throw error;
        }
        case 'crashed': {
          const error = new IdempotencyCrashedError(key, call.name);
          this.#idempotencyDecision(call, 'deny', key, error.message);
          this.#toolEnd(call, 'refused', 'idempotency: crashed in flight', undefined);
          throw error;
        }
        case 'in_flight':
          // Another caller is running this exact call: wait for it (or for this run to stop), then look again.
          await this.#untilStopped(begun.settled).catch(error => {
            this.#toolEnd(call, 'aborted', this.#stop?.reason, undefined);
            throw error;
          });
          continue;
        case 'replay': {
          this.#idempotencyDecision(call, 'dedup', key, 'replayed the recorded result');
          this.settleCost(call, 0); // nothing ran, nothing was spent
          this.#toolEnd(call, 'dedup', undefined, begun.value);
          return { value: begun.value };
        }
      }
    }
  }

  async #approve(call: CallState, args: unknown, idempotencyKey: string | undefined): Promise<{ by: string }> {
    const g = this.#g;
    const name = call.name;
    const release = () => {
      if (idempotencyKey !== undefined) void settle(() => g.stores.idempotency.release(idempotencyKey));
    };
    const approver = g.approver;
    const hub = g.hub;
    const approvalId = newApprovalId();
    const requestedAt = Date.now();
    const timeoutMs = g.policy.writes.approval_timeout_seconds * 1000;
    if (!approver) {
      release();
      throw this.#refuse(
        call,
        `approval_rejected:${name}`,
        'writes.require_approval',
        'this write needs approval and the governor has no approver (pass `approver` to createGovernor)',
        false,
        'bounded',
      );
    }
    if (hub.active) {
      hub.emit({
        type: 'approval.requested',
        time: requestedAt,
        runId: this.id,
        agent: this.agent,
        approvalId,
        callId: call.callId,
        tool: name,
      });
    }
    const controller = new AbortController();
    const runSignal = this.signal;
    const onRunAbort = () => controller.abort(runSignal.reason);
    runSignal.addEventListener('abort', onRunAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>(resolve => {
      // In legs: setTimeout fires at once for a delay beyond 2^31-1 ms (an approval may wait a month).
      const until = performance.now() + timeoutMs;
      const arm = () => {
        const left = until - performance.now();
        timer = left > 0 ? setTimeout(arm, Math.min(left, MAX_TIMER_MS)) : undefined;
        if (!timer) resolve('timeout');
      };
      arm();
    });
    let outcome: Awaited<ReturnType<Approver['request']>> | 'timeout';
    try {
      outcome = await this.#untilStopped<ApprovalDecision | 'timeout'>(
        Promise.race([
          approver.request({
            id: approvalId,
            runId: this.id,
            agent: this.agent,
            tenant: this.tenant,
            tool: name,
            callId: call.callId,
            args,
            requestedAt,
            expiresAt: requestedAt + timeoutMs,
            signal: controller.signal,
          }),
          timeout,
        ]),
      );
    } catch (error) {
      release();
      const stop = this.#currentStop();
      if (stop) {
        this.#toolEnd(call, 'aborted', stop.reason, undefined);
        throw stop.error;
      }
      if (approver.rethrows?.(error)) {
        // A framework's pause for a human (an interrupt): neither approved nor refused; it passes through.
        this.#toolEnd(call, 'interrupted', errorMessage(error), undefined);
        throw error;
      }
      // An approver that fails cannot approve: the write is refused, loudly.
      outcome = { approved: false, by: approver.name ?? 'approver', reason: `approver failed: ${errorMessage(error)}` };
    } finally {
      clearTimeout(timer);
      runSignal.removeEventListener('abort', onRunAbort);
      if (!controller.signal.aborted) controller.abort(new Error('approval settled'));
    }
    const timedOut = outcome === 'timeout';
    const decision: { approved: boolean; by: string; reason?: string | undefined } =
      outcome === 'timeout' ? { approved: false, by: 'timeout', reason: undefined } : outcome;
    if (hub.active) {
      hub.emit({
        type: 'approval.decided',
        time: Date.now(),
        runId: this.id,
        agent: this.agent,
        approvalId,
        callId: call.callId,
        tool: name,
        approved: decision.approved,
        by: decision.by,
        reason: decision.reason,
        timedOut,
        waitedMs: Date.now() - requestedAt,
      });
    }
    if (decision.approved) return { by: decision.by };
    release();
    if (timedOut) {
      throw this.#refuse(
        call,
        `approval_timeout:${name}`,
        'writes.approval_timeout_seconds',
        `no decision within ${g.policy.writes.approval_timeout_seconds}s`,
        false,
        undefined,
      );
    }
    throw this.#refuse(
      call,
      `approval_rejected:${name}`,
      'writes.require_approval',
      `rejected by ${decision.by}${decision.reason ? `: ${decision.reason}` : ''}`,
      false,
      decision.by,
    );
  }

  #ttlMs(): number {
    return this.#g.policy.idempotency.ttl_seconds * 1000;
  }

  /**
   * A decision its idempotency record makes for a call: `dedup` (the recorded result is replayed), or `deny` (the key
   * holds another call's arguments, or a call that crashed in flight).
   */
  #idempotencyDecision(call: CallState, decision: 'dedup' | 'deny', key: string, detail: string): void {
    this.#decisions[decision]++;
    this.#emitDecision(call, decision, undefined, 'idempotency', detail, undefined, key);
  }

  /** The `tool.decision` event of a call decided without running it (refused, or replayed). */
  #emitDecision(
    call: CallState,
    decision: Decision,
    reason: StopReason | undefined,
    rule: string,
    detail: string,
    approvedBy: string | undefined,
    idempotencyKey: string | undefined,
  ): void {
    const hub = this.#g.hub;
    if (!hub.active) return;
    hub.emit({
      type: 'tool.decision',
      time: Date.now(),
      runId: this.id,
      agent: this.agent,
      callId: call.callId,
      tool: call.name,
      decision,
      reason,
      rule,
      detail,
      approvedBy,
      enforced: true,
      idempotencyKey,
    });
  }

  /** Counts the call against the run's budgets; its price is held, and a call that never runs gets it back. */
  #reserve(call: CallState): void {
    const rule = call.rule;
    this.#toolCalls++;
    const before = this.#callsByRule[rule.index];
    if (before === undefined) this.#rulesCalled.push(rule);
    this.#callsByRule[rule.index] = (before ?? 0) + 1;
    this.#costUsd += rule.costUsd;
    call.costUsd = rule.costUsd;
    call.reserved = true;
  }

  /** A call refused between its reservation and its admission (a cross-run limit, a store): it never counted. */
  #unreserve(call: CallState): void {
    call.reserved = false;
    this.#toolCalls--;
    this.#callsByRule[call.rule.index]!--;
    this.#costUsd -= call.costUsd;
    call.costUsd = 0;
  }

  /**
   * A call whose admission waited while the run stopped or ended: its tool never starts. The idempotency record it
   * began is released and its reserved cost given back; on a stopped run it is refused with the run's stop reason.
   */
  #refuseLate(call: CallState, idempotencyKey: string | undefined): Error {
    if (idempotencyKey !== undefined) {
      const store = this.#g.stores.idempotency;
      void settle(() => store.release(idempotencyKey));
    }
    // The run's spend and the cross-run USD it took, both (a cross-run call count has no way back: it expires).
    if (call.costUsd > 0 || call.crossRunUsd > 0) this.settleCost(call, 0);
    const stop = this.#stop;
    if (stop) return this.#refuse(call, stop.reason, 'run.stopped', `the run stopped first: ${stop.detail}`, true);
    if (call.reserved) this.#unreserve(call);
    this.#toolEnd(call, 'aborted', 'the run ended', undefined);
    return new UsageError(`run.tool("${call.name}"): the run ended while the call waited to be admitted`);
  }

  /** Refuses the call, or in shadow mode notes the first refusal and lets the call go on. */
  #refuseOrShadow(call: CallState, reason: StopReason, rule: string, detail: string): void {
    if (this.#shadow) {
      call.shadow ??= { reason, rule, detail };
      if (this.#stopsRun(reason)) this.#recordShadowStop(reason, detail, rule);
      return;
    }
    throw this.#refuse(call, reason, rule, detail, false);
  }

  #stopsRun(reason: StopReason): boolean {
    const colon = reason.indexOf(':');
    const kind = colon === -1 ? reason : reason.slice(0, colon);
    return RUN_LEVEL.has(kind) || this.#g.policy.tools.on_refusal === 'stop';
  }

  /** Emits the refusal and returns the error to throw: a StopError, or a ToolRefusedError under `continue`. */
  #refuse(
    call: CallState,
    reason: StopReason,
    rule: string,
    detail: string,
    alwaysStops: boolean,
    decidedBy?: string,
  ): StopError | ToolRefusedError {
    if (call.reserved) this.#unreserve(call);
    const decision: Decision = reason.startsWith('approval_') ? 'rejected' : 'deny';
    this.#decisions[decision]++;
    this.#emitDecision(call, decision, reason, rule, detail, decidedBy, undefined);
    this.#toolEnd(call, 'refused', reason, undefined);
    if (alwaysStops || this.#stopsRun(reason)) return this.#stopWith(reason, detail, rule);
    return new ToolRefusedError(reason, call.name, detail);
  }

  #toolEnd(call: CallState, outcome: ToolOutcome, error: string | undefined, result: unknown): void {
    // A half-open trial refused before it ran (a budget, a rule, a replay) said nothing of the tool: give it back.
    if (call.trial && !call.executed) this.#g.stores.circuits.releaseTrial?.(call.name, call.trial);
    const hub = this.#g.hub;
    if (!hub.active) return;
    const limits = this.limits;
    const end = epochNow();
    hub.emit(
      new ToolEndRecord(
        this,
        call,
        outcome,
        error,
        result,
        this.#callsByRule[call.rule.index] ?? 0,
        // Budgets are captured now but built only if an observer reads them.
        [
          this.#steps,
          this.#toolCalls,
          this.#inputTokens,
          this.#outputTokens,
          this.#costUsd,
          end - TIME_ORIGIN - this.#startedAt,
        ],
        limits,
        round3(end - call.started),
      ),
    );
  }
}

/**
 * The `tool.end` event. A class rather than an object literal: its `budgets` getter lives on the prototype, so
 * making one per call stays cheap (an object literal with an accessor is not).
 */
class ToolEndRecord implements ToolEndEvent {
  readonly type = 'tool.end';
  readonly time: number;
  readonly runId: string;
  readonly agent: string;
  readonly callId: string;
  readonly tool: string;
  readonly costUsd: number;
  readonly recordContent: boolean;
  readonly toolCalls: number;
  readonly toolCallsLimit: number | undefined;
  readonly #counters: readonly [number, number, number, number, number, number];
  readonly #limits: Budgets;
  #budgets: BudgetSnapshot[] | undefined;

  constructor(
    run: RunImpl,
    call: ToolCall,
    readonly outcome: ToolOutcome,
    readonly error: string | undefined,
    readonly result: unknown,
    readonly toolCallsOfTool: number,
    counters: readonly [number, number, number, number, number, number],
    limits: Budgets,
    readonly durationMs: number,
  ) {
    this.time = call.started + durationMs;
    this.runId = run.id;
    this.agent = run.agent;
    this.callId = call.callId;
    this.tool = call.name;
    this.costUsd = call.costUsd;
    this.recordContent = call.rule.recordContent;
    this.toolCalls = counters[1];
    this.toolCallsLimit = limits.max_tool_calls;
    this.#counters = counters;
    this.#limits = limits;
  }

  get budgets(): BudgetSnapshot[] {
    const [steps, toolCalls, input, output, usd, elapsedMs] = this.#counters;
    this.#budgets ??= budgetSnapshots(this.#limits, steps, toolCalls, input, output, usd, elapsedMs);
    return this.#budgets;
  }

  /** Events are plain data to observers (the audit log serialises them): include the budgets. */
  toJSON(): Omit<ToolEndEvent, never> {
    return {
      type: this.type,
      time: this.time,
      runId: this.runId,
      agent: this.agent,
      callId: this.callId,
      tool: this.tool,
      outcome: this.outcome,
      durationMs: this.durationMs,
      costUsd: this.costUsd,
      error: this.error,
      result: this.result,
      recordContent: this.recordContent,
      budgets: this.budgets,
      toolCalls: this.toolCalls,
      toolCallsLimit: this.toolCallsLimit,
      toolCallsOfTool: this.toolCallsOfTool,
    };
  }
}

/**
 * One tool call in flight. It is also the context the tool's execute receives (as a ToolContext): one object per
 * call instead of two, and the call id and signal are only made if something asks for them.
 */
class ToolCall implements ToolContext {
  readonly name: string;
  readonly rule: ToolRule;
  readonly started: number;
  shadow: { reason: StopReason; rule: string; detail: string } | undefined = undefined;
  idempotencyKey: string | undefined = undefined;
  /** USD this call counts in the run's spend: its price once admitted, then what it really cost. */
  costUsd = 0;
  /** USD this call holds in the cross-run counters. */
  crossRunUsd = 0;
  /** A shared store could not be reached and `fail_mode.reads: open` let the call go on unchecked. */
  unchecked = false;
  /** Whether execute was called. */
  executed = false;
  /** Counted in the run's budgets but not admitted yet: a refusal before admission gives the count back. */
  reserved = false;
  /** When this call is the circuit's half-open trial, which one (see CircuitStore.openUntil); 0 otherwise. */
  trial = 0;
  /** In the run's list of running calls (see InFlight). */
  inFlight = false;
  prevInFlight: ToolCall | undefined = undefined;
  nextInFlight: ToolCall | undefined = undefined;
  /** Settle the caller's promise once the tool has run (set when it starts). */
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((error: unknown) => void) | undefined = undefined;
  readonly #run: RunImpl;
  readonly #seq: number;
  #callId: string | undefined;

  constructor(run: RunImpl, name: string, rule: ToolRule, callId: string | undefined, seq: number, started: number) {
    this.#run = run;
    this.name = name;
    this.rule = rule;
    this.#callId = callId;
    this.#seq = seq;
    this.started = started;
  }

  get callId(): string {
    this.#callId ??= String(this.#seq);
    return this.#callId;
  }

  get signal(): AbortSignal {
    return this.#run.signal;
  }

  get runId(): string {
    return this.#run.id;
  }

  reportCost(usd: number): void {
    if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0) {
      throw new UsageError(`ctx.reportCost(): the cost must be a finite number >= 0, got ${String(usd)}`);
    }
    this.#run.settleCost(this, usd);
  }
}

/** The options `idempotency.begin` receives, made once. */
const ON_CRASH: Readonly<Record<OnCrash, IdempotencyOptions>> = {
  retry: Object.freeze({ onCrash: 'retry' }),
  block: Object.freeze({ onCrash: 'block' }),
};

/** What `#admitShared` already knows when it hands a call on: its idempotency key, and how its record began. */
interface Begun {
  readonly key: string;
  readonly fingerprint: string;
  readonly first: IdempotencyBegin | undefined;
}

/**
 * The record a call is deduplicated on: the agent, the tool and its arguments, or the caller's own key; within one
 * tenant, so that two tenants making the same call each get their own write (and never each other's result).
 */
function idempotencyKeyOf(
  agent: string,
  tenant: string | undefined,
  tool: string,
  args: unknown,
  options: ToolCallOptions | undefined,
): { key: string; fingerprint: string } {
  const fingerprint = sha256(canonicalJson(args));
  const key =
    options?.idempotencyKey !== undefined ? `${tool}:${options.idempotencyKey}` : `${agent}:${tool}:${fingerprint}`;
  return { key: tenant === undefined ? key : `${tenant}/${key}`, fingerprint };
}

function storeDetail(what: string, error: unknown): string {
  return `shared store unavailable, ${what}: ${errorMessage(error)}`;
}

/**
 * Runs the tool inside the observers' context. A top-level function on purpose: an arrow made inside the run's
 * method would share that method's closure context with the promise callbacks, keeping the arguments alive longer.
 */
function wrapExecute<A, R>(
  hub: ObserverHub,
  event: ToolDecisionEvent,
  execute: ToolExecute<A, R>,
  args: A,
  call: ToolContext,
): R | PromiseLike<R> {
  return hub.wrap(event, () => execute(args, call));
}

/** Epoch milliseconds with sub-millisecond precision (monotonic within the process), for events and spans. */
function epochNow(): number {
  return TIME_ORIGIN + performance.now();
}

/** A rejection nobody waits for any more. */
function ignore(): void {}

/**
 * Sums of prices are not exact in binary (0.1 + 0.1 + 0.1 > 0.3): a cap reached exactly must not read as crossed.
 * A billionth of a dollar is far below any price and far above the error of summing them.
 */
const USD_EPSILON = 1e-9;

/** The longest delay setTimeout keeps (2^31-1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Constant for the process; the getter is a call into the runtime, and this is on every call's path. */
const TIME_ORIGIN = performance.timeOrigin;

/**
 * The tool calls running now, as a list threaded through the calls themselves: adding and removing one allocates
 * nothing (a Set going between zero and one entries reallocates its table on every call).
 */
class InFlight {
  #head: ToolCall | undefined = undefined;
  #tail: ToolCall | undefined = undefined;

  /** Appends: a stop aborts the calls oldest first, and their `tool.end` events come in that order. */
  add(call: ToolCall): void {
    call.inFlight = true;
    call.nextInFlight = undefined;
    call.prevInFlight = this.#tail;
    if (this.#tail) this.#tail.nextInFlight = call;
    else this.#head = call;
    this.#tail = call;
  }

  /** Takes the call out; false if it was not in (already settled, or aborted by a stop). */
  delete(call: ToolCall): boolean {
    if (!call.inFlight) return false;
    call.inFlight = false;
    const { prevInFlight: prev, nextInFlight: next } = call;
    if (prev) prev.nextInFlight = next;
    else this.#head = next;
    if (next) next.prevInFlight = prev;
    else this.#tail = prev;
    call.prevInFlight = undefined;
    call.nextInFlight = undefined;
    return true;
  }

  /** Empties the list and returns its oldest call; follow `nextInFlight` for the rest. */
  takeAll(): ToolCall | undefined {
    const head = this.#head;
    this.#head = undefined;
    this.#tail = undefined;
    for (let call = head; call; call = call.nextInFlight) call.inFlight = false;
    return head;
  }
}

function budgetSnapshots(
  limits: Budgets,
  steps: number,
  toolCalls: number,
  input: number,
  output: number,
  usd: number,
  elapsedMs: number,
): BudgetSnapshot[] {
  const out: BudgetSnapshot[] = [];
  const add = (kind: BudgetSnapshot['kind'], limit: number | undefined, used: number) => {
    if (limit !== undefined) out.push({ kind, limit, used, remaining: Math.max(0, limit - used) });
  };
  add('steps', limits.max_steps, steps);
  add('tool_calls', limits.max_tool_calls, toolCalls);
  add('seconds', limits.max_seconds, round3(elapsedMs / 1000));
  add('tokens', limits.max_tokens, input + output);
  add('input_tokens', limits.max_input_tokens, input);
  add('output_tokens', limits.max_output_tokens, output);
  add('usd', limits.max_usd, round6(usd));
  return out;
}

function killDetail(record: KillRecord): string {
  const target =
    record.target.scope === 'global'
      ? 'globally'
      : record.target.scope === 'agent'
        ? `for agent ${record.target.agent}`
        : `for run ${record.target.runId}`;
  return `killed ${target} by ${record.by}: ${record.reason}`;
}

function nonNegative(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`run.usage(): ${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Runs a store call whose failure must not reach the run (settling leases, recording spend). */
async function settle(fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch {
    // The store will expire what it could not settle (TTL); the run's own result is unaffected.
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function fmtUsd(value: number): string {
  return value < 0.01 ? value.toFixed(6).replace(/0+$/, '').replace(/\.$/, '') : value.toFixed(2);
}
