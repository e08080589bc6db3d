/** The p-th percentile (0..1) by nearest rank; 0 for no values. Sorts a copy. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return 0;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** Counts of each value, most frequent first. */
export function tally(values: Iterable<string>): Record<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const DEC = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** `12,345` */
export function formatInt(value: number): string {
  return INT.format(value);
}

/** `2.5`, `12` */
export function formatNumber(value: number): string {
  return DEC.format(value);
}

/** `60.0%` from 0.6 */
export function formatShare(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** `1.2 s`, `34 ms`, `0.8 ms` */
export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

/** `$0.0260`, `$0.00041`, `$0` */
export function formatCost(usd: number): string {
  if (usd === 0) return '$0';
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  if (usd >= 0.01) return `$${usd.toFixed(4)}`;
  return `$${usd.toPrecision(2)}`;
}

/** `ok 600, max_tool_calls 12` */
export function formatTally(counts: Readonly<Record<string, number>>, limit = 3): string {
  const entries = Object.entries(counts);
  const shown = entries.slice(0, limit).map(([key, count]) => `${key} ${formatInt(count)}`);
  if (entries.length > limit) shown.push(`+${entries.length - limit} more`);
  return shown.join(', ');
}

/** A tool path for people: `search.read → kb.read`, repeats folded (`search.read ×12`), or `(no tool calls)`. */
export function formatPath(path: readonly string[]): string {
  if (path.length === 0) return '(no tool calls)';
  const parts: string[] = [];
  for (let i = 0; i < path.length; ) {
    let j = i + 1;
    while (j < path.length && path[j] === path[i]) j++;
    parts.push(j - i > 1 ? `${path[i]} ×${j - i}` : path[i]!);
    i = j;
  }
  return parts.join(' → ');
}
