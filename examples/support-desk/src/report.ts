import type { BoundedEvent, Decision, RunUsage } from '@bounded/core';
import type { ScenarioOutcome } from './scenarios.js';

const useColor = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (useColor ? `\u001b[${code}m${text}\u001b[0m` : text);
const bold = paint(1);
const dim = paint(2);
const red = paint(31);
const green = paint(32);
const yellow = paint(33);

const int = new Intl.NumberFormat('en-US');

export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(5)}` : `$${usd.toFixed(4)}`;
}

function usageLine(usage: RunUsage): string {
  const calls = Object.entries(usage.toolCallsByTool)
    .map(([tool, count]) => `${tool} ×${count}`)
    .join(', ');
  return [
    `${usage.toolCalls} tool call${usage.toolCalls === 1 ? '' : 's'}${calls ? ` (${calls})` : ''}`,
    `${int.format(usage.totalTokens)} tokens`,
    formatUsd(usage.costUsd),
    `${usage.steps} steps`,
    `${Math.round(usage.durationMs)} ms`,
  ].join(' · ');
}

function decisionsLine(decisions: Readonly<Record<Decision, number>>): string {
  const parts = Object.entries(decisions)
    .filter(([, count]) => count > 0)
    .map(([decision, count]) => `${decision} ${count}`);
  return parts.length ? parts.join(', ') : 'none';
}

/** What happened, in the words of the events: denials, approvals, replays, kills, aborts. */
export function storyLines(events: readonly BoundedEvent[]): string[] {
  const lines: string[] = [];
  for (const event of events) {
    switch (event.type) {
      case 'run.start':
        if (event.parentRunId) {
          const why = event.metadata.escalation_reason;
          lines.push(`escalated to agent ${event.agent}${why ? ` (${why})` : ''}; its budgets: ${budgetText(event)}`);
        }
        break;
      case 'workflow.step':
        if (event.outcome === 'escalate') lines.push(`workflow step "${event.step}" escalated: ${event.error}`);
        break;
      case 'tool.decision':
        if (event.decision === 'deny') {
          lines.push(`${event.tool} ${red('refused')} before it ran: ${event.reason} (${event.rule}: ${event.detail})`);
        } else if (event.decision === 'dedup') {
          lines.push(
            `${event.tool} ${yellow('deduplicated')}: same arguments as an earlier call, recorded result replayed`,
          );
        } else if (event.decision === 'approved' && event.approvedBy?.startsWith('policy:')) {
          lines.push(`${event.tool} auto-approved by ${event.approvedBy.slice('policy:'.length)}`);
        }
        break;
      case 'approval.requested':
        lines.push(`${event.tool} is a write: ${yellow('held for approval')} (${event.approvalId.slice(0, 8)})`);
        break;
      case 'approval.decided':
        lines.push(
          `${event.tool} ${event.approved ? green('approved') : red('rejected')} by ${event.by} after ${event.waitedMs} ms`,
        );
        break;
      case 'tool.end':
        if (event.outcome === 'aborted') lines.push(`${event.tool} ${red('aborted')} in flight (${event.error})`);
        break;
      case 'kill':
        lines.push(`kill switch thrown by ${event.record.by}: ${event.record.reason}`);
        break;
      default:
        break;
    }
  }
  return lines;
}

function budgetText(event: Extract<BoundedEvent, { type: 'run.start' }>): string {
  return event.budgets.map(b => `${b.kind} ${b.kind === 'usd' ? formatUsd(b.limit) : b.limit}`).join(', ');
}

export function formatOutcome(outcome: ScenarioOutcome, index: number): string {
  const { scenario, result, world } = outcome;
  const out: string[] = [];
  out.push(bold(`${index + 1}. ${scenario.title}`));
  out.push(`   ${dim('ticket   ')} ${scenario.ticket.id}: "${scenario.ticket.text}"`);
  const status =
    result.status === 'ok'
      ? green(`ok`) + `, handled by the ${result.handledBy}`
      : `${red('stopped')}: ${bold(result.stopReason)}, handled by the ${result.handledBy} (${result.detail})`;
  out.push(`   ${dim('result   ')} ${status}`);
  if (result.status === 'ok') out.push(`   ${dim('reply    ')} ${result.output}`);
  out.push(`   ${dim('usage    ')} ${usageLine(result.usage)}`);
  out.push(`   ${dim('decisions')} ${decisionsLine(result.usage.decisions)}`);
  const executed = Object.entries(world.executions).map(([tool, count]) => `${tool} ×${count}`);
  out.push(`   ${dim('executed ')} ${executed.length ? executed.join(', ') : 'no tool bodies ran'}`);
  for (const line of storyLines(outcome.events)) out.push(`   ${dim('·')} ${line}`);
  if (!outcome.asExpected) out.push(`   ${red('UNEXPECTED')}: expected ${JSON.stringify(scenario.expect)}`);
  return out.join('\n');
}

export function formatSummary(outcomes: readonly ScenarioOutcome[]): string {
  const rows = outcomes.map((o, i) => [
    `${i + 1}. ${o.scenario.id}`,
    o.result.status === 'ok' ? 'ok' : o.result.stopReason,
    o.result.handledBy,
    String(o.result.usage.toolCalls),
    int.format(o.result.usage.totalTokens),
    formatUsd(o.result.usage.costUsd),
  ]);
  const header = ['scenario', 'outcome', 'handled by', 'tool calls', 'tokens', 'cost'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map(r => r[c]!.length)));
  const line = (cells: string[]) =>
    `  ${cells.map((cell, c) => (c >= 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ')}`;
  return [bold(line(header)), ...rows.map(line)].join('\n');
}
