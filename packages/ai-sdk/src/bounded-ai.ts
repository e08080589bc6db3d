import { type Governor, type RunOptions, type RunStopped, UsageError } from '@bounded/core';
import { GovernedRun, type Shared } from './governed-run.js';
import type { StreamingResultLike } from './sdk-types.js';
import type { AIResult, AIRun, AIStream, BoundedAI, BoundedAIOptions } from './types.js';

/**
 * Puts a governor under the Vercel AI SDK (ai@6 and ai@7): each run hands you governed tools, a `stopWhen`, a
 * language-model middleware and (ai@7) a `toolApproval` to pass to `generateText`, `streamText` or a
 * `ToolLoopAgent`, and returns the stop reason the SDK does not report beside the SDK's result.
 *
 * ```ts
 * const ai = boundedAI(governor);
 * const { result, bounded } = await ai.run({ agent: 'leads' }, run =>
 *   generateText({ ...run.settings({ model, tools, stopWhen: stepCountIs(20) }), prompt }),
 * );
 * if (bounded.status === 'stopped') console.warn(bounded.stopReason, bounded.detail);
 * ```
 */
export function boundedAI(governor: Governor, options: BoundedAIOptions = {}): BoundedAI {
  if (!governor || typeof governor.start !== 'function') {
    throw new UsageError('boundedAI(): pass a governor (createGovernor({ policy }) from @bounded/core)');
  }
  const approvals = options.approvals ?? 'bounded';
  if (approvals !== 'bounded' && approvals !== 'sdk') {
    throw new UsageError(`boundedAI(): approvals must be 'bounded' or 'sdk', got ${JSON.stringify(approvals)}`);
  }
  const shared: Shared = { governor, toolNames: options.toolNames ?? {}, approvals, verdicts: new Map() };

  const start = async (runOptions: RunOptions): Promise<GovernedRun> =>
    new GovernedRun(await governor.start(runOptions), shared);

  return {
    start: start as (runOptions: RunOptions) => Promise<AIRun>,

    async run<T>(runOptions: RunOptions, call: (run: AIRun) => T | PromiseLike<T>): Promise<AIResult<Awaited<T>>> {
      assertCall(call, 'run');
      const run = await start(runOptions);
      // Refused at the start (kill switch, runs in flight): the SDK is never called.
      if (run.stopped) return { result: undefined, bounded: (await run.end()) as RunStopped };
      let result: Awaited<T>;
      try {
        // The kill switch or the deadline returns at once, even while the SDK waits to retry a failed call.
        const settled = await run.untilCutShort(Promise.resolve(run.within(() => call(run))));
        if (!settled) return { result: undefined, bounded: (await run.end()) as RunStopped };
        result = await settled.value;
      } catch (error) {
        return { result: undefined, bounded: (await run.end(run.failure(error))) as RunStopped };
      }
      if (isStreamResult(result)) {
        // streamText's result would end the run before its stream was read, and its failures would go unhandled.
        Promise.resolve(result.steps).catch(() => undefined);
        await run.end({ error: new UsageError('ai.run() was given a stream result; use ai.stream()') });
        throw new UsageError('ai.run(): the call returned what streamText() returns; use ai.stream() for streams');
      }
      return { result, bounded: await run.end({ output: result }) };
    },

    async stream<T extends StreamingResultLike>(
      runOptions: RunOptions,
      call: (run: AIRun) => T | PromiseLike<T>,
    ): Promise<AIStream<Awaited<T>>> {
      assertCall(call, 'stream');
      const run = await start(runOptions);
      if (run.stopped) return { result: undefined, bounded: run.end() as Promise<RunStopped> };
      let result: Awaited<T>;
      try {
        result = (await run.within(() => call(run))) as Awaited<T>;
      } catch (error) {
        return { result: undefined, bounded: run.end({ error }) as Promise<RunStopped> };
      }
      const steps = (result as StreamingResultLike | undefined)?.steps;
      if (!steps || typeof steps.then !== 'function') {
        await run.end({ error: new UsageError('ai.stream(): the call must return a stream result (streamText)') });
        throw new UsageError(
          'ai.stream(): the call must return what streamText() or agent.stream() returns; use ai.run() otherwise',
        );
      }
      // `steps` settles once the stream has finished (the SDK reads it to the end even if nobody else does); the
      // kill switch or the deadline ends the run at once.
      const bounded = run.untilCutShort(steps).then(
        settled => run.end<Awaited<T>>(settled ? (run.failure() ?? { output: result }) : undefined),
        (error: unknown) => run.end<Awaited<T>>(run.failure(error)),
      );
      return { result, bounded };
    },
  };
}

function isStreamResult(value: unknown): value is StreamingResultLike {
  const steps = (value as { steps?: unknown } | null | undefined)?.steps;
  return (
    typeof (value as { consumeStream?: unknown }).consumeStream === 'function' &&
    typeof (steps as { then?: unknown } | undefined)?.then === 'function'
  );
}

function assertCall(call: unknown, method: string): void {
  if (typeof call !== 'function') {
    throw new UsageError(`ai.${method}(): the second argument must be a function that calls the SDK with the run`);
  }
}
