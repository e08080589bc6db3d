import { type CompiledAutoApprove, compileAutoApprove } from './approvals.js';
import { compileGlob, compileGlobList, isGlob } from './glob.js';
import type { ModelPrice, Policy } from './policy/types.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import type { OnCrash } from './stores/types.js';

/** What code knows about a tool that a policy file cannot say (its argument schema), or overrides. */
export interface ToolDefinition {
  /** Arguments are validated against this before the call (`invalid_args:<tool>`); any Standard Schema works. */
  readonly schema?: StandardSchemaV1;
  /** Marks the tool as a write (in addition to `writes.tools` in the policy). */
  readonly write?: boolean;
  /** Deduplicate calls with the same arguments (in addition to `idempotency.tools`). */
  readonly idempotent?: boolean;
  /** USD per call; overrides `pricing.tools`. */
  readonly costUsd?: number;
  /** Allow arguments and results in telemetry (redacted); overrides `monitoring.record_content`. */
  readonly recordContent?: boolean;
  /**
   * With a shared store, when the process running a deduplicated call dies before recording its result: `block`
   * (the default: at most once) refuses later calls with that key; `retry` runs it again (at least once).
   * Overrides `idempotency.retry_on_crash`.
   */
  readonly onCrash?: OnCrash;
}

export type ToolAccess =
  | { readonly allowed: true; readonly rule: string }
  | { readonly allowed: false; readonly rule: string; readonly detail: string };

/** Everything the policy says about one tool name, resolved once and cached. */
export interface ToolRule {
  /** Dense number per tool name within a governor, so runs can count in arrays. */
  readonly index: number;
  readonly name: string;
  readonly access: ToolAccess;
  readonly write: boolean;
  readonly writeRule: string | undefined;
  readonly idempotent: boolean;
  readonly perToolLimit: number | undefined;
  readonly perToolRule: string | undefined;
  readonly costUsd: number;
  readonly recordContent: boolean;
  readonly schema: StandardSchemaV1 | undefined;
  readonly onCrash: OnCrash;
}

/** Resolves policy + code definitions into per-tool rules. Glob matching happens once per tool name. */
export class ToolRules {
  readonly #policy: Policy;
  readonly #definitions: Readonly<Record<string, ToolDefinition>>;
  readonly #cache = new Map<string, ToolRule>();
  readonly #allow;
  readonly #deny;
  readonly #writes;
  readonly #idempotent;
  readonly #recordContent;
  readonly #retryOnCrash;
  readonly #perTool: Array<{ pattern: string; matches: (name: string) => boolean; limit: number }>;
  readonly #toolPrices: Array<{ pattern: string; matches: (name: string) => boolean; usd: number }>;
  readonly autoApprove: CompiledAutoApprove;

  constructor(
    policy: Policy,
    definitions: Readonly<Record<string, ToolDefinition>> = {},
    toolPrices: Readonly<Record<string, number>> = {},
  ) {
    this.#policy = policy;
    this.#definitions = definitions;
    this.#allow = compileGlobList(policy.tools.allow);
    this.#deny = compileGlobList(policy.tools.deny);
    this.#writes = compileGlobList(policy.writes.tools);
    this.#idempotent = policy.idempotency.tools ? compileGlobList(policy.idempotency.tools) : undefined;
    this.#recordContent = compileGlobList(policy.monitoring.record_content);
    this.#retryOnCrash = compileGlobList(policy.idempotency.retry_on_crash);
    this.#perTool = byPrecedence(Object.entries(policy.budgets.per_tool ?? {})).map(([pattern, limit]) => ({
      pattern,
      matches: compileGlob(pattern),
      limit,
    }));
    this.#toolPrices = byPrecedence(Object.entries({ ...policy.pricing.tools, ...toolPrices })).map(
      ([pattern, usd]) => ({
        pattern,
        matches: compileGlob(pattern),
        usd,
      }),
    );
    this.autoApprove = compileAutoApprove(policy.writes.auto_approve);
  }

  get(name: string): ToolRule {
    let rule = this.#cache.get(name);
    if (!rule) {
      rule = this.#resolve(name);
      this.#cache.set(name, rule);
    }
    return rule;
  }

  #resolve(name: string): ToolRule {
    const policy = this.#policy;
    const definition = this.#definitions[name];
    const writeMatch = this.#writes.match(name);
    const write = definition?.write ?? writeMatch !== undefined;
    const writeRule =
      definition?.write !== undefined
        ? 'tool definition'
        : writeMatch
          ? `writes.tools[${writeMatch.index}] "${writeMatch.pattern}"`
          : undefined;
    const idempotent =
      policy.idempotency.enabled &&
      (definition?.idempotent ?? (this.#idempotent ? this.#idempotent.match(name) !== undefined : write));
    const perTool = this.#perTool.find(entry => entry.matches(name));
    const price = this.#toolPrices.find(entry => entry.matches(name));
    return {
      index: this.#cache.size,
      name,
      access: this.#access(name, write),
      write,
      writeRule,
      idempotent,
      perToolLimit: perTool?.limit,
      perToolRule: perTool ? `budgets.per_tool["${perTool.pattern}"]` : undefined,
      costUsd: definition?.costUsd ?? price?.usd ?? 0,
      recordContent: definition?.recordContent ?? this.#recordContent.match(name) !== undefined,
      schema: definition?.schema,
      onCrash: definition?.onCrash ?? (this.#retryOnCrash.match(name) !== undefined ? 'retry' : 'block'),
    };
  }

  #access(name: string, write: boolean): ToolAccess {
    const denied = this.#deny.match(name);
    if (denied) {
      const rule = `tools.deny[${denied.index}] "${denied.pattern}"`;
      return { allowed: false, rule, detail: `"${name}" matches ${rule}` };
    }
    if (write && this.#policy.tools.read_only) {
      return { allowed: false, rule: 'tools.read_only', detail: `"${name}" is a write and the policy is read-only` };
    }
    if (this.#allow.patterns.length === 0) return { allowed: true, rule: 'no allow list' };
    const allowed = this.#allow.match(name);
    if (allowed) return { allowed: true, rule: `tools.allow[${allowed.index}] "${allowed.pattern}"` };
    return {
      allowed: false,
      rule: 'tools.allow',
      detail: `"${name}" is not on the allow list (${this.#allow.patterns.join(', ')})`,
    };
  }
}

/** Exact names first, then globs in the order written: the most specific entry wins. */
/**
 * Per-tool call limits given for one run (its own `budgets.per_tool`, an escalation agent's): on top of the policy's,
 * which each ToolRule carries. Resolved once per tool name.
 */
export class PerToolLimits {
  readonly #entries: Array<{ pattern: string; matches: (name: string) => boolean; limit: number }>;
  readonly #byRule: Array<{ limit: number; rule: string } | null> = [];

  constructor(perTool: Readonly<Record<string, number>>) {
    this.#entries = byPrecedence(Object.entries(perTool)).map(([pattern, limit]) => ({
      pattern,
      matches: compileGlob(pattern),
      limit,
    }));
  }

  /** The run's own limit for this tool, when it has one stricter than the policy's. */
  for(rule: ToolRule): { limit: number; rule: string } | undefined {
    let found = this.#byRule[rule.index];
    if (found === undefined) {
      const entry = this.#entries.find(candidate => candidate.matches(rule.name));
      found =
        entry && (rule.perToolLimit === undefined || entry.limit < rule.perToolLimit)
          ? { limit: entry.limit, rule: `run budgets.per_tool["${entry.pattern}"]` }
          : null;
      this.#byRule[rule.index] = found;
    }
    return found ?? undefined;
  }
}

function byPrecedence<T>(entries: Array<[string, T]>): Array<[string, T]> {
  return [...entries.filter(([key]) => !isGlob(key)), ...entries.filter(([key]) => isGlob(key))];
}

/** Prices per model id (exact or glob), for turning token counts into USD. */
export class PriceTable {
  readonly #exact: ReadonlyMap<string, ModelPrice>;
  readonly #globs: Array<{ matches: (name: string) => boolean; price: ModelPrice }>;

  constructor(models: Readonly<Record<string, ModelPrice>>) {
    const entries = byPrecedence(Object.entries(models));
    this.#exact = new Map(entries.filter(([key]) => !isGlob(key)));
    this.#globs = entries.filter(([key]) => isGlob(key)).map(([key, price]) => ({ matches: compileGlob(key), price }));
  }

  find(model: string): ModelPrice | undefined {
    return this.#exact.get(model) ?? this.#globs.find(entry => entry.matches(model))?.price;
  }

  /** USD for a model call, or undefined when the model has no price. */
  cost(model: string, inputTokens: number, outputTokens: number, cachedInputTokens = 0): number | undefined {
    const price = this.find(model);
    if (!price) return undefined;
    const cachedRate = price.cached_input_per_1m ?? price.input_per_1m;
    const uncached = Math.max(0, inputTokens - cachedInputTokens);
    return (uncached * price.input_per_1m + cachedInputTokens * cachedRate + outputTokens * price.output_per_1m) / 1e6;
  }
}
