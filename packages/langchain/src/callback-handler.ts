import { type ActiveRun, type Budgets, type Governor, type RunResult, StopError, UsageError } from '@bounded/core';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { Serialized } from '@langchain/core/load/serializable';
import type { LLMResult } from '@langchain/core/outputs';
import { usageOf } from './messages.js';

export interface BoundedCallbackHandlerOptions {
  /** Agent name of the runs. Default: the name of the graph or chain invoked (`runName`), else `graph`. */
  readonly agent?: string;
  readonly tenant?: string;
  /** Budgets for every run, tightening the policy's. */
  readonly budgets?: Budgets;
  /** Maps a LangChain tool name to the policy's name. */
  readonly toolName?: (name: string) => string;
  /** Model id for pricing when the response does not name one. */
  readonly model?: string;
  /** Told every run's result as it ends. Errors it throws are ignored. */
  readonly onRunEnd?: (result: RunResult<unknown>) => void;
}

/** One governed run: the invocation of a graph or chain (the callback run without a parent). */
interface Governed {
  readonly started: Promise<ActiveRun>;
  run: ActiveRun | undefined;
}

/** A tool call admitted by the gateway, waiting for LangChain to say how the tool body ended. */
class PendingTool {
  admitted = false;
  #admit!: () => void;
  #finish!: (value: unknown) => void;
  #fail!: (error: unknown) => void;
  readonly whenAdmitted = new Promise<void>(resolve => {
    this.#admit = resolve;
  });
  readonly finished = new Promise<unknown>((resolve, reject) => {
    this.#finish = resolve;
    this.#fail = reject;
  });

  constructor() {
    // Nobody may wait on a refused call's result: a rejection here must not go unhandled.
    this.finished.catch(() => undefined);
  }

  /** The gateway let the call through: the body may run; the gateway then waits for its end. */
  admit(): Promise<unknown> {
    this.admitted = true;
    this.#admit();
    return this.finished;
  }

  end(value: unknown): void {
    this.#finish(value);
  }

  fail(error: unknown): void {
    this.#fail(error);
  }
}

/**
 * Governs LangGraph graphs and chains that do not use `createAgent`, from LangChain's callbacks: one Bounded run
 * per invocation, each model call a step (tokens and cost from `handleLLMEnd`), each tool call through the gateway
 * before its body runs. It raises errors (`raiseError`), so LangChain waits for it and a refusal blocks the tool:
 * a prebuilt ToolNode hands the refusal to the model as an error message; a stop makes the next model call throw
 * the StopError, which ends the invocation.
 *
 * ```ts
 * const bounded = new BoundedCallbackHandler(governor, { agent: 'triage' });
 * await graph.invoke(input, { callbacks: [bounded] }).catch(error => { if (!StopError.is(error)) throw error; });
 * bounded.lastResult; // { status: 'stopped', stopReason: 'tool_denied:admin_delete_user', ... }
 * ```
 *
 * What callbacks cannot do: a replayed (deduplicated) call cannot hand back its recorded result, so the body is
 * blocked with the result in the error; a stop cannot end the graph cleanly; approvals use the governor's
 * approver (LangGraph interrupts need the middleware).
 */
export class BoundedCallbackHandler extends BaseCallbackHandler {
  override name = 'BoundedCallbackHandler';
  readonly #governor: Governor;
  readonly #options: BoundedCallbackHandlerOptions;
  /** Governed runs by the LangChain run id of their invocation (the root). */
  readonly #roots = new Map<string, Governed>();
  /** Every live LangChain run id inside an invocation -> that invocation's root run id. */
  readonly #rootOf = new Map<string, string>();
  readonly #tools = new Map<string, PendingTool>();
  #lastResult: RunResult<unknown> | undefined;

  constructor(governor: Governor, options: BoundedCallbackHandlerOptions = {}) {
    // raiseError makes LangChain await the handler and rethrow what it throws: the only way to block a tool.
    super({ raiseError: true });
    if (!governor || typeof governor.start !== 'function') {
      throw new UsageError('new BoundedCallbackHandler(governor): pass the governor made by createGovernor()');
    }
    this.#governor = governor;
    this.#options = options;
  }

  /** The result of the run that ended last. */
  get lastResult(): RunResult<unknown> | undefined {
    return this.#lastResult;
  }

  /** Runs in progress. */
  get active(): number {
    return this.#roots.size;
  }

  // The order LangChain calls it with (its tracers' order), not the one its interface declares.
  override async handleChainStart(
    _chain: Serialized,
    _inputs: unknown,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    _runType?: string,
    runName?: string,
  ): Promise<void> {
    this.#enter(runId, parentRunId, runName, metadata);
  }

  override async handleChainEnd(outputs: unknown, runId: string): Promise<void> {
    await this.#leave(runId, { output: outputs });
  }

  override async handleChainError(error: unknown, runId: string): Promise<void> {
    await this.#leave(runId, { error });
  }

  override async handleChatModelStart(
    _llm: Serialized,
    _messages: unknown,
    runId: string,
    parentRunId?: string,
    _extra?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): Promise<void> {
    await this.#step(runId, parentRunId, runName, metadata);
  }

  override async handleLLMStart(
    _llm: Serialized,
    _prompts: string[],
    runId: string,
    parentRunId?: string,
    _extra?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): Promise<void> {
    await this.#step(runId, parentRunId, runName, metadata);
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const governed = this.#governedOf(runId);
    const run = governed?.run;
    if (run && !run.ended) {
      const generation = output.generations?.[0]?.[0] as { message?: Parameters<typeof usageOf>[0] } | undefined;
      let usage = usageOf(generation?.message, this.#options.model);
      const legacy = output.llmOutput?.tokenUsage as { promptTokens?: number; completionTokens?: number } | undefined;
      if (usage?.inputTokens === undefined && legacy) {
        usage = { ...usage, inputTokens: legacy.promptTokens ?? 0, outputTokens: legacy.completionTokens ?? 0 };
      }
      if (usage) {
        try {
          run.usage(usage);
        } catch (error) {
          // The run is stopped now; the next model call or tool says so. This response is already paid for.
          if (!StopError.is(error)) throw error;
        }
      }
    }
    await this.#leave(runId, { output });
  }

  override async handleLLMError(error: unknown, runId: string): Promise<void> {
    await this.#leave(runId, { error });
  }

  override async handleToolStart(
    _tool: Serialized,
    input: string,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string,
  ): Promise<void> {
    const governed = this.#enter(runId, parentRunId, runName, metadata);
    const run = governed.run ?? (await governed.started);
    const toolName = runName ?? 'tool';
    const name = this.#options.toolName ? this.#options.toolName(toolName) : toolName;
    const pending = new PendingTool();
    this.#tools.set(runId, pending);
    const decided = run.within(() =>
      run.tool(
        name,
        parseArgs(input),
        () => pending.admit(),
        toolCallId === undefined ? undefined : { callId: toolCallId },
      ),
    );
    // Resolves as soon as the gateway admits the call (the body may run), rejects when it refuses it.
    const verdict = await Promise.race([
      pending.whenAdmitted.then(() => 'admitted' as const),
      decided.then(
        value => ({ replayed: value }),
        (error: unknown) => ({ refused: error }),
      ),
    ]);
    if (verdict === 'admitted') {
      // The gateway's own promise settles with the body; a failure there is the tool's, reported by LangChain.
      decided.catch(() => undefined);
      return;
    }
    this.#tools.delete(runId);
    if ('refused' in verdict) throw verdict.refused;
    throw new UsageError(
      `${name} already ran with these arguments (idempotency); its recorded result: ${JSON.stringify(verdict.replayed)}`,
    );
  }

  override async handleToolEnd(output: unknown, runId: string): Promise<void> {
    this.#tools.get(runId)?.end(output);
    this.#tools.delete(runId);
    await this.#leave(runId, { output });
  }

  override async handleToolError(error: unknown, runId: string): Promise<void> {
    this.#tools.get(runId)?.fail(error);
    this.#tools.delete(runId);
    await this.#leave(runId, { error });
  }

  async #step(
    runId: string,
    parentRunId: string | undefined,
    runName: string | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Promise<void> {
    const governed = this.#enter(runId, parentRunId, runName, metadata);
    const run = governed.run ?? (await governed.started);
    await run.within(() => run.step());
  }

  /** Links a LangChain run to its invocation; a run without a parent starts a governed run. */
  #enter(
    runId: string,
    parentRunId: string | undefined,
    runName: string | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Governed {
    const root = parentRunId === undefined ? undefined : (this.#rootOf.get(parentRunId) ?? parentRunId);
    const known = root === undefined ? undefined : this.#roots.get(root);
    if (known && root !== undefined) {
      this.#rootOf.set(runId, root);
      return known;
    }
    const existing = this.#roots.get(runId);
    if (existing) return existing;
    const options = this.#options;
    const threadId = metadata?.thread_id;
    const governed: Governed = {
      run: undefined,
      started: this.#governor
        .start({
          agent: options.agent ?? runName ?? 'graph',
          runId,
          ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
          ...(options.budgets ? { budgets: options.budgets } : {}),
          ...(typeof threadId === 'string' ? { metadata: { thread_id: threadId } } : {}),
        })
        .then(run => {
          governed.run = run;
          return run;
        }),
    };
    this.#roots.set(runId, governed);
    this.#rootOf.set(runId, runId);
    return governed;
  }

  #governedOf(runId: string): Governed | undefined {
    const root = this.#rootOf.get(runId);
    return root === undefined ? undefined : this.#roots.get(root);
  }

  /** Forgets a LangChain run; when it is an invocation's root, ends that governed run. */
  async #leave(runId: string, outcome: { output: unknown } | { error: unknown }): Promise<void> {
    const root = this.#rootOf.get(runId);
    this.#rootOf.delete(runId);
    if (root !== runId) return;
    const governed = this.#roots.get(runId);
    if (!governed) return;
    this.#roots.delete(runId);
    const run = await governed.started;
    const result = await run.end(outcome);
    this.#lastResult = result;
    try {
      this.#options.onRunEnd?.(result);
    } catch {
      // A reporting callback cannot change how the run ended.
    }
  }
}

/** LangChain passes a structured tool's arguments as JSON text; anything else is the tool's single input. */
function parseArgs(input: string): unknown {
  try {
    const parsed: unknown = JSON.parse(input);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  } catch {
    // Not JSON: a plain string tool.
  }
  return { input };
}
