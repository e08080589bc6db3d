import type { Outcome } from './scenarios.js';

export function formatOutcome(outcome: Outcome, index: number): string {
  const { scenario, bounded } = outcome;
  const stop = bounded?.status === 'stopped' ? bounded.stopReason : 'ok';
  const ran = Object.entries(outcome.ran)
    .filter(([, count]) => count > 0)
    .map(([tool, count]) => `${tool} ×${count}`);
  const lines = [
    `${index + 1}. ${scenario.id}: ${scenario.title}`,
    `   ticket:      ${scenario.ticket}`,
    ...outcome.notes.map(note => `   ${note}`),
    `   stop reason: ${stop}${outcome.asExpected ? '' : `   (expected ${scenario.expected})`}`,
  ];
  if (bounded?.detail) lines.push(`   detail:      ${bounded.detail}`);
  lines.push(`   tools run:   ${ran.length ? ran.join(', ') : 'none'}`);
  lines.push(`   last message: ${outcome.answer.replace(/\s+/g, ' ').slice(0, 110)}`);
  return lines.join('\n');
}

export function formatSummary(outcomes: readonly Outcome[]): string {
  const rows = outcomes.map((o, index) => {
    const usage = o.results.map(r => r.usage);
    const sum = (pick: (u: (typeof usage)[number]) => number) => usage.reduce((total, u) => total + pick(u), 0);
    const stop = o.bounded?.status === 'stopped' ? (o.bounded.stopReason ?? '') : 'ok';
    const toolsRun = Object.values(o.ran).reduce((sum, count) => sum + count, 0);
    return [
      `${index + 1}. ${o.scenario.id}`,
      stop,
      String(o.results.length),
      String(sum(u => u.steps)),
      String(toolsRun),
      sum(u => u.totalTokens).toLocaleString('en-US'),
      `$${sum(u => u.costUsd).toFixed(5)}`,
    ];
  });
  const header = ['scenario', 'stop reason', 'runs', 'steps', 'tools run', 'tokens', 'cost'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].map(l => `  ${l}`).join('\n');
}
