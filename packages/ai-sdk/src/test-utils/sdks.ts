/**
 * Both SDK majors side by side, so every test runs against ai@6 and ai@7 in the same process. ai@6 is typed as ai@7
 * here: the tests use only what the two share, and the types of each are checked in `sdk-types.test.ts`.
 */
import * as ai7 from 'ai';
import { convertArrayToReadableStream, MockLanguageModelV4 } from 'ai/test';
import * as ai6 from 'ai-v6';
import { MockLanguageModelV3 } from 'ai-v6/test';

export type Ai = typeof ai7;
export type MockModel = MockLanguageModelV4;

/** One model turn: some tool calls, or a text answer. */
export type Turn =
  | { readonly calls: ReadonlyArray<readonly [tool: string, input: unknown]>; readonly usage?: Usage }
  | { readonly text: string; readonly usage?: Usage };

export interface Usage {
  readonly input: number;
  readonly output: number;
}

/** The model's script: a list (the last turn repeats, like a model stuck in a loop), or a function of the call. */
export type Script = readonly Turn[] | ((call: number) => Turn);

export interface Sdk {
  readonly name: 'ai@6' | 'ai@7';
  readonly major: 6 | 7;
  readonly ai: Ai;
  /** The SDK's mock model class, for models written out by hand. */
  readonly Mock: typeof MockLanguageModelV4;
  /** A scripted mock model (`MockLanguageModelV3` on ai@6, `V4` on ai@7) that answers both generate and stream. */
  model(script: Script, options?: { readonly modelId?: string; readonly fail?: Error }): MockModel;
}

const DEFAULT_USAGE: Usage = { input: 10, output: 5 };

function turnAt(script: Script, call: number): Turn {
  if (typeof script === 'function') return script(call);
  return script[Math.min(call, script.length - 1)]!;
}

function usageOf(turn: Turn) {
  const u = turn.usage ?? DEFAULT_USAGE;
  return {
    inputTokens: { total: u.input, noCache: u.input, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: u.output, text: u.output, reasoning: 0 },
  };
}

function toolCalls(turn: Turn, call: number) {
  if (!('calls' in turn)) return [];
  return turn.calls.map(([toolName, input], index) => ({
    type: 'tool-call' as const,
    toolCallId: `call-${call}-${index}`,
    toolName,
    input: JSON.stringify(input),
  }));
}

function generateResult(turn: Turn, call: number) {
  const calls = toolCalls(turn, call);
  return {
    content: 'text' in turn ? [{ type: 'text' as const, text: turn.text }] : calls,
    finishReason: { unified: calls.length > 0 ? ('tool-calls' as const) : ('stop' as const), raw: undefined },
    usage: usageOf(turn),
    warnings: [],
  };
}

function streamResult(turn: Turn, call: number) {
  const calls = toolCalls(turn, call);
  const parts: unknown[] = [{ type: 'stream-start', warnings: [] }];
  if ('text' in turn) {
    parts.push(
      { type: 'text-start', id: 't' },
      { type: 'text-delta', id: 't', delta: turn.text },
      { type: 'text-end', id: 't' },
    );
  }
  parts.push(...calls, {
    type: 'finish',
    finishReason: { unified: calls.length > 0 ? 'tool-calls' : 'stop', raw: undefined },
    usage: usageOf(turn),
  });
  return { stream: convertArrayToReadableStream(parts) };
}

function makeSdk(name: Sdk['name'], ai: Ai, Mock: typeof MockLanguageModelV4): Sdk {
  return {
    name,
    major: name === 'ai@6' ? 6 : 7,
    ai,
    Mock,
    model(script, options = {}) {
      let generated = 0;
      let streamed = 0;
      return new Mock({
        provider: 'mock',
        modelId: options.modelId ?? 'mock-model',
        doGenerate: async () => {
          if (options.fail) throw options.fail;
          const call = generated++;
          return generateResult(turnAt(script, call), call) as never;
        },
        doStream: async () => {
          if (options.fail) throw options.fail;
          const call = streamed++;
          return streamResult(turnAt(script, call), call) as never;
        },
      });
    },
  };
}

export const SDKS: readonly Sdk[] = [
  makeSdk('ai@7', ai7, MockLanguageModelV4),
  makeSdk('ai@6', ai6 as unknown as Ai, MockLanguageModelV3 as unknown as typeof MockLanguageModelV4),
];
