import type { BoundedEvent } from '@bounded/core';
import type { Outcome } from './scenarios.js';

const useColor = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (useColor ? `\u001b[${code}m${text}\u001b[0m` : text);
const dim = paint(2);
const red = paint(31);
const green = paint(32);
const yellow = paint(33);
const int = new Intl.NumberFormat('en-US');

export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(5)}` : `$${usd.toFixed(4)}`;
}

export function endedWith(outcome: Outcome): string {
  return outcome.bounded.status === 'ok' ? 'ok' : outcome.bounded.stopReason;
}

/** What the governor did, from its events: refusals, approvals, the stop. */
export function story(events: readonly BoundedEvent[]): string[] {
  const lines: string[] = [];
  for (const event of events) {
    if (event.type === 'tool.decision' && event.decision === 'deny') {
      lines.push(`${event.tool} ${red('refused')} before it ran: ${event.reason} (${event.detail})`);
    } else if (event.type === 'approval.requested') {
      lines.push(`${event.tool} is a write: ${yellow('held for approval')}`);
    } else if (event.type === 'approval.decided') {
      lines.push(
        `${event.tool} ${event.approved ? green('approved') : red('rejected')} by ${event.by} after ${event.waitedMs} ms`,
      );
    } else if (event.type === 'run.stop') {
      lines.push(`run stopped: ${event.reason} (${event.rule}: ${event.detail})`);
    }
  }
  return lines;
}

export function formatTable(outcomes: readonly Outcome[]): string {
  const rows = outcomes.map((o, i) => [
    `${i + 1}. ${o.scenario.id}`,
    endedWith(o),
    o.scenario.entry,
    String(o.bounded.usage.toolCalls),
    int.format(o.bounded.usage.totalTokens),
    formatUsd(o.bounded.usage.costUsd),
  ]);
  const header = ['scenario', 'stop reason', 'through', 'tool calls', 'tokens', 'cost'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map(r => r[c]!.length)));
  const right = new Set([3, 4, 5]);
  const line = (cells: readonly string[]) =>
    `  ${cells.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ')}`;
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatOutcome(outcome: Outcome, index: number): string {
  const executed = Object.entries(outcome.world.executions)
    .map(([tool, n]) => `${tool} ×${n}`)
    .join(', ');
  const lines = [
    `${index + 1}. ${outcome.scenario.title} ${dim(`(${outcome.scenario.entry})`)}: ${endedWith(outcome) === 'ok' ? green('ok') : red(endedWith(outcome))}`,
    ...story(outcome.events).map(line => `   ${line}`),
    `   tool bodies that ran: ${executed || 'none'}`,
  ];
  if (outcome.text) lines.push(`   model: ${dim(outcome.text)}`);
  return lines.join('\n');
}
