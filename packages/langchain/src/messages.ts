import type { RunResult, StopReason, UsageInput } from '@bounded/core';
import { AIMessage, ToolMessage } from '@langchain/core/messages';
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

/** The error ToolMessage LangChain's ToolNode makes when no middleware is present, so the agent behaves the same. */
export function toolErrorMessage(call: ToolCallLike, error: unknown): ToolMessage {
  const invocationError = error instanceof Error && error.name === 'ToolInvocationError';
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
  if (meta) {
    const cached = meta.input_token_details?.cache_read;
    return {
      inputTokens: meta.input_tokens ?? 0,
      outputTokens: meta.output_tokens ?? 0,
      ...(cached ? { cachedInputTokens: cached } : {}),
      ...(modelId ? { model: modelId } : {}),
    };
  }
  const legacy = responseMeta?.tokenUsage as { promptTokens?: number; completionTokens?: number } | undefined;
  if (legacy && (legacy.promptTokens !== undefined || legacy.completionTokens !== undefined)) {
    return {
      inputTokens: legacy.promptTokens ?? 0,
      outputTokens: legacy.completionTokens ?? 0,
      ...(modelId ? { model: modelId } : {}),
    };
  }
  return modelId ? { model: modelId } : undefined;
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
