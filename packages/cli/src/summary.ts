import type { Budgets, Policy } from '@bounded/core';

/**
 * One line that says what a policy does, e.g.
 * `mode workflow (agent for exceptions), budgets steps 25 · tool calls 12 · 60s, 3 allowed tools, writes need approval, enforce`.
 */
export function summarizePolicy(policy: Policy): string {
  return [
    describeMode(policy),
    describeBudgets(policy.budgets),
    describeTools(policy),
    describeWrites(policy),
    policy.enforcement,
  ].join(', ');
}

function describeMode(policy: Policy): string {
  return `mode ${policy.mode.default}${policy.mode.agent_for_exceptions ? ' (agent for exceptions)' : ''}`;
}

/** `budgets steps 25 · tool calls 12 · 60s`, or `no budgets`. */
export function describeBudgets(budgets: Budgets): string {
  const parts: string[] = [];
  if (budgets.max_steps !== undefined) parts.push(`steps ${budgets.max_steps}`);
  if (budgets.max_tool_calls !== undefined) parts.push(`tool calls ${budgets.max_tool_calls}`);
  if (budgets.max_seconds !== undefined) parts.push(`${budgets.max_seconds}s`);
  if (budgets.max_tokens !== undefined) parts.push(`tokens ${budgets.max_tokens}`);
  if (budgets.max_input_tokens !== undefined) parts.push(`input tokens ${budgets.max_input_tokens}`);
  if (budgets.max_output_tokens !== undefined) parts.push(`output tokens ${budgets.max_output_tokens}`);
  if (budgets.max_usd !== undefined) parts.push(formatUsd(budgets.max_usd));
  const perTool = Object.keys(budgets.per_tool ?? {}).length;
  if (perTool > 0) parts.push(plural(perTool, 'per-tool limit'));
  return parts.length > 0 ? `budgets ${parts.join(' · ')}` : 'no budgets';
}

function describeTools(policy: Policy): string {
  const { allow, deny, read_only } = policy.tools;
  const parts = [allow.length > 0 ? plural(allow.length, 'allowed tool') : 'all tools allowed'];
  if (deny.length > 0) parts.push(`${deny.length} denied`);
  if (read_only) parts.push('read-only');
  return parts.join(', ');
}

function describeWrites(policy: Policy): string {
  const { tools, require_approval, auto_approve } = policy.writes;
  const details: string[] = [];
  if (tools.length > 0) details.push(plural(tools.length, 'write tool'));
  if (require_approval && auto_approve.length > 0) details.push(plural(auto_approve.length, 'auto-approve rule'));
  const head = require_approval ? 'writes need approval' : 'writes run without approval';
  return details.length > 0 ? `${head} (${details.join(', ')})` : head;
}

/** `$0.50`, `$0.0015`, `$12.00`. */
export function formatUsd(usd: number): string {
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: 2,
    maximumFractionDigits: 6,
  }).format(usd);
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
