import type { LanguageModelV4, LanguageModelV4StreamPart } from '@ai-sdk/provider';
import { convertArrayToReadableStream, MockLanguageModelV4 } from 'ai/test';

/** One turn of a scripted model: tool calls, or the final answer; with the tokens a real model would have spent. */
export type Turn =
  | { readonly call: string; readonly input: unknown; readonly tokens?: readonly [input: number, output: number] }
  | { readonly answer: string; readonly tokens?: readonly [input: number, output: number] };

/** A script: a list of turns (the last repeats, as a model stuck in a loop does), or a function of the turn number. */
export type Script = readonly Turn[] | ((turn: number) => Turn);

const DEFAULT_TOKENS = [850, 60] as const;

/**
 * The AI SDK's own mock model, answering from a script on both the generate and the stream path: the app runs
 * offline, and meets the governor exactly as it would with a provider.
 */
export function scriptedModel(script: Script, modelId = 'gpt-4o-mini'): LanguageModelV4 {
  let turns = 0;
  const next = () => {
    const n = turns++;
    const turn = typeof script === 'function' ? script(n) : script[Math.min(n, script.length - 1)]!;
    const [input, output] = turn.tokens ?? DEFAULT_TOKENS;
    const usage = {
      inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
      outputTokens: { total: output, text: output, reasoning: 0 },
    };
    if ('answer' in turn) {
      return { content: [{ type: 'text' as const, text: turn.answer }], finish: 'stop' as const, usage };
    }
    const call = {
      type: 'tool-call' as const,
      toolCallId: `call_${n}`,
      toolName: turn.call,
      input: JSON.stringify(turn.input),
    };
    return { content: [call], finish: 'tool-calls' as const, usage };
  };
  return new MockLanguageModelV4({
    provider: 'scripted',
    modelId,
    doGenerate: async () => {
      const { content, finish, usage } = next();
      return { content, finishReason: { unified: finish, raw: finish }, usage, warnings: [] };
    },
    doStream: async () => {
      const { content, finish, usage } = next();
      const parts = content.flatMap((part): LanguageModelV4StreamPart[] =>
        part.type === 'text'
          ? [
              { type: 'text-start' as const, id: 't' },
              { type: 'text-delta' as const, id: 't', delta: part.text },
              { type: 'text-end' as const, id: 't' },
            ]
          : [part],
      );
      return {
        stream: convertArrayToReadableStream<LanguageModelV4StreamPart>([
          { type: 'stream-start' as const, warnings: [] },
          ...parts,
          { type: 'finish' as const, finishReason: { unified: finish, raw: finish }, usage },
        ]),
      };
    },
  });
}

/** A real model, when its key is set: `OPENAI_API_KEY` (and `BOUNDED_AI_MODEL`, default gpt-4o-mini). */
export async function liveModel(env: NodeJS.ProcessEnv): Promise<LanguageModelV4 | undefined> {
  if (!env.OPENAI_API_KEY) return undefined;
  const { openai } = await import('@ai-sdk/openai');
  return openai(env.BOUNDED_AI_MODEL ?? 'gpt-4o-mini');
}
