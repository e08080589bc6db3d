import { randomUUID } from 'node:crypto';
import { UsageError } from './errors.js';
import type { Governor, Run, RunOptions, RunResult, WorkflowRunOptions } from './types.js';
import type { WorkflowDefinition, WorkflowResult } from './workflow.js';

/** Which side of a canary a run went to. Also `metadata.canary` on the run (and `bounded.metadata.canary` on its span). */
export type CanaryVariant = 'baseline' | 'candidate';

export interface CanaryOptions {
  /** The configuration in production: its governor (policy, stores, observers). */
  readonly baseline: Governor;
  /** The configuration on trial. It may be the same governor when only the agent code differs. */
  readonly candidate: Governor;
  /** Share of runs routed to the candidate, 0 to 100 (fractions allowed, e.g. 2.5). */
  readonly percent: number;
  /** Mixed into the hash so that two canaries do not route the same keys alike. Default `''`. */
  readonly salt?: string;
}

/** Options of `canary.run()`: a run's options, plus the key that decides its side. */
export interface CanaryRunOptions extends RunOptions {
  /**
   * Routes the run: the same key always goes to the same side (a customer, a ticket, a session). Default: the run
   * id (one is made when not given), so each run is routed on its own.
   */
  readonly key?: string;
}

export interface CanaryWorkflowOptions extends WorkflowRunOptions {
  readonly key?: string;
}

export type CanaryRunResult<T> = RunResult<T> & { readonly variant: CanaryVariant };
export type CanaryWorkflowResult<O> = WorkflowResult<O> & { readonly variant: CanaryVariant };

export interface CanaryStats {
  readonly baseline: number;
  readonly candidate: number;
}

/** Routes a share of live runs to a candidate configuration; every run is tagged with the side it ran on. */
export interface Canary {
  readonly baseline: Governor;
  readonly candidate: Governor;
  readonly percent: number;
  /** The side a key goes to: deterministic, the same in every process. */
  route(key: string): CanaryVariant;
  /** `governor.run()` on the routed side; `fn` is told the side, to pick the agent code under trial. */
  run<T>(
    options: CanaryRunOptions,
    fn: (run: Run, variant: CanaryVariant) => T | PromiseLike<T>,
  ): Promise<CanaryRunResult<Awaited<T>>>;
  /** `governor.workflow()` on the routed side; `definition` may be one workflow, or one per side. */
  workflow<I, O>(
    definition: WorkflowDefinition<I, O> | { readonly [V in CanaryVariant]: WorkflowDefinition<I, O> },
    input: I,
    options?: CanaryWorkflowOptions,
  ): Promise<CanaryWorkflowResult<Awaited<O>>>;
  /** Runs routed to each side so far by this canary. */
  stats(): CanaryStats;
}

/**
 * A canary: `percent` of runs go to the candidate governor (and agent), the rest to the baseline. Routing hashes a
 * key (the run id unless you pass one), so it needs no shared state and a key stays on its side. Each run carries
 * `metadata.canary`, which `@bounded/otel` puts on spans (`bounded.metadata.canary`) and on run metrics
 * (`bounded.canary`), so `bounded canary report` can compare the two sides.
 *
 * ```ts
 * const canary = createCanary({ baseline: governor, candidate: createGovernor({ policy: next }), percent: 5 });
 * const result = await canary.run({ agent: 'support', key: ticket.id }, (run, variant) =>
 *   variant === 'candidate' ? newAgent(run, ticket) : agent(run, ticket),
 * );
 * ```
 */
export function createCanary(options: CanaryOptions): Canary {
  if (!options || typeof options !== 'object') throw new UsageError('createCanary() needs an options object');
  const { baseline, candidate, percent } = options;
  if (!isGovernor(baseline)) throw new UsageError('createCanary(): `baseline` must be a governor (createGovernor())');
  if (!isGovernor(candidate)) throw new UsageError('createCanary(): `candidate` must be a governor (createGovernor())');
  if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100) {
    throw new UsageError(`createCanary(): \`percent\` must be a number from 0 to 100, got ${String(percent)}`);
  }
  const salt = options.salt ?? '';
  // Basis points: 2.5% routes hashes below 250 of 10,000.
  const threshold = Math.round(percent * 100);
  const counts = { baseline: 0, candidate: 0 };

  const route = (key: string): CanaryVariant => (canaryBucket(salt + key) < threshold ? 'candidate' : 'baseline');

  const side = (key: string): { variant: CanaryVariant; governor: Governor } => {
    const variant = route(key);
    counts[variant]++;
    return { variant, governor: variant === 'candidate' ? candidate : baseline };
  };

  return {
    baseline,
    candidate,
    percent,
    route,
    async run<T>(runOptions: CanaryRunOptions, fn: (run: Run, variant: CanaryVariant) => T | PromiseLike<T>) {
      if (typeof fn !== 'function') throw new UsageError('canary.run(): the second argument must be a function');
      const { key, ...rest } = runOptions;
      const runId = rest.runId ?? randomUUID();
      const { variant, governor } = side(key ?? runId);
      const result = await governor.run({ ...rest, runId, metadata: { ...rest.metadata, canary: variant } }, run =>
        fn(run, variant),
      );
      return { ...result, variant };
    },
    async workflow<I, O>(
      definition: WorkflowDefinition<I, O> | { readonly [V in CanaryVariant]: WorkflowDefinition<I, O> },
      input: I,
      workflowOptions: CanaryWorkflowOptions = {},
    ) {
      const { key, ...rest } = workflowOptions;
      const runId = rest.runId ?? randomUUID();
      const { variant, governor } = side(key ?? runId);
      const chosen = 'run' in definition ? definition : definition[variant];
      const result = await governor.workflow(chosen, input, {
        ...rest,
        runId,
        metadata: { ...rest.metadata, canary: variant },
      });
      return { ...result, variant };
    },
    stats: () => ({ ...counts }),
  };
}

/** The canary bucket of a key, 0 to 9,999 (FNV-1a, 32 bits): stable across processes and versions. */
export function canaryBucket(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % 10_000;
}

function isGovernor(value: unknown): value is Governor {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Governor).run === 'function' &&
    typeof (value as Governor).workflow === 'function'
  );
}
