import type { RunResult, StopReason, UsageInput } from '@bounded/core';
import { AIMessage, ToolMessage } from '@langchain/core/messages';
import { Command, isCommand } from '@langchain/langgraph';
import { ToolInvocationError } from 'langchain';
import type { BoundedRunState, ThreadUsage } from './types.js';

interface ToolCallLike {
  readonly id?: string | undefined;
  readonly name: string;
}

export function defaultStopMessage(stop: { reason: StopReason; detail: string }): string {
  return `Run stopped by policy (${stop.reason}): ${stop.detail}.`;
}

/** What the model reads when Bounded refuses one call and the run goes on. */
export function refusedToolMessage(call: ToolCallLike, reason: StopReason, detail: string): ToolMessage {
  return new ToolMessage({
    content: `Refused by policy (${reason}): ${detail}. This call did not run; do not retry it unchanged.`,
    tool_call_id: call.id ?? '',
    name: call.name,
    status: 'error',
  });
}

/** What the model reads for a call that cannot run because the run has stopped. */
export function stoppedToolMessage(call: ToolCallLike, reason: StopReason, detail: string): ToolMessage {
  return new ToolMessage({
    content: `Not run: the run stopped (${reason}): ${detail}.`,
    tool_call_id: call.id ?? '',
    name: call.name,
    status: 'error',
  });
}

/**
 * LangChain's error for a tool call whose input does not fit the tool's schema. By class: its `name` is plain
 * `Error`; by name too, for a second copy of langchain in the tree.
 */
export function isToolInvocationError(error: unknown): error is Error {
  return error instanceof ToolInvocationError || (error instanceof Error && error.name === 'ToolInvocationError');
}

/** The error ToolMessage LangChain's ToolNode makes when no middleware is present, so the agent behaves the same. */
export function toolErrorMessage(call: ToolCallLike, error: unknown): ToolMessage {
  const invocationError = isToolInvocationError(error);
  return new ToolMessage({
    content: invocationError ? (error as Error).message : `${String(error)}\n Please fix your mistakes.`,
    tool_call_id: call.id ?? '',
    name: call.name,
    status: 'error',
  });
}

export function stopAIMessage(content: string): AIMessage {
  return new AIMessage({ content });
}

/**
 * A recorded result replayed by idempotency, addressed to the current call. The store may have kept the
 * ToolMessage itself or its JSON (a shared store), so both are accepted.
 */
export function replayedToolMessage(call: ToolCallLike, value: unknown): unknown {
  if (isCommand(value)) {
    // A tool that returns a Command carries its ToolMessage in the update: that one is re-addressed too.
    const update = value.update as { messages?: unknown } | undefined;
    const messages = update?.messages;
    if (!Array.isArray(messages)) return value;
    const readdressed = messages.map(message =>
      ToolMessage.isInstance(message) ? replayedToolMessage(call, message) : message,
    );
    if (readdressed.every((message, index) => message === messages[index])) return value;
    return new Command({
      update: { ...update, messages: readdressed },
      ...(value.goto === undefined ? {} : { goto: value.goto }),
      ...(value.graph === undefined ? {} : { graph: value.graph }),
      ...(value.resume === undefined ? {} : { resume: value.resume }),
    } as ConstructorParameters<typeof Command>[0]);
  }
  if (ToolMessage.isInstance(value)) {
    if (value.tool_call_id === call.id) return value;
    return new ToolMessage({
      content: value.content,
      tool_call_id: call.id ?? '',
      name: value.name ?? call.name,
      status: value.status ?? 'success',
      artifact: value.artifact,
    });
  }
  if (value !== null && typeof value === 'object') {
    const record = value as { content?: unknown; kwargs?: { content?: unknown; status?: unknown } };
    const content = record.kwargs?.content ?? record.content;
    if (typeof content === 'string' || Array.isArray(content)) {
      const status = record.kwargs?.status === 'error' ? 'error' : 'success';
      return new ToolMessage({ content: content as string, tool_call_id: call.id ?? '', name: call.name, status });
    }
  }
  return value;
}

interface UsageMetadataLike {
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  readonly input_token_details?: { readonly cache_read?: number };
}

/** Tokens and model of a chat model's response, from `usage_metadata` (or the legacy `llmOutput.tokenUsage`). */
export function usageOf(
  message: { usage_metadata?: UsageMetadataLike; response_metadata?: Record<string, unknown> } | undefined,
  model: string | undefined,
): UsageInput | undefined {
  if (!message) return undefined;
  const meta = message.usage_metadata;
  const responseMeta = message.response_metadata;
  const named = responseMeta?.model_name ?? responseMeta?.model;
  const modelId = model ?? (typeof named === 'string' ? named : undefined);
  // LangChain v1 integrations name themselves here (`openai`, `anthropic`, `google-genai`).
  const provider = responseMeta?.model_provider;
  const about = {
    ...(modelId ? { model: modelId } : {}),
    ...(typeof provider === 'string' && provider.length > 0 ? { provider } : {}),
  };
  if (meta) {
    const cached = tokens(meta.input_token_details?.cache_read);
    return {
      inputTokens: tokens(meta.input_tokens),
      outputTokens: tokens(meta.output_tokens),
      ...(cached ? { cachedInputTokens: cached } : {}),
      ...about,
    };
  }
  const legacy = responseMeta?.tokenUsage as { promptTokens?: number; completionTokens?: number } | undefined;
  if (legacy && (legacy.promptTokens !== undefined || legacy.completionTokens !== undefined)) {
    return {
      inputTokens: tokens(legacy.promptTokens),
      outputTokens: tokens(legacy.completionTokens),
      ...about,
    };
  }
  return modelId ? about : undefined;
}

/**
 * A provider's token count, or 0 when it is not a count (NaN, negative, a string): accounting never fails the
 * agent's invocation, and a nonsense count is not a spend.
 */
function tokens(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** The compact result written into the agent's state. */
export function stateOf(result: RunResult<unknown>, thread: ThreadUsage | undefined): BoundedRunState {
  const usage = result.usage;
  return {
    runId: result.runId,
    status: result.status,
    ...(result.status === 'stopped' ? { stopReason: result.stopReason, detail: result.detail } : {}),
    usage: {
      steps: usage.steps,
      toolCalls: usage.toolCalls,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      totalTokens: usage.totalTokens,
      costUsd: usage.costUsd,
      durationMs: usage.durationMs,
    },
    ...(thread ? { thread } : {}),
  };
}

/** Where the result rides: the final message's `response_metadata`, which providers never send back to a model. */
const KEY = 'bounded';

/** A copy of the final message that carries the run's result (a copy: the model's own message stays as it was). */
export function withRun<M extends AIMessage | ToolMessage>(message: M, run: BoundedRunState): M {
  const response_metadata = { ...message.response_metadata, [KEY]: run };
  if (ToolMessage.isInstance(message)) {
    return new ToolMessage({
      content: message.content,
      tool_call_id: message.tool_call_id,
      ...(message.id === undefined ? {} : { id: message.id }),
      ...(message.name === undefined ? {} : { name: message.name }),
      status: message.status ?? 'success',
      artifact: message.artifact,
      additional_kwargs: message.additional_kwargs,
      response_metadata,
    }) as M;
  }
  const ai = message as AIMessage;
  return new AIMessage({
    content: ai.content,
    ...(ai.id === undefined ? {} : { id: ai.id }),
    ...(ai.name === undefined ? {} : { name: ai.name }),
    tool_calls: ai.tool_calls ?? [],
    invalid_tool_calls: ai.invalid_tool_calls ?? [],
    ...(ai.usage_metadata ? { usage_metadata: ai.usage_metadata } : {}),
    additional_kwargs: ai.additional_kwargs,
    response_metadata,
  }) as M;
}

interface MessageLike {
  readonly response_metadata?: Record<string, unknown>;
}

/**
 * The result of the governed run that ended an agent invocation: it rides on the final message of the state.
 *
 * ```ts
 * const state = await agent.invoke(input);
 * boundedRun(state)?.stopReason; // 'max_tool_calls'
 * ```
 */
export function boundedRun(
  state: { readonly messages?: readonly MessageLike[] } | readonly MessageLike[],
): BoundedRunState | undefined {
  const messages = Array.isArray(state) ? state : ((state as { messages?: readonly MessageLike[] }).messages ?? []);
  const last = messages.at(-1);
  return last?.response_metadata?.[KEY] as BoundedRunState | undefined;
}

/** What the thread's earlier turns used: the totals on the last message that carries a result. */
export function threadUsageOf(messages: readonly MessageLike[] | undefined): ThreadUsage | undefined {
  if (!messages) return undefined;
  for (let index = messages.length - 1; index >= 0; index--) {
    const run = messages[index]?.response_metadata?.[KEY] as BoundedRunState | undefined;
    if (run) return run.thread;
  }
  return undefined;
}
