/**
 * The parts of the AI SDK this package touches, written as shapes both majors (6 and 7) satisfy. Nothing here is
 * imported from `ai`: the user's own copy decides the version, and one build of this package serves both.
 */

/** A tool as `tool()` returns it; only `execute` and `needsApproval` matter here. */
export interface ToolLike {
  readonly execute?: ((input: never, options: never) => unknown) | undefined;
  readonly needsApproval?: unknown;
}

/** What both majors pass to a tool's `execute` (v6 adds `experimental_context`, v7 `context`). */
export interface ToolExecutionOptionsLike {
  readonly toolCallId: string;
  readonly messages?: readonly unknown[];
  readonly abortSignal?: AbortSignal | undefined;
}

/** The provider-level model both majors call: `LanguageModelV3` (ai@6) or `LanguageModelV4` (ai@7). */
export interface LanguageModelLike {
  readonly specificationVersion: string;
  readonly provider: string;
  readonly modelId: string;
  readonly supportedUrls?: unknown;
  doGenerate(options: never): PromiseLike<unknown>;
  doStream(options: never): PromiseLike<unknown>;
}

/** A language model with Bounded's middleware around it: the same interface, so the SDK takes it as it is. */
export type GovernedModel<M extends LanguageModelLike> = Pick<
  M,
  'specificationVersion' | 'provider' | 'modelId' | 'supportedUrls' | 'doGenerate' | 'doStream'
>;

/** Call options as the middleware sees them; only the abort signal is touched. */
export interface CallOptionsLike {
  readonly abortSignal?: AbortSignal | undefined;
  /** The messages sent; the SDK sends the same array again when it retries a call. */
  readonly prompt?: unknown;
}

/** A model call's result (`LanguageModelV3GenerateResult` / `V4GenerateResult`). */
export interface GenerateResultLike {
  readonly content: readonly unknown[];
  readonly usage: unknown;
}

/** A streaming model call's result: the stream of parts and whatever the provider adds. */
export interface StreamResultLike {
  readonly stream: ReadableStream<unknown>;
}

/** `StopCondition` of both majors. */
export type BoundedStopCondition = (options: { readonly steps: readonly unknown[] }) => boolean | Promise<boolean>;

/** The tool call `toolApproval` receives (ai@7). */
export interface ToolCallLike {
  readonly toolName: string;
  readonly toolCallId: string;
  readonly input: unknown;
}

/** What a `toolApproval` function may answer (ai@7 `ToolApprovalStatus`). */
export type ToolApprovalAnswer =
  | undefined
  | 'not-applicable'
  | 'approved'
  | 'denied'
  | 'user-approval'
  | { readonly type: 'approved'; readonly reason?: string }
  | { readonly type: 'denied'; readonly reason?: string }
  | { readonly type: 'user-approval'; readonly reason?: string };

/** ai@7's generic `toolApproval` function. ai@6 has no such option (it asks each tool's `needsApproval`). */
export type BoundedToolApproval = (options: {
  readonly toolCall: ToolCallLike;
  readonly tools?: unknown;
  readonly toolsContext?: unknown;
  readonly messages?: readonly unknown[];
}) => ToolApprovalAnswer | Promise<ToolApprovalAnswer>;

/**
 * A language-model middleware for `wrapLanguageModel` in both majors (ai@6 requires `specificationVersion: 'v3'`;
 * ai@7 accepts any and calls it with V4 shapes, which have the same fields used here).
 */
export interface BoundedMiddleware {
  readonly specificationVersion: 'v3';
  transformParams<P extends CallOptionsLike>(options: {
    readonly type: 'generate' | 'stream';
    readonly params: P;
  }): Promise<P>;
  wrapGenerate<R extends GenerateResultLike>(options: {
    readonly doGenerate: () => PromiseLike<R>;
    readonly model: { readonly modelId: string; readonly specificationVersion?: string };
  }): Promise<R>;
  wrapStream<R extends StreamResultLike>(options: {
    readonly doStream: () => PromiseLike<R>;
    readonly model: { readonly modelId: string; readonly specificationVersion?: string };
  }): Promise<R>;
}

/** The settings `run.settings()` fills in: what it governs, everything else passes through. */
export interface SettingsLike {
  readonly model?: unknown;
  readonly tools?: object;
  readonly stopWhen?: unknown;
  readonly toolApproval?: unknown;
}

type ElementOf<W> = W extends readonly (infer E)[] ? E : W;

/** `settings` with the model, tools, `stopWhen` and `toolApproval` governed. */
export type GovernedSettings<S extends SettingsLike> = Omit<S, 'model' | 'stopWhen' | 'toolApproval'> &
  (S extends { readonly model: infer M }
    ? { readonly model: M extends LanguageModelLike ? GovernedModel<M> : never }
    : unknown) & {
    readonly stopWhen: S extends { readonly stopWhen: infer W }
      ? Array<BoundedStopCondition | ElementOf<W>>
      : BoundedStopCondition;
    readonly toolApproval: BoundedToolApproval;
  };

/** A streaming call's result (`streamText`, `agent.stream`): `steps` settles when the stream has finished. */
export interface StreamingResultLike {
  readonly steps: PromiseLike<unknown>;
}
