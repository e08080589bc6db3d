import { UsageError } from './errors.js';
import type { Budgets } from './policy/types.js';

const SCALAR_KEYS = [
  'max_steps',
  'max_tool_calls',
  'max_seconds',
  'max_tokens',
  'max_input_tokens',
  'max_output_tokens',
  'max_usd',
] as const;

/**
 * The stricter of several budget sets, key by key: a run's own budgets and an escalation agent's can only tighten
 * what the policy allows, never loosen it.
 */
export function stricterBudgets(...sets: ReadonlyArray<Budgets | undefined>): Budgets {
  const out: Record<string, unknown> = {};
  for (const key of SCALAR_KEYS) {
    let value: number | undefined;
    for (const set of sets) {
      const candidate = set?.[key];
      if (candidate !== undefined && (value === undefined || candidate < value)) value = candidate;
    }
    if (value !== undefined) out[key] = value;
  }
  let perTool: Record<string, number> | undefined;
  for (const set of sets) {
    for (const [tool, limit] of Object.entries(set?.per_tool ?? {})) {
      perTool ??= {};
      const current = perTool[tool];
      perTool[tool] = current === undefined ? limit : Math.min(current, limit);
    }
  }
  if (perTool) out.per_tool = perTool;
  return out as Budgets;
}

/** Throws a clear error for a budget option that could never have come from a valid policy. */
export function assertBudgets(budgets: Budgets | undefined, where: string): void {
  if (!budgets) return;
  for (const key of SCALAR_KEYS) {
    const value = budgets[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new UsageError(`${where}.${key} must be a number >= 0, got ${String(value)}`);
    }
  }
}
