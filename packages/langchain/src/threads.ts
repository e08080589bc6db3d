import type { Budgets, RunUsage, StopReason } from '@bounded/core';
import type { ThreadBudgets, ThreadUsage } from './types.js';

export const NO_THREAD_USAGE: ThreadUsage = {
  runs: 0,
  steps: 0,
  toolCalls: 0,
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
};

type Key = keyof ThreadBudgets;

function used(usage: ThreadUsage, key: Key): number {
  switch (key) {
    case 'max_steps':
      return usage.steps;
    case 'max_tool_calls':
      return usage.toolCalls;
    case 'max_tokens':
      return usage.inputTokens + usage.outputTokens;
    case 'max_input_tokens':
      return usage.inputTokens;
    case 'max_output_tokens':
      return usage.outputTokens;
    case 'max_usd':
      return usage.costUsd;
  }
}

const KEYS: readonly Key[] = [
  'max_steps',
  'max_tool_calls',
  'max_tokens',
  'max_input_tokens',
  'max_output_tokens',
  'max_usd',
];

/** What the thread has left of each budget: the run's budgets for this turn. */
export function remainingBudgets(budgets: ThreadBudgets, usage: ThreadUsage): Budgets {
  const out: Record<string, number> = {};
  for (const key of KEYS) {
    const limit = budgets[key];
    if (limit !== undefined) out[key] = Math.max(0, limit - used(usage, key));
  }
  return out as Budgets;
}

export function addRun(usage: ThreadUsage, run: RunUsage): ThreadUsage {
  return {
    runs: usage.runs + 1,
    steps: usage.steps + run.steps,
    toolCalls: usage.toolCalls + run.toolCalls,
    inputTokens: usage.inputTokens + run.inputTokens,
    outputTokens: usage.outputTokens + run.outputTokens,
    costUsd: Math.round((usage.costUsd + run.costUsd) * 1e6) / 1e6,
  };
}

/** Two threads' worth of usage, summed (a thread's recorded totals and its turns not recorded in a message). */
export function addUsage(a: ThreadUsage, b: ThreadUsage): ThreadUsage {
  return {
    runs: a.runs + b.runs,
    steps: a.steps + b.steps,
    toolCalls: a.toolCalls + b.toolCalls,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    costUsd: Math.round((a.costUsd + b.costUsd) * 1e6) / 1e6,
  };
}

const REASON_KEY: Partial<Record<StopReason, Key>> = {
  max_steps: 'max_steps',
  max_tool_calls: 'max_tool_calls',
  max_tokens: 'max_tokens',
  max_input_tokens: 'max_input_tokens',
  max_output_tokens: 'max_output_tokens',
  max_usd: 'max_usd',
};

/**
 * Core words a stop against the run's budget ("call 1 exceeds max_tool_calls 0"); when that budget was what the
 * thread had left, say so.
 */
export function threadDetail(reason: StopReason, detail: string, budgets: ThreadBudgets, before: ThreadUsage): string {
  const key = REASON_KEY[reason];
  if (!key || budgets[key] === undefined) return detail;
  return `${detail}; the thread's ${key} is ${budgets[key]} and earlier turns used ${used(before, key)}`;
}
