import type { Thresholds } from './golden-suite.js';
import { columns, createStyle } from './io.js';
import { formatInt, formatMs, formatNumber, formatShare, formatTally, mean, percentile, tally } from './stats.js';

/** One run, as drift is measured on it. */
export interface RunSample {
  /** `ok`, or the stop reason. */
  readonly outcome: string;
  readonly toolCalls: number;
  readonly tokens: number;
  readonly durationMs: number;
  /** Answer checks passed and made (golden runs only). */
  readonly checksPassed?: number;
  readonly checksTotal?: number;
}

/** A side's runs, summed up. */
export interface SideSummary {
  readonly runs: number;
  readonly stopReasons: Readonly<Record<string, number>>;
  readonly toolCallsPerRun: number;
  readonly tokensPerRun: number;
  readonly p95Ms: number;
  /** Undefined when no checks were made (canaries). */
  readonly checksPassed: number | undefined;
  readonly checksTotal: number | undefined;
}

export function summarize(samples: readonly RunSample[]): SideSummary {
  const total = samples.reduce((sum, s) => sum + (s.checksTotal ?? 0), 0);
  return {
    runs: samples.length,
    stopReasons: tally(samples.map(s => s.outcome)),
    toolCallsPerRun: mean(samples.map(s => s.toolCalls)),
    tokensPerRun: mean(samples.map(s => s.tokens)),
    p95Ms: percentile(
      samples.map(s => s.durationMs),
      0.95,
    ),
    checksPassed: total > 0 ? samples.reduce((sum, s) => sum + (s.checksPassed ?? 0), 0) : undefined,
    checksTotal: total > 0 ? total : undefined,
  };
}

export type DriftMetric = 'stop_reasons' | 'tool_calls_per_run' | 'tokens_per_run' | 'latency_p95' | 'answer_checks';

export interface DriftFinding {
  readonly metric: DriftMetric;
  readonly label: string;
  readonly baseline: string;
  readonly candidate: string;
  /** The change, as the threshold measures it. */
  readonly change: string;
  readonly threshold: string;
  readonly drifted: boolean;
  /** False when the side has no data for it (answer checks of a canary). */
  readonly measured: boolean;
}

export interface DriftReport {
  readonly findings: readonly DriftFinding[];
  readonly drifted: readonly DriftMetric[];
}

/**
 * Compares a candidate with its baseline. Stop reasons drift by the share of runs whose reason moved (total
 * variation distance); tool calls, tokens and p95 latency drift when they grow past their relative threshold (latency
 * also past an absolute floor, so sub-millisecond noise is not drift); answer checks when their pass rate drops.
 */
export function compareSides(baseline: SideSummary, candidate: SideSummary, thresholds: Thresholds): DriftReport {
  const findings: DriftFinding[] = [];
  const moved = distance(baseline.stopReasons, baseline.runs, candidate.stopReasons, candidate.runs);
  findings.push({
    metric: 'stop_reasons',
    label: 'stop reasons',
    baseline: formatTally(baseline.stopReasons),
    candidate: formatTally(candidate.stopReasons),
    change: `${formatShare(moved)} of runs moved`,
    threshold: `${formatShare(thresholds.stopReasons)} of runs`,
    drifted: moved > thresholds.stopReasons + 1e-9,
    measured: baseline.runs > 0 && candidate.runs > 0,
  });
  const growth = (b: number, c: number) => (c - b) / Math.max(b, 1);
  const tools = growth(baseline.toolCallsPerRun, candidate.toolCallsPerRun);
  findings.push({
    metric: 'tool_calls_per_run',
    label: 'tool calls per run',
    baseline: formatNumber(baseline.toolCallsPerRun),
    candidate: formatNumber(candidate.toolCallsPerRun),
    change: signedPercent(tools),
    threshold: `+${formatPercent(thresholds.toolCallsPerRun)}`,
    drifted: tools > thresholds.toolCallsPerRun + 1e-9,
    measured: true,
  });
  const tokens = growth(baseline.tokensPerRun, candidate.tokensPerRun);
  findings.push({
    metric: 'tokens_per_run',
    label: 'tokens per run',
    baseline: formatInt(baseline.tokensPerRun),
    candidate: formatInt(candidate.tokensPerRun),
    change: signedPercent(tokens),
    threshold: `+${formatPercent(thresholds.tokensPerRun)}`,
    drifted: tokens > thresholds.tokensPerRun + 1e-9,
    measured: true,
  });
  const latency = (candidate.p95Ms - baseline.p95Ms) / Math.max(baseline.p95Ms, 1e-3);
  const latencyMs = candidate.p95Ms - baseline.p95Ms;
  findings.push({
    metric: 'latency_p95',
    label: 'latency p95',
    baseline: formatMs(baseline.p95Ms),
    candidate: formatMs(candidate.p95Ms),
    change: `${signedPercent(latency)} (${latencyMs >= 0 ? '+' : '-'}${formatMs(Math.abs(latencyMs))})`,
    threshold: `+${formatPercent(thresholds.latencyP95)} and +${formatMs(thresholds.latencyP95MinMs)}`,
    drifted: latency > thresholds.latencyP95 + 1e-9 && latencyMs > thresholds.latencyP95MinMs,
    measured: true,
  });
  const rate = (s: SideSummary) => (s.checksTotal ? (s.checksPassed ?? 0) / s.checksTotal : undefined);
  const b = rate(baseline);
  const c = rate(candidate);
  const measured = b !== undefined && c !== undefined;
  const drop = measured ? b - c : 0;
  findings.push({
    metric: 'answer_checks',
    label: 'answer checks',
    baseline: b === undefined ? 'n/a' : `${baseline.checksPassed}/${baseline.checksTotal} (${formatShare(b)})`,
    candidate: c === undefined ? 'n/a' : `${candidate.checksPassed}/${candidate.checksTotal} (${formatShare(c)})`,
    change: measured ? `${drop > 0 ? '-' : '+'}${(Math.abs(drop) * 100).toFixed(1)} points` : 'n/a',
    threshold: `-${Number((thresholds.answerChecks * 100).toFixed(1))} points`,
    drifted: measured && drop > thresholds.answerChecks + 1e-9,
    measured,
  });
  return { findings, drifted: findings.filter(f => f.drifted).map(f => f.metric) };
}

/** The findings as a table: metric, baseline, candidate, change, verdict. */
export function formatFindings(report: DriftReport, color = false): string[] {
  const style = createStyle(color);
  const rows = [
    ['', 'baseline', 'candidate', 'change', ''],
    ...report.findings.map(f => [
      f.label,
      f.baseline,
      f.candidate,
      f.change,
      !f.measured ? 'not measured' : f.drifted ? `DRIFT (past ${f.threshold})` : `ok (within ${f.threshold})`,
    ]),
  ];
  return columns(rows, {
    style: (column, cell) =>
      column === 4 ? (cell.startsWith('DRIFT') ? style.red(style.bold(cell)) : style.green(cell)) : cell,
  });
}

/** Total variation distance between two distributions given as counts. */
function distance(
  a: Readonly<Record<string, number>>,
  na: number,
  b: Readonly<Record<string, number>>,
  nb: number,
): number {
  if (na === 0 || nb === 0) return 0;
  let sum = 0;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
    sum += Math.abs((a[key] ?? 0) / na - (b[key] ?? 0) / nb);
  return sum / 2;
}

function signedPercent(share: number): string {
  if (!Number.isFinite(share)) return 'n/a';
  return `${share >= 0 ? '+' : '-'}${formatPercent(Math.abs(share))}`;
}

function formatPercent(share: number): string {
  return `${Number((share * 100).toFixed(1))}%`;
}
