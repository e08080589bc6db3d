import {
  type ActiveRun,
  type Governor,
  StopError,
  type ToolContext,
  type ToolVerdict,
  UsageError,
} from '@bounded/core';
import { finishPart, type Stop, stoppedResponse, stoppedStream, usageOf } from './model-calls.js';
import { approvalResponseFor, forgetSdkApproval, noteSdkApproval } from './sdk-approvals.js';
import type {
  BoundedMiddleware,
  BoundedStopCondition,
  BoundedToolApproval,
  CallOptionsLike,
  GenerateResultLike,
  GovernedModel,
  GovernedSettings,
  LanguageModelLike,
  SettingsLike,
  StreamResultLike,
  ToolApprovalAnswer,
  ToolExecutionOptionsLike,
  ToolLike,
} from './sdk-types.js';
import { SpendWatch } from './spend-watch.js';
import type { AIRun } from './types.js';

/** What every run of one `boundedAI()` shares. */
export interface Shared {
  readonly governor: Governor;
  readonly toolNames: Readonly<Record<string, string>>;
  readonly approvals: 'bounded' | 'sdk';
  /** What the policy says about each tool name without arguments: it cannot change, so it is asked once. */
  readonly verdicts: Map<string, ToolVerdict>;
}

type Execute = (input: unknown, options: ToolExecutionOptionsLike | undefined) => unknown;
type ApprovalOptions = Parameters<BoundedToolApproval>[0];
type ModelInfo = { readonly modelId: string; readonly provider?: string; readonly specificationVersion?: string };

/**
 * Marks the tools this package made, so wrapping them again (a second `tools()` call) does not govern a call twice.
 * A property rather than a WeakSet: ephemeron tables make every young-generation collection slower.
 */
const GOVERNED = Symbol.for('bounded.ai-sdk.governed');

/** On a governed tool: the run that governs it, and the tool as the user wrote it. */
interface Governed {
  readonly run: GovernedRun;
  readonly tool: ToolLike;
}

/** How long a hard stop waits for the SDK to end its loop cleanly (it does, in microseconds, unless it sleeps). */
const CLEAN_END_MS = 100;

/** The answer of a model call cut short by a stop. */
const STOPPED = Symbol('stopped');

export class GovernedRun implements AIRun {
  readonly run: ActiveRun;
  readonly stopWhen: BoundedStopCondition;
  readonly toolApproval: BoundedToolApproval;
  readonly #shared: Shared;
  /** SDK tool key -> the tool as the user wrote it, for the tools this run governs. */
  readonly #originals = new Map<string, ToolLike>();
  /** `stopWhen` already counted the step the next model call would take (a stop that did not take). */
  #prepaidStep = false;
  /** Model calls that failed, to tell the SDK retrying one from a new step; made at the first failure. */
  #failedCalls: FailedCalls | undefined;
  /** Why the last model call failed, until one succeeds: the run ends with it if the SDK gives up. */
  #modelFailure: { readonly error: unknown } | undefined;
  /** The abort signal the caller gave the SDK (settings, or the first model call's). */
  #callerSignal: AbortSignal | undefined;
  #waiting: Set<() => void> | undefined;
  #spend: SpendWatch | undefined;
  #middleware: BoundedMiddleware | undefined;

  constructor(run: ActiveRun, shared: Shared) {
    this.run = run;
    this.#shared = shared;
    // Bound once: users hand these to the SDK detached from this object. Bound methods, not arrows: with arrows made
    // here, the bytes a loop promotes to the old generation more than doubled (measured against a plain loop).
    this.stopWhen = this.#stopWhen.bind(this);
    this.toolApproval = this.#approvalOnly.bind(this);
  }

  /** Made on first use: most runs pass `model` through `settings()` and never read it. */
  get middleware(): BoundedMiddleware {
    this.#middleware ??= {
      specificationVersion: 'v3',
      transformParams: async <P extends CallOptionsLike>(options: { readonly params: P }) => {
        this.#callerSignal ??= options.params.abortSignal;
        return this.#withRunSignal(options.params);
      },
      wrapGenerate: <R extends GenerateResultLike>(options: {
        readonly doGenerate: () => PromiseLike<R>;
        readonly params: CallOptionsLike;
        readonly model: ModelInfo;
      }) => this.#generate(options.doGenerate, options.model, options.params.prompt),
      wrapStream: <R extends StreamResultLike>(options: {
        readonly doStream: () => PromiseLike<R>;
        readonly params: CallOptionsLike;
        readonly model: ModelInfo;
      }) => this.#stream(options.doStream, options.model, options.params.prompt),
    };
    return this.#middleware;
  }

  get stopped() {
    return this.run.stopped;
  }

  within<T>(fn: () => T): T {
    return this.run.within(fn);
  }

  end<T>(outcome?: { readonly output: T } | { readonly error: unknown }) {
    // The failed calls' prompts (images and files included) are not kept past the run.
    this.#failedCalls = undefined;
    return this.run.end<T>(outcome);
  }

  /**
   * What the run ends with when the SDK threw `error`, or (`error` undefined) finished without throwing: the
   * caller's own abort is `killed`; a provider failure the SDK gave up on is the run's error even when the SDK
   * reports it as a finished stream or as "no output generated". @internal
   */
  failure(error?: unknown): { readonly error: unknown } | undefined {
    if (error !== undefined && this.#callerSignal?.aborted) {
      return { error: new StopError('killed', "aborted by the caller (the SDK call's abortSignal)") };
    }
    return this.#modelFailure ?? (error === undefined ? undefined : { error });
  }

  // ---- tools ----

  tools<T extends object>(tools: T): T {
    if (!tools || typeof tools !== 'object')
      throw new UsageError('run.tools(): pass the object of tools you give the SDK');
    const out: Record<string, unknown> = {};
    for (const [key, tool] of Object.entries(tools as Record<string, ToolLike>)) {
      const mark = (tool as { [GOVERNED]?: Governed } | undefined)?.[GOVERNED];
      if (mark?.run === this) {
        out[key] = tool;
        continue;
      }
      // Governed by another run (a parent's tools handed to a child run): this run governs the tool as written.
      const own = mark ? mark.tool : tool;
      if (typeof own?.execute === 'function') out[key] = this.#govern(key, own);
      else {
        // A tool the application runs itself: no execute to govern, but the policy's deny rules and approvals still
        // apply through toolApproval (ai@7).
        if (own) this.#originals.set(key, own);
        out[key] = own;
      }
    }
    return out as T;
  }

  #govern(key: string, tool: ToolLike): ToolLike {
    const name = this.#shared.toolNames[key] ?? key;
    const original = tool.execute as unknown as Execute;
    this.#originals.set(key, tool);
    const execute = isAsyncGeneratorFunction(original)
      ? (input: unknown, options?: ToolExecutionOptionsLike) => this.#callStreamingTool(name, original, input, options)
      : (input: unknown, options?: ToolExecutionOptionsLike) => this.#callTool(name, original, input, options);
    const mark: Governed = { run: this, tool };
    const governed: Record<string | symbol, unknown> = { ...tool, execute, [GOVERNED]: mark };
    if (this.#shared.approvals === 'sdk') {
      // ai@6 asks the tool (ai@7 asks `toolApproval` first, which answers the same).
      governed.needsApproval = async (input: unknown, options: { toolCallId: string; messages?: unknown[] }) =>
        (await this.#needsSdkApproval(name, input)) ||
        (await askNeedsApproval(tool, input, { ...options, toolCallId: options?.toolCallId }));
    }
    return governed as ToolLike;
  }

  #callTool(name: string, original: Execute, input: unknown, options: ToolExecutionOptionsLike | undefined) {
    const callId = options?.toolCallId;
    const noted = this.#noteApproval(callId, options);
    const pending = this.run.tool(
      name,
      input,
      (args: unknown, context: ToolContext) => lastValue(original(args, toolOptions(options, context))),
      callId === undefined ? undefined : { callId },
    );
    if (noted) {
      const forget = () => forgetSdkApproval(this.run.id, callId!);
      pending.then(forget, forget);
    }
    return pending;
  }

  /** A tool whose `execute` is an async generator: its preliminary results still reach the SDK as they come. */
  async *#callStreamingTool(
    name: string,
    original: Execute,
    input: unknown,
    options: ToolExecutionOptionsLike | undefined,
  ): AsyncGenerator<unknown> {
    const parts: unknown[] = [];
    let wake: (() => void) | undefined;
    let outcome: { value: unknown } | { error: unknown } | undefined;
    const callId = options?.toolCallId;
    const noted = this.#noteApproval(callId, options);
    this.run
      .tool(
        name,
        input,
        async (args: unknown, context: ToolContext) => {
          let last: unknown;
          for await (const part of original(args, toolOptions(options, context)) as AsyncIterable<unknown>) {
            last = part;
            parts.push(part);
            wake?.();
          }
          return last;
        },
        callId === undefined ? undefined : { callId },
      )
      .then(
        value => {
          outcome = { value };
        },
        (error: unknown) => {
          outcome = { error };
        },
      )
      .finally(() => {
        if (noted) forgetSdkApproval(this.run.id, callId!);
        wake?.();
      });
    let yielded = 0;
    for (;;) {
      while (yielded < parts.length) yield parts[yielded++];
      if (outcome) break;
      await new Promise<void>(resolve => {
        wake = resolve;
      });
      wake = undefined;
    }
    if ('error' in outcome) throw outcome.error;
    // A replayed (deduplicated) call never ran: its recorded result is the whole output.
    if (yielded === 0) yield outcome.value;
  }

  /** `approvals: 'sdk'`: tells the approver that the SDK's flow approved this call, if the messages say so. */
  #noteApproval(callId: string | undefined, options: ToolExecutionOptionsLike | undefined): boolean {
    if (this.#shared.approvals !== 'sdk' || callId === undefined) return false;
    const answer = approvalResponseFor(options?.messages, callId);
    if (!answer?.approved) return false;
    noteSdkApproval(this.run.id, callId, answer.reason);
    return true;
  }

  // ---- toolApproval (ai@7) ----

  #approvalOnly(options: ApprovalOptions): ToolApprovalAnswer | Promise<ToolApprovalAnswer> {
    return this.#approval(options, undefined);
  }

  /** Bounded's answer first; then the user's own `toolApproval`, or the tool's `needsApproval`, as the SDK would. */
  #approval(options: ApprovalOptions, user: unknown): ToolApprovalAnswer | Promise<ToolApprovalAnswer> {
    const ours = this.#decide(options);
    if (ours === undefined) return otherApproval(options, user, this.#originals);
    if (ours instanceof Promise) {
      return ours.then(answer => (answer === undefined ? otherApproval(options, user, this.#originals) : answer));
    }
    return ours;
  }

  #decide(options: ApprovalOptions): ToolApprovalAnswer | Promise<ToolApprovalAnswer> {
    const toolCall = options.toolCall;
    if (!this.#originals.has(toolCall.toolName)) return undefined;
    const name = this.#shared.toolNames[toolCall.toolName] ?? toolCall.toolName;
    // The kill switch and the deadline stop the run as they happen; the gateway checks again when the call runs.
    const stopped = this.run.stopped;
    if (stopped) return { type: 'denied', reason: `Run stopped: ${stopped.reason} (${stopped.detail})` };
    const verdict = this.#shared.verdicts.get(name);
    if (!verdict) {
      return this.#shared.governor.explain(name).then(v => {
        this.#shared.verdicts.set(name, v);
        return this.#decide(options);
      });
    }
    if (this.#shared.governor.enforcement !== 'enforce') return undefined;
    if (verdict.decision === 'deny') return this.#refuseNow(name, toolCall.input, toolCall.toolCallId);
    if (this.#shared.approvals === 'sdk' && verdict.decision === 'approval_required') {
      return this.#needsSdkApproval(name, toolCall.input).then(needed =>
        needed ? { type: 'user-approval', reason: verdict.detail } : undefined,
      );
    }
    return undefined;
  }

  /** Runs the call into the gateway's refusal, so it is recorded (and stops the run) exactly as a refused execute. */
  async #refuseNow(name: string, input: unknown, callId: string): Promise<ToolApprovalAnswer> {
    try {
      await this.run.tool(name, input, refusedBody, { callId });
    } catch (error) {
      if (error instanceof Error) return { type: 'denied', reason: error.message };
      throw error;
    }
    return undefined;
  }

  async #needsSdkApproval(name: string, input: unknown): Promise<boolean> {
    if (this.#shared.governor.enforcement !== 'enforce') return false;
    const verdict = await this.#shared.governor.explain(name, input);
    return verdict.decision === 'approval_required';
  }

  // ---- stopWhen ----

  #stopWhen(): boolean | Promise<boolean> {
    const run = this.run;
    // The kill switch and the deadline stop the run as they happen (a subscription, a timer).
    if (run.stopped) return true;
    // Shadow mode never ends the loop: the next model call takes its step and records what would have stopped it
    // (taking it here would count a step too many when the user's own stopWhen ends the loop first).
    if (this.#shared.governor.enforcement !== 'enforce') return false;
    const spend = this.#spendWatch();
    if (spend.idle || !spend.spent(run)) return false;
    // A budget the next model call would exceed: taking the step records the stop (the run's own words for it).
    return run.step().then(
      () => {
        // A stop that did not take (the budget was freed meanwhile): the step is counted now, not again.
        this.#prepaidStep = true;
        spend.step();
        return false;
      },
      (error: unknown) => {
        if (StopError.is(error)) return true;
        throw error;
      },
    );
  }

  // ---- model calls ----

  model<M extends LanguageModelLike>(model: M): GovernedModel<M> {
    if (typeof model !== 'object' || model === null || typeof model.doGenerate !== 'function') {
      throw new UsageError(
        'run.model(): pass a model object (a provider model, or gateway("openai/gpt-4o-mini")); a model id string ' +
          'cannot carry the middleware',
      );
    }
    return governedModel(model, this) as unknown as GovernedModel<M>;
  }

  /** A model call through `run.model()`: the step before it, the run's signal into it, its usage after. @internal */
  callModel(model: LanguageModelLike, params: CallOptionsLike, stream: boolean): Promise<unknown> {
    const withSignal = this.#withRunSignal(params);
    return stream
      ? this.#stream(
          modelCall(model, 'doStream', withSignal) as () => PromiseLike<StreamResultLike>,
          model,
          params.prompt,
        )
      : this.#generate(
          modelCall(model, 'doGenerate', withSignal) as () => PromiseLike<GenerateResultLike>,
          model,
          params.prompt,
        );
  }

  /** The provider call aborts when the run stops (kill switch, deadline), as tools do. */
  #withRunSignal<P extends CallOptionsLike>(params: P): P {
    const runSignal = this.run.signal;
    const abortSignal = params.abortSignal ? AbortSignal.any([params.abortSignal, runSignal]) : runSignal;
    return { ...params, abortSignal };
  }

  /** A step before each model call: the budgets, the deadline and the kill switch say whether it may happen. */
  async #beforeModelCall(prompt: unknown): Promise<Stop | undefined> {
    const run = this.run;
    const stopped = run.stopped;
    if (stopped) return stopped;
    if (this.#prepaidStep) {
      this.#prepaidStep = false;
      return undefined;
    }
    if (this.#failedCalls?.isRetry(prompt)) {
      // The SDK retrying a failed call: the same step, but the kill switch and the deadline still hold.
      try {
        run.check();
      } catch (error) {
        if (StopError.is(error)) return { reason: error.reason, detail: error.detail };
        throw error;
      }
      return undefined;
    }
    const spend = this.#spendWatch();
    try {
      await run.step();
    } catch (error) {
      if (StopError.is(error)) return { reason: error.reason, detail: error.detail };
      throw error;
    }
    spend.step();
    return undefined;
  }

  /** Made at the first step, from the run's budgets as they are then. */
  #spendWatch(): SpendWatch {
    this.#spend ??= new SpendWatch(this.run.budgets());
    return this.#spend;
  }

  async #generate<R extends GenerateResultLike>(
    doGenerate: () => PromiseLike<R>,
    model: ModelInfo,
    prompt: unknown,
  ): Promise<R> {
    const spec = model.specificationVersion;
    const before = await this.#beforeModelCall(prompt);
    if (before) return stoppedResponse(spec, before) as R;
    let result: R | typeof STOPPED;
    try {
      // A stop aborts the call through its abort signal (see #withRunSignal), and ends the wait even if the
      // provider ignores that signal.
      result = await this.#untilStopped(doGenerate());
    } catch (error) {
      const stopped = this.run.stopped;
      if (stopped) return stoppedResponse(spec, stopped) as R;
      throw this.#failed(error, prompt, false);
    }
    if (result === STOPPED) return stoppedResponse(spec, this.run.stopped!) as R;
    this.#modelFailure = undefined;
    // Recording may stop the run (a token budget): the answer is kept, it was the last one paid for.
    this.#record(result.usage, model);
    return result;
  }

  async #stream<R extends StreamResultLike>(
    doStream: () => PromiseLike<R>,
    model: ModelInfo,
    prompt: unknown,
  ): Promise<R> {
    const spec = model.specificationVersion;
    const before = await this.#beforeModelCall(prompt);
    if (before) return stoppedStream(spec, before) as unknown as R;
    let result: R | typeof STOPPED;
    try {
      result = await this.#untilStopped(doStream());
    } catch (error) {
      const stopped = this.run.stopped;
      if (stopped) return stoppedStream(spec, stopped) as unknown as R;
      // Only ai@7 (v4 models) rebuilds the messages for its retry; ai@6 sends the same array again.
      throw this.#failed(error, prompt, spec === 'v4' && isRetryable(error));
    }
    if (result === STOPPED) return stoppedStream(spec, this.run.stopped!) as unknown as R;
    this.#modelFailure = undefined;
    return { ...result, stream: this.#watch(result.stream, model, prompt) };
  }

  /**
   * Settles like `pending`; or, when the kill switch, the deadline or the caller's abort stops the run, with
   * `undefined` if the SDK has not ended cleanly within CLEAN_END_MS (it sleeps before retrying a failed call, up to
   * a minute): `ai.run()` returns at the stop, with the SDK's result when it has one. @internal
   */
  async untilCutShort<T>(pending: PromiseLike<T>): Promise<{ readonly value: T } | undefined> {
    const settled = await untilStopped(pending, this.#stopWaiters());
    if (settled !== STOPPED) return { value: settled };
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      Promise.resolve(pending).then(value => ({ value })),
      new Promise<undefined>(resolve => {
        timer = setTimeout(() => resolve(undefined), CLEAN_END_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    return late;
  }

  /** Notes a failed model call (the SDK may retry it) and returns the error to throw. */
  #failed(error: unknown, prompt: unknown, byMessages: boolean): unknown {
    this.#failedCalls ??= new FailedCalls();
    this.#failedCalls.failed(prompt, byMessages);
    this.#modelFailure = { error };
    return error;
  }

  /** Settles like `promise`, or with STOPPED as soon as the run stops. */
  #untilStopped<T>(promise: PromiseLike<T>): Promise<T | typeof STOPPED> {
    if (this.run.stopped) return Promise.resolve(STOPPED);
    return untilStopped(promise, this.#stopWaiters());
  }

  /**
   * Who to tell when the run stops: one listener on the run's signal for the whole run, instead of adding and
   * removing one on every model call (an EventTarget is not cheap).
   */
  #stopWaiters(): Set<() => void> {
    if (!this.#waiting) {
      const waiting = new Set<() => void>();
      this.#waiting = waiting;
      this.run.signal.addEventListener(
        'abort',
        () => {
          for (const onStop of waiting) onStop();
          waiting.clear();
        },
        { once: true },
      );
    }
    return this.#waiting;
  }

  /**
   * Passes the model's stream through, recording usage from its `finish` part. When the run stops mid-stream the
   * stream ends there with a `finish` of its own, so the SDK closes its step cleanly instead of failing.
   */
  #watch(source: ReadableStream<unknown>, model: ModelInfo, prompt: unknown): ReadableStream<unknown> {
    const reader = source.getReader();
    const waiting = this.#stopWaiters();
    const spec = model.specificationVersion;
    let done = false;
    let finished = false;
    let onStop: (() => void) | undefined;
    const close = () => {
      done = true;
      if (onStop) waiting.delete(onStop);
    };
    return new ReadableStream<unknown>({
      start: controller => {
        onStop = () => {
          if (done || finished) return;
          close();
          const stopped = this.run.stopped!;
          controller.enqueue(finishPart(spec, stopped));
          controller.close();
          reader.cancel(new StopError(stopped.reason, stopped.detail)).catch(() => undefined);
        };
        waiting.add(onStop);
      },
      pull: async controller => {
        let next: { done: boolean; value?: unknown };
        try {
          next = await reader.read();
        } catch (error) {
          if (done) return;
          close();
          const stopped = this.run.stopped;
          if (!stopped) {
            this.#modelFailure = { error };
            return controller.error(error);
          }
          if (!finished) controller.enqueue(finishPart(spec, stopped));
          return controller.close();
        }
        if (done) return;
        if (next.done) {
          close();
          return controller.close();
        }
        const part = next.value as { type?: string; usage?: unknown; error?: unknown };
        // A provider that reports its failure inside the stream: the SDK ends the step with finishReason 'error'.
        if (part?.type === 'error') {
          this.#modelFailure = { error: part.error };
          // ai@7 may retry the step (`streamRetries`, or `onError` asking for it) with the same messages, whatever the
          // error is.
          this.#failedCalls ??= new FailedCalls();
          this.#failedCalls.failed(prompt, spec === 'v4');
        }
        if (part?.type === 'finish') {
          finished = true;
          controller.enqueue(part);
          // After the enqueue: recording may stop the run (a token budget), and the stream is complete anyway.
          this.#record(part.usage, model);
          return;
        }
        controller.enqueue(part);
      },
      cancel: reason => {
        close();
        return reader.cancel(reason);
      },
    });
  }

  /** Records a model call's usage; a budget it spends stops the run, which `stopWhen` and the tools then see. */
  #record(usage: unknown, model: ModelInfo): void {
    const tokens = usageOf(usage, model.modelId, model.provider);
    this.#spendWatch().usage(tokens.inputTokens ?? 0, tokens.outputTokens ?? 0);
    try {
      this.run.usage(tokens);
    } catch (error) {
      if (!StopError.is(error)) throw error;
    }
  }

  // ---- everything at once ----

  settings<S extends SettingsLike>(settings: S): GovernedSettings<S> {
    if (!settings || typeof settings !== 'object') throw new UsageError('run.settings(): pass the SDK settings object');
    const out: Record<string, unknown> = { ...(settings as object) };
    const callerSignal = (settings as { abortSignal?: unknown }).abortSignal;
    if (callerSignal instanceof AbortSignal) this.#callerSignal = callerSignal;
    if (settings.model !== undefined) out.model = this.model(settings.model as LanguageModelLike);
    if (settings.tools !== undefined) out.tools = this.tools(settings.tools);
    const stopWhen = settings.stopWhen;
    out.stopWhen =
      stopWhen === undefined ? this.stopWhen : [this.stopWhen, ...(Array.isArray(stopWhen) ? stopWhen : [stopWhen])];
    const user = settings.toolApproval;
    out.toolApproval =
      user === undefined ? this.toolApproval : (options: ApprovalOptions) => this.#approval(options, user);
    return out as GovernedSettings<S>;
  }
}

/**
 * The model as `run.model()` returns it: a plain object with its own methods, so it can be spread, proxied or have
 * its methods taken off it, like a provider's model. Made here, not in a GovernedRun method, and with
 * `supportedUrls` read once rather than through a getter: a literal with a getter gets a hidden class of its own each
 * time, and with one per run the bytes a loop promotes to the old generation more than doubled (measured against a
 * plain loop).
 */
function governedModel(model: LanguageModelLike, run: GovernedRun): LanguageModelLike {
  return {
    specificationVersion: model.specificationVersion,
    provider: model.provider,
    modelId: model.modelId,
    supportedUrls: model.supportedUrls,
    doGenerate: (params: CallOptionsLike) => run.callModel(model, params, false),
    doStream: (params: CallOptionsLike) => run.callModel(model, params, true),
  } as LanguageModelLike;
}

/** How long a failed stream call may wait for the SDK's retry (2 s, 4 s, 8 s… : six retries fit). */
const RETRY_WINDOW_MS = 2 * 60_000;
/**
 * Retries told by their messages alone, in a row along a chain of attempts: the SDK's defaults (`maxRetries` 2 at
 * the start of a stream, times `streamRetries` 2 midway) make at most eight. A longer chain pays steps beyond them.
 */
const MAX_FREE_RETRIES = 8;

/**
 * Tells the SDK retrying a failed model call from a new step. `generateText` and ai@6 send the same prompt array
 * again; ai@7's `streamText` builds a new array of the same messages, so a stream call that failed with an error the
 * SDK retries is also matched by its messages (comparing references first: the SDK passes the same images and
 * files again). A new step, a call made beside it or the next request of the run sends other messages or another
 * array. Matches by messages are free at most MAX_FREE_RETRIES times in a row, so an application retrying one failing
 * stream in a loop still spends steps.
 */
class FailedCalls {
  readonly #arrays = new WeakSet<object>();
  /** Failed stream calls the SDK may retry with new arrays, oldest first. */
  readonly #pending: { readonly prompt: object; readonly at: number; readonly retries: number }[] = [];
  /** For a prompt that was itself taken for a retry by its messages: how many such retries led to it. */
  readonly #retriesOf = new WeakMap<object, number>();

  failed(prompt: unknown, byMessages: boolean): void {
    if (typeof prompt !== 'object' || prompt === null) return;
    this.#arrays.add(prompt);
    if (!byMessages) return;
    if (this.#pending.length >= 8) this.#pending.shift();
    this.#pending.push({ prompt, at: Date.now(), retries: this.#retriesOf.get(prompt) ?? 0 });
  }

  /** True when this call is the retry of a failed one; that failure is then forgotten. */
  isRetry(prompt: unknown): boolean {
    if (typeof prompt !== 'object' || prompt === null) return false;
    const pending = this.#pending;
    if (this.#arrays.delete(prompt)) {
      const index = pending.findIndex(entry => entry.prompt === prompt);
      if (index !== -1) pending.splice(index, 1);
      return true;
    }
    const since = Date.now() - RETRY_WINDOW_MS;
    while (pending.length > 0 && pending[0]!.at < since) pending.shift();
    const index = pending.findIndex(entry => sameMessages(entry.prompt, prompt));
    if (index === -1) return false;
    const [entry] = pending.splice(index, 1);
    // Counted on along the chain of attempts, so past the limit each further one is a step.
    this.#retriesOf.set(prompt, entry!.retries + 1);
    return entry!.retries < MAX_FREE_RETRIES;
  }
}

/**
 * Deep equality of two prompts, references first. Anything but plain data (a byte array, a URL, a Date) is equal
 * only to itself, a getter that throws or a structure past NODE_BUDGET nodes is unequal: when in doubt the call is a
 * new step, which is the safe side.
 */
function sameMessages(a: object, b: object): boolean {
  const budget = { nodes: NODE_BUDGET };
  try {
    return sameValue(a, b, 0, budget);
  } catch {
    return false;
  }
}

const NODE_BUDGET = 100_000;

function sameValue(a: unknown, b: unknown, depth: number, budget: { nodes: number }): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || depth > 64) return false;
  if (--budget.nodes < 0) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i], depth + 1, budget)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const protoA = Object.getPrototypeOf(a);
  if ((protoA !== Object.prototype && protoA !== null) || Object.getPrototypeOf(b) !== protoA) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    const x = (a as Record<string, unknown>)[key];
    if (!sameValue(x, (b as Record<string, unknown>)[key], depth + 1, budget)) return false;
  }
  return true;
}

/** The SDK retries provider errors marked retryable (rate limits, overloads). */
function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { isRetryable?: unknown }).isRetryable === true;
}

function modelCall(model: LanguageModelLike, method: 'doGenerate' | 'doStream', params: CallOptionsLike) {
  return () => model[method](params as never);
}

/**
 * Settles like `promise`, or with STOPPED when `waiting` is told of a stop. At module level, so the listener it leaves
 * in the run's set holds this small context only, not a GovernedRun method's.
 */
function untilStopped<T>(promise: PromiseLike<T>, waiting: Set<() => void>): Promise<T | typeof STOPPED> {
  return new Promise((resolve, reject) => {
    const onStop = () => resolve(STOPPED);
    waiting.add(onStop);
    promise.then(
      value => {
        waiting.delete(onStop);
        resolve(value);
      },
      (error: unknown) => {
        waiting.delete(onStop);
        reject(error);
      },
    );
  });
}

/** The tool's options, with an abort signal that also fires when the run stops. */
function toolOptions(options: ToolExecutionOptionsLike | undefined, context: ToolContext): ToolExecutionOptionsLike {
  const sdkSignal = options?.abortSignal;
  return {
    ...(options as ToolExecutionOptionsLike),
    abortSignal: sdkSignal ? AbortSignal.any([sdkSignal, context.signal]) : context.signal,
  };
}

/**
 * The gateway's result of a tool: its return value, or the last value an async iterable yields (what the SDK itself
 * takes as the output of a tool that returns one without being a generator).
 */
function lastValue(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && Symbol.asyncIterator in value) {
    return (async () => {
      let last: unknown;
      for await (const part of value as AsyncIterable<unknown>) last = part;
      return last;
    })();
  }
  return value;
}

function isAsyncGeneratorFunction(fn: unknown): boolean {
  return Object.prototype.toString.call(fn) === '[object AsyncGeneratorFunction]';
}

function refusedBody(): never {
  throw new UsageError('a call the policy denies was admitted: the gateway and explain() disagree');
}

/** The tool's own `needsApproval`, asked as the SDK asks it. */
async function askNeedsApproval(
  tool: ToolLike | undefined,
  input: unknown,
  options: { toolCallId: string; messages?: readonly unknown[]; context?: unknown },
): Promise<boolean> {
  const needs = tool?.needsApproval;
  if (typeof needs === 'function') return Boolean(await needs(input, options));
  return Boolean(needs);
}

/**
 * What the SDK would decide without Bounded: the user's `toolApproval` (a function, or a per-tool map), else the
 * tool's own `needsApproval`. Synchronous when there is nothing to ask, as for most calls.
 */
function otherApproval(
  options: ApprovalOptions,
  user: unknown,
  originals: ReadonlyMap<string, ToolLike>,
): ToolApprovalAnswer | Promise<ToolApprovalAnswer> {
  const toolCall = options.toolCall;
  if (typeof user === 'function') return user(options);
  const entry = user && typeof user === 'object' ? (user as Record<string, unknown>)[toolCall.toolName] : undefined;
  const context = (options.toolsContext as Record<string, unknown> | undefined)?.[toolCall.toolName];
  if (entry != null) {
    if (typeof entry !== 'function') return entry as ToolApprovalAnswer;
    return entry(toolCall.input, {
      toolCallId: toolCall.toolCallId,
      messages: options.messages,
      toolContext: context,
      runtimeContext: (options as { runtimeContext?: unknown }).runtimeContext,
    });
  }
  const tool =
    originals.get(toolCall.toolName) ?? (options.tools as Record<string, ToolLike> | undefined)?.[toolCall.toolName];
  if (tool?.needsApproval == null) return undefined;
  return askNeedsApproval(tool, toolCall.input, {
    toolCallId: toolCall.toolCallId,
    messages: options.messages ?? [],
    context,
  }).then(needed => (needed ? 'user-approval' : undefined));
}
