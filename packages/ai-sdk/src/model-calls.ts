import type { StopReason, UsageInput } from '@bounded/core';

/** A stop as the model-call hooks see it. */
export interface Stop {
  readonly reason: StopReason;
  readonly detail: string;
}

/**
 * Tokens from a provider's usage, in the nested shape of model specs v3/v4 (`{ inputTokens: { total, cacheRead } }`)
 * or the flat one of v2 (`{ inputTokens, cachedInputTokens }`). Missing or odd numbers count as 0.
 */
export function usageOf(usage: unknown, model: string, provider: string | undefined): UsageInput {
  const u = (usage ?? {}) as Record<string, unknown>;
  const input = u.inputTokens;
  const output = u.outputTokens;
  if (typeof input === 'object' && input !== null) {
    const i = input as Record<string, unknown>;
    const o = (output ?? {}) as Record<string, unknown>;
    return {
      inputTokens: count(i.total),
      outputTokens: count(o.total),
      cachedInputTokens: Math.min(count(i.cacheRead), count(i.total)),
      model,
      ...(typeof provider === 'string' ? { provider } : {}),
    };
  }
  return {
    inputTokens: count(input),
    outputTokens: count(output),
    cachedInputTokens: Math.min(count(u.cachedInputTokens), count(input)),
    model,
    ...(typeof provider === 'string' ? { provider } : {}),
  };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** The finish reason and usage of an empty response, in the shape of the model's spec version. */
function emptyFinish(specificationVersion: string | undefined, stop: Stop) {
  if (specificationVersion === 'v2') {
    return { finishReason: 'other', usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 } };
  }
  return {
    // `raw` is where providers put their own finish reason; ours names the stop, for whoever reads the steps.
    finishReason: { unified: 'other', raw: `bounded:${stop.reason}` },
    usage: {
      inputTokens: { total: 0, noCache: 0, cacheRead: 0, cacheWrite: 0 },
      outputTokens: { total: 0, text: 0, reasoning: 0 },
    },
  };
}

/**
 * The response a stopped run gets instead of a model call: no content, so the SDK's loop has no tool call to run
 * and ends, cleanly, with the steps so far.
 */
export function stoppedResponse(specificationVersion: string | undefined, stop: Stop): unknown {
  return { content: [], warnings: [], ...emptyFinish(specificationVersion, stop) };
}

/** The stream a stopped run gets instead of a model call: a start and a finish, nothing in between. */
export function stoppedStream(specificationVersion: string | undefined, stop: Stop): { stream: ReadableStream } {
  return {
    stream: new ReadableStream({
      start(controller) {
        controller.enqueue({ type: 'stream-start', warnings: [] });
        controller.enqueue({ type: 'finish', ...emptyFinish(specificationVersion, stop) });
        controller.close();
      },
    }),
  };
}

export function finishPart(specificationVersion: string | undefined, stop: Stop): unknown {
  return { type: 'finish', ...emptyFinish(specificationVersion, stop) };
}
