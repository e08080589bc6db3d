import {
  type ActiveRun,
  type Budgets,
  type Governor,
  type RunResult,
  type RunUsage,
  StopError,
  type StopReason,
  stricterBudgets,
  ToolInputError,
  ToolRefusedError,
  UsageError,
} from '@bounded/core';
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { type Command, getConfig, isCommand } from '@langchain/langgraph';
import { type AgentMiddleware, createMiddleware } from 'langchain';
import { AgentStoppedError } from './errors.js';
import {
  defaultStopMessage,
  isToolInvocationError,
  refusedToolMessage,
  replayedToolMessage,
  stateOf,
  stopAIMessage,
  stoppedToolMessage,
  threadUsageOf,
  toolErrorMessage,
  usageOf,
  withRun,
} from './messages.js';
import { addRun, addUsage, NO_THREAD_USAGE, remainingBudgets, threadDetail } from './threads.js';
import type { BoundedMiddlewareOptions, BoundedRunState, InvocationInfo, ThreadBudgets, ThreadUsage } from './types.js';

/**
 * Governs a LangChain v1 agent: one Bounded run per `invoke`/`stream`. Every model call is a step (budgets for
 * steps, tokens, USD and seconds are checked before it) and its `usage_metadata` is recorded; every tool call goes
 * through the gateway. A stop ends the invocation with a final message; the run's result is on the final message
 * of the state (`boundedRun(state)`).
 *
 * ```ts
 * const agent = createAgent({ model, tools, middleware: [boundedMiddleware(governor, { agent: 'support' })] });
 * const state = await agent.invoke({ messages: [new HumanMessage('Where is my order?')] });
 * boundedRun(state); // { status: 'stopped', stopReason: 'max_tool_calls', ... }
 * ```
 *
 * Only wrapping hooks are used (no graph nodes), so it costs little per step. Put it first in `middleware` so it
 * sees every model and tool call other middleware makes.
 */
export function boundedMiddleware(governor: Governor, options: BoundedMiddlewareOptions = {}): AgentMiddleware {
  if (!governor || typeof governor.start !== 'function') {
    throw new UsageError('boundedMiddleware(governor): pass the governor made by createGovernor()');
  }
  const governance = new Governance(governor, options);
  // No state schema: LangChain parses a middleware's state on every model and tool call, which costs more per
  // step than all of Bounded's checks. The run's result rides on the final message instead.
  return createMiddleware({
    name: options.name ?? 'Bounded',
    wrapModelCall: (request, handler) =>
      governance.modelCall(request as unknown as ModelRequestLike, handler as unknown as ModelHandler) as never,
    wrapToolCall: (request, handler) =>
      governance.toolCall(request as unknown as ToolRequestLike, handler as unknown as ToolHandler) as never,
  }) as AgentMiddleware;
}

// ---- the parts of LangChain's request types the middleware reads ----

interface RuntimeLike {
  readonly context?: unknown;
  readonly configurable?: { readonly thread_id?: unknown };
  /** The graph task's signal: it aborts when the caller aborts the invocation or stops reading its stream. */
  readonly signal?: AbortSignal;
}

interface StateLike {
  readonly messages?: readonly BaseMessage[];
}

interface ModelRequestLike {
  readonly state: StateLike;
  readonly runtime: RuntimeLike;
}

interface StructuredOutput {
  readonly structuredResponse: unknown;
  readonly messages: readonly BaseMessage[];
}

type ModelResponse = AIMessage | Command | StructuredOutput;
type ModelHandler = (request: ModelRequestLike) => Promise<ModelResponse>;

interface ToolCallLike {
  readonly id?: string;
  readonly name: string;
  readonly args: Record<string, unknown>;
}

interface ToolRequestLike {
  readonly toolCall: ToolCallLike;
  readonly tool?: { readonly returnDirect?: boolean } | undefined;
  readonly state: StateLike;
  readonly runtime: RuntimeLike;
}

type ToolHandler = (request: ToolRequestLike) => Promise<ToolMessage | Command> | ToolMessage | Command;

/** A failed tool call's error ToolMessage, thrown through `run.tool()` so the gateway records a failure. */
class ToolFailure extends Error {
  readonly result: ToolMessage;

  constructor(result: ToolMessage) {
    super(typeof result.content === 'string' ? result.content : 'tool failed');
    this.result = result;
  }
}

/**
 * The tool's schema refused the model's arguments (LangChain's ToolInvocationError): a failure of the call that the
 * circuit breaker does not count against the tool. Carries the message for the model, or (`handleToolErrors: false`)
 * the original error as `cause`, for LangChain's own handling.
 */
class ToolInputFailure extends ToolInputError {
  readonly result: ToolMessage | undefined;

  constructor(tool: string, error: Error, result: ToolMessage | undefined) {
    super(tool, error.message, { cause: error });
    this.result = result;
  }
}

// One Governance per middleware instance: the invocations it governs are kept by LangGraph's per-run object
// (`config.control`), so parallel invocations never share a run and nothing outlives its invocation.
class Governance {
  readonly governor: Governor;
  readonly options: BoundedMiddlewareOptions;
  readonly #invocations = new WeakMap<object, Invocation>();
  readonly #abandoned = new FinalizationRegistry<Invocation>(invocation => invocation.abandon());
  readonly #handleToolErrors: boolean;
  readonly #toolName: ((name: string) => string) | undefined;

  constructor(governor: Governor, options: BoundedMiddlewareOptions) {
    this.governor = governor;
    this.options = options;
    this.#handleToolErrors = options.handleToolErrors ?? true;
    this.#toolName = options.toolName;
  }

  async modelCall(request: ModelRequestLike, handler: ModelHandler): Promise<ModelResponse> {
    const invocation = this.#invocation(request);
    invocation.watch(request.runtime.signal);
    const run = invocation.run ?? (await invocation.started);
    if (invocation.result || run.stopped) return this.#stopped(invocation);
    invocation.active++;
    let response: ModelResponse;
    try {
      await run.step();
      response = await invocation.untilStopped(run.within(() => handler(request)));
    } catch (error) {
      invocation.active--;
      if (StopError.is(error)) return this.#stopped(invocation);
      if (isBubbleUp(error)) {
        invocation.pause();
        throw error;
      }
      await invocation.end({ error });
      invocation.delivered = true;
      throw error;
    }
    invocation.active--;
    const message = messageOf(response);
    const usage = usageOf(message, this.options.model);
    if (usage) {
      try {
        run.usage(usage);
      } catch (error) {
        // The run is now stopped: its next tool calls are refused, and the next model call ends it.
        if (!StopError.is(error)) throw error;
      }
    }
    if (!isFinal(response)) {
      const noRoom = graphOutOfSteps();
      if (noRoom) {
        // LangGraph would run these tool calls and then fail with GraphRecursionError before the model read their
        // results, leaving the run unended: the run stops here instead, cleanly, and the tools do not run.
        await invocation.end({ error: new StopError('max_steps', noRoom) });
        return this.#stopped(invocation);
      }
      invocation.idle();
      return response;
    }
    const result = await invocation.end({ output: message });
    invocation.delivered = true;
    this.#throwIfAsked(result);
    const bounded = invocation.state(result);
    if (isStructured(response)) {
      // The structured output ends with the agent's closing message: the result goes on that one.
      const messages = [...response.messages];
      const last = messages.at(-1);
      if (last && AIMessage.isInstance(last)) messages[messages.length - 1] = withRun(last, bounded);
      return { ...response, messages };
    }
    return AIMessage.isInstance(response) ? withRun(response, bounded) : response;
  }

  async toolCall(request: ToolRequestLike, handler: ToolHandler): Promise<ToolMessage | Command> {
    const invocation = this.#invocation(request);
    invocation.watch(request.runtime.signal);
    const run = invocation.run ?? (await invocation.started);
    const call = request.toolCall;
    const stopped = invocation.stopped ?? run.stopped;
    if (stopped) return stoppedToolMessage(call, stopped.reason, stopped.detail);
    const name = this.#toolName ? this.#toolName(call.name) : call.name;
    invocation.active++;
    let value: unknown;
    try {
      value = await run.within(() =>
        // A call without an id (some providers send '') gets the run's own sequence number: ids must tell calls apart.
        run.tool(
          name,
          call.args ?? {},
          (args, context) => this.#execute(name, request, handler, args, context.signal),
          call.id ? { callId: call.id } : undefined,
        ),
      );
    } catch (caught) {
      invocation.active--;
      let error = caught;
      if (error instanceof ToolFailure || (error instanceof ToolInputFailure && error.result)) {
        invocation.idle();
        return error.result!;
      }
      if (error instanceof ToolInputFailure) error = error.cause;
      if (ToolRefusedError.is(error)) {
        invocation.idle();
        return refusedToolMessage(call, error.reason, error.detail);
      }
      if (StopError.is(error)) {
        invocation.idle();
        return stoppedToolMessage(call, error.reason, error.detail);
      }
      if (isBubbleUp(error)) {
        // An interrupt (an approval asked of a human): this invocation pauses; resuming it is a new run, which
        // makes this call again.
        invocation.interruptedCalls++;
        invocation.pause();
        throw error;
      }
      // LangChain turns a tool's invalid input into a message for the model; anything else fails the invocation.
      if (isToolInvocationError(error)) invocation.idle();
      else {
        await invocation.end({ error });
        invocation.delivered = true;
      }
      throw error;
    }
    invocation.active--;
    const message = replayedToolMessage(call, value) as ToolMessage | Command;
    if (request.tool?.returnDirect === true && endsAgent(request, message)) {
      // A return-direct tool ends the agent without another model call: the run ends here, once the calls made
      // beside it in the same step have finished (ending it now would cut them short).
      await invocation.quiet();
      const result = await invocation.end({ output: message });
      invocation.delivered = true;
      this.#throwIfAsked(result);
      return withRun(message as ToolMessage, invocation.state(result));
    }
    invocation.idle();
    return message;
  }

  #execute(
    name: string,
    request: ToolRequestLike,
    handler: ToolHandler,
    args: unknown,
    runSignal: AbortSignal,
  ): Promise<ToolMessage | Command> {
    const call = request.toolCall;
    // Core passes the arguments its schema produced (defaults applied); the tool gets those, and a signal that also
    // aborts when the run is killed or runs out of time.
    const next: ToolRequestLike = {
      ...request,
      ...(args === call.args ? {} : { toolCall: { ...call, args: args as Record<string, unknown> } }),
      ...(request.tool ? { tool: abortableTool(request.tool, runSignal) } : {}),
    };
    let pending: Promise<ToolMessage | Command>;
    try {
      pending = Promise.resolve(handler(next));
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      result => {
        // An error result is a failure for the gateway too (circuit breaker, idempotency release).
        if (ToolMessage.isInstance(result) && result.status === 'error') throw new ToolFailure(result);
        return result;
      },
      (error: unknown) => {
        if (isBubbleUp(error)) throw error;
        if (isToolInvocationError(error)) {
          throw new ToolInputFailure(name, error, this.#handleToolErrors ? toolErrorMessage(call, error) : undefined);
        }
        if (!this.#handleToolErrors) throw error;
        throw new ToolFailure(toolErrorMessage(call, error));
      },
    );
  }

  /** Ends the invocation with its stop: a final message that says why and carries the result (or AgentStoppedError). */
  async #stopped(invocation: Invocation): Promise<AIMessage> {
    const result = await invocation.end();
    invocation.delivered = true;
    this.#throwIfAsked(result);
    const bounded = invocation.state(result);
    const stop = { reason: bounded.stopReason ?? ('error' as StopReason), detail: bounded.detail ?? '' };
    const content = (this.options.stopMessage ?? defaultStopMessage)(stop);
    return withRun(stopAIMessage(content), bounded);
  }

  #throwIfAsked(result: RunResult<unknown>): void {
    if (result.status === 'stopped' && this.options.exitBehavior === 'error') throw new AgentStoppedError(result);
  }

  #invocation(request: ModelRequestLike | ToolRequestLike): Invocation {
    const control = getConfig()?.control;
    if (control === undefined) {
      throw new UsageError(
        'boundedMiddleware needs @langchain/langgraph >= 1.7 (each graph run carries a RunControl); upgrade it',
      );
    }
    let invocation = this.#invocations.get(control);
    // A run that ended normally, or whose end the graph was told, is over: anything after it under the same
    // RunControl (an agent used twice as a subgraph, a control reused across invocations) is a new run. A run
    // that stopped while the graph goes on stays stopped until the graph hears it.
    if (invocation === undefined || invocation.endedOk || invocation.delivered) {
      invocation = new Invocation(this, request);
      this.#invocations.set(control, invocation);
      this.#abandoned.register(control, invocation, invocation);
    }
    return invocation;
  }

  forget(invocation: Invocation): void {
    this.#abandoned.unregister(invocation);
  }

  /**
   * Turns paused by an interrupt end their run without a final message to carry their usage into the thread's
   * totals: it is kept here (in this process) and added to the thread's next turn. Bounded: the oldest go first.
   */
  readonly #unrecorded = new Map<string, ThreadUsage>();

  carry(threadId: string, usage: RunUsage): void {
    const earlier = this.#unrecorded.get(threadId);
    this.#unrecorded.delete(threadId);
    if (this.#unrecorded.size >= 10_000) this.#unrecorded.delete(this.#unrecorded.keys().next().value!);
    this.#unrecorded.set(threadId, addRun(earlier ?? NO_THREAD_USAGE, usage));
  }

  takeCarried(threadId: string): ThreadUsage | undefined {
    const carried = this.#unrecorded.get(threadId);
    this.#unrecorded.delete(threadId);
    return carried;
  }
}

/** One invocation of the agent and its governed run. */
class Invocation {
  readonly #owner: Governance;
  readonly info: InvocationInfo;
  /** Resolves with the run once `governor.start()` has; `run` is set from then on (no await per step). */
  readonly started: Promise<ActiveRun>;
  run: ActiveRun | undefined;
  /** Hooks of this invocation in progress: a run that stops or pauses while none is ends at once. */
  active = 0;
  /** Tool calls paused by an interrupt: the resumed invocation makes them again. */
  interruptedCalls = 0;
  result: RunResult<unknown> | undefined;
  #ending: Promise<RunResult<unknown>> | undefined;
  #paused = false;
  /** The graph has been handed this run's end (its final message or error): later hooks belong to a new run. */
  delivered = false;
  /** Rejects the model call in progress when the run stops. */
  #interrupt: ((reason: unknown) => void) | undefined;
  /** Hooks waiting for the others to finish (see `quiet`). */
  #quiet: Array<() => void> | undefined;
  /** Aborted when the caller aborts the invocation: the run's own `signal` option, so it stops as `killed`. */
  readonly #caller = new AbortController();
  /** The last graph-task signal watched (each node has its own). */
  #watched: AbortSignal | undefined;
  readonly #threadBudgets: ThreadBudgets | undefined;
  readonly #threadBefore: ThreadUsage | undefined;
  /** Budget keys where what the thread had left was the binding limit. */
  readonly #threadBound = new Set<string>();

  constructor(owner: Governance, request: ModelRequestLike | ToolRequestLike) {
    this.#owner = owner;
    const options = owner.options;
    const threadId = request.runtime.configurable?.thread_id;
    this.info = { context: request.runtime.context, threadId: typeof threadId === 'string' ? threadId : undefined };
    const custom = options.runOptions?.(this.info) ?? {};
    let budgets: Budgets | undefined = stricterBudgets(options.budgets, custom.budgets);
    this.#threadBudgets = options.thread?.budgets;
    if (this.#threadBudgets) {
      const recorded = threadUsageOf(request.state.messages) ?? NO_THREAD_USAGE;
      const carried = this.info.threadId ? owner.takeCarried(this.info.threadId) : undefined;
      const before = carried ? addUsage(recorded, carried) : recorded;
      this.#threadBefore = before;
      const left = remainingBudgets(this.#threadBudgets, before);
      const others = stricterBudgets(owner.governor.policy.budgets, budgets);
      for (const [key, value] of Object.entries(left)) {
        const other = others[key as keyof Budgets];
        if (typeof value === 'number' && (other === undefined || (typeof other === 'number' && value <= other))) {
          this.#threadBound.add(key);
        }
      }
      budgets = stricterBudgets(budgets, left);
    }
    const metadata = this.info.threadId ? { thread_id: this.info.threadId, ...custom.metadata } : custom.metadata;
    this.started = owner.governor
      .start({
        agent: custom.agent ?? options.agent ?? 'agent',
        ...(custom.tenant === undefined ? {} : { tenant: custom.tenant }),
        ...(custom.runId === undefined ? {} : { runId: custom.runId }),
        ...(Object.keys(budgets).length > 0 ? { budgets } : {}),
        ...(metadata ? { metadata } : {}),
        signal: this.#caller.signal,
      })
      .then(run => {
        this.run = run;
        // A stop that comes while no hook of this invocation runs (the kill switch, the deadline between
        // nodes) ends the run at once; the next hook, if the graph is still going, ends the invocation.
        const signal = run.signal;
        const onStop = () => {
          this.#interrupt?.(signal.reason);
          this.idle();
        };
        if (signal.aborted) onStop();
        else signal.addEventListener('abort', onStop, { once: true });
        return run;
      });
  }

  /**
   * Settles like the model call, or rejects with the run's StopError as soon as the run stops (deadline, kill
   * switch): one listener per run, not one per call.
   */
  untilStopped<T>(pending: Promise<T>): Promise<T> {
    const run = this.run;
    if (run?.stopped) {
      pending.catch(() => undefined);
      return Promise.reject(run.signal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      this.#interrupt = reject;
      pending.then(
        value => {
          this.#interrupt = undefined;
          resolve(value);
        },
        (error: unknown) => {
          this.#interrupt = undefined;
          reject(error);
        },
      );
    });
  }

  get endedOk(): boolean {
    return this.result?.status === 'ok';
  }

  get stopped(): { reason: StopReason; detail: string } | undefined {
    const result = this.result;
    return result?.status === 'stopped' ? { reason: result.stopReason, detail: result.detail } : undefined;
  }

  /** Called when a hook leaves: ends the run if it paused or stopped and nothing else of it is running. */
  idle(): void {
    if (this.active > 0) return;
    if (this.#quiet) {
      for (const resolve of this.#quiet.splice(0)) resolve();
    }
    if (this.#ending) return;
    if (this.#paused || this.run?.stopped) void this.end();
  }

  /**
   * Follows the graph task's signal: the caller's abort (or a stream it stopped reading) stops the run as `killed`,
   * so it ends and frees its slot instead of waiting for the garbage collector.
   */
  watch(signal: AbortSignal | undefined): void {
    if (!signal || signal === this.#watched) return;
    this.#watched = signal;
    if (signal.aborted) this.#caller.abort(signal.reason);
    else signal.addEventListener('abort', () => this.#caller.abort(signal.reason), { once: true });
  }

  /** Resolves once no other hook of this invocation is running. */
  quiet(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise(resolve => {
      this.#quiet ??= [];
      this.#quiet.push(resolve);
    });
  }

  pause(): void {
    this.#paused = true;
    this.idle();
  }

  /** The invocation's graph run was collected without the middleware seeing it end (an error elsewhere, say). */
  abandon(): void {
    if (this.#ending) return;
    void this.started.then(() =>
      this.end({
        error: new UsageError(
          'the agent invocation ended without Bounded seeing its end (an error, interrupt or jump in another middleware)',
        ),
      }),
    );
  }

  end(outcome?: { readonly output: unknown } | { readonly error: unknown }): Promise<RunResult<unknown>> {
    this.#ending ??= this.started.then(async run => {
      // A pause (interrupt) is not a stop: the run ends ok and the resumed invocation is a new run.
      const result = await run.end(outcome ?? { output: undefined });
      this.result = result;
      if (this.#paused && this.#threadBudgets && this.info.threadId) {
        // The interrupted calls run again when the thread resumes, and count there.
        const usage = { ...result.usage, toolCalls: Math.max(0, result.usage.toolCalls - this.interruptedCalls) };
        this.#owner.carry(this.info.threadId, usage);
      }
      this.#owner.forget(this);
      const onRunEnd = this.#owner.options.onRunEnd;
      if (onRunEnd) {
        try {
          onRunEnd(result, this.info);
        } catch {
          // A reporting callback cannot change how the run ended.
        }
      }
      return result;
    });
    return this.#ending;
  }

  /** The result the final message carries. */
  state(result: RunResult<unknown>): BoundedRunState {
    const budgets = this.#threadBudgets;
    const before = this.#threadBefore;
    if (!budgets || !before) return stateOf(result, undefined);
    const thread = addRun(before, result.usage);
    if (result.status === 'stopped' && this.#threadBound.has(result.stopReason)) {
      const detail = threadDetail(result.stopReason, result.detail, budgets, before);
      return stateOf({ ...result, detail }, thread);
    }
    return stateOf(result, thread);
  }
}

/**
 * Why the graph cannot finish another round of model and tools (LangGraph counts a step per node and fails past its
 * `recursionLimit`), or undefined when it can.
 */
function graphOutOfSteps(): string | undefined {
  const config = getConfig() as { recursionLimit?: unknown; metadata?: { langgraph_step?: unknown } } | undefined;
  const limit = config?.recursionLimit;
  const step = config?.metadata?.langgraph_step;
  if (typeof limit !== 'number' || typeof step !== 'number') return undefined;
  // The tools run at the next step at the earliest, and the model reads their results one after that.
  if (step + 2 <= limit) return undefined;
  return `the graph's recursionLimit (${limit}) leaves no step for the model to read these tool calls' results`;
}

/**
 * The tool as LangChain's ToolNode runs it (`tool.invoke(call, config)`), with the run's signal for the config's:
 * the tool itself sees the deadline and the kill switch. The run's signal also aborts when the graph task's does
 * (see Invocation.watch), so it stands for both, without an AbortSignal.any per call. The rest is the tool's own.
 */
function abortableTool<T extends object>(tool: T, runSignal: AbortSignal): T {
  const invoke = (tool as { invoke?: unknown }).invoke;
  if (typeof invoke !== 'function') return tool;
  return Object.create(tool, {
    invoke: {
      value: (input: unknown, config?: object) => invoke.call(tool, input, { ...config, signal: runSignal }),
    },
  }) as T;
}

function isBubbleUp(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { is_bubble_up?: unknown }).is_bubble_up === true;
}

function isStructured(response: ModelResponse): response is StructuredOutput {
  return (
    !AIMessage.isInstance(response) &&
    !isCommand(response) &&
    typeof response === 'object' &&
    response !== null &&
    'structuredResponse' in response
  );
}

function messageOf(response: ModelResponse): AIMessage | undefined {
  if (AIMessage.isInstance(response)) return response;
  if (isStructured(response)) {
    const first = response.messages[0];
    return first && AIMessage.isInstance(first) ? first : undefined;
  }
  return undefined;
}

/** The agent's own routing: no tool calls (or only structured-output ones) means the agent is done. */
function isFinal(response: ModelResponse): boolean {
  if (AIMessage.isInstance(response)) {
    const calls = response.tool_calls;
    return !calls || calls.length === 0 || calls.every(call => call.name.startsWith('extract-'));
  }
  return isStructured(response);
}

/**
 * LangChain's own routing after the tools: the agent ends when the last message is a return-direct tool's successful
 * ToolMessage, and the tools' messages come in the order of the model's calls: so when this is the last call.
 */
function endsAgent(request: ToolRequestLike, message: unknown): boolean {
  if (!ToolMessage.isInstance(message) || message.status === 'error') return false;
  const messages = request.state.messages ?? [];
  for (let index = messages.length - 1; index >= 0; index--) {
    const candidate = messages[index];
    if (candidate && AIMessage.isInstance(candidate)) return candidate.tool_calls?.at(-1)?.id === request.toolCall.id;
  }
  return false;
}
