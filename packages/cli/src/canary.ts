import { didYouMean } from '@bounded/core';
import { CliUsageError, parseCommandArgs } from './args.js';
import { compareSides, formatFindings, type RunSample, type SideSummary, summarize } from './drift.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { DEFAULT_THRESHOLDS, readThresholds, type Thresholds } from './golden-suite.js';
import { type CliIo, createStyle, useColor, writeJson, writeLines } from './io.js';
import { traceInputFailure } from './mine.js';
import { formatIssues, jsonIssue } from './report.js';
import { formatInt } from './stats.js';
import { collectRuns, describeSource, TRACE_SOURCE_HELP, TRACE_SOURCE_OPTIONS, traceSource } from './trace-source.js';
import { TraceInputError, toolPath } from './traces.js';
import { IssueList, isRecord, readYamlFile } from './yaml-file.js';

export const CANARY_OPTIONS = {
  ...TRACE_SOURCE_OPTIONS,
  prometheus: { type: 'string' },
  window: { type: 'string' },
  agent: { type: 'string' },
  thresholds: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const CANARY_HELP = `Compare a canary's candidate runs with its baseline runs, from Prometheus or from traces.

Usage
  bounded canary report --prometheus <url> [--window <range>] [--agent <name>] [options]
  bounded canary report <traces> | --jaeger <url> --service <name> [--since <when>] [options]

Runs are told apart by the side core's createCanary() routed them to (metadata.canary: the
bounded_canary label of the run metrics, the bounded.metadata.canary attribute of run spans). The
comparison and its thresholds are those of bounded golden run: stop reasons, tool calls per run,
tokens per run and p95 latency (answer checks need golden tasks).

Options
  --prometheus <url>   Query Prometheus (e.g. http://127.0.0.1:9090) over the documented metrics
  --window <range>     With --prometheus: only the last range (PromQL, e.g. 1h);
                       default: all since start
${TRACE_SOURCE_HELP}
  --agent <name>       Only this agent's runs (recommended when a workflow escalates to an agent)
  --thresholds <file>  A YAML file with a thresholds: mapping (a golden suite works); default
                       thresholds: stop reasons 10% of runs, tool calls +25%, tokens +25%,
                       p95 +50% and +50 ms
  --json               Print one JSON document: { ok, drifted, findings, baseline, candidate }
  -h, --help           Show this help

Exit codes
  0  the candidate stays within the thresholds
  1  no canary runs on one side, or the thresholds file is invalid
  2  usage error, or a file cannot be read
  4  the candidate drifted: the drifted metrics are named
  6  Prometheus or Jaeger cannot be reached

Examples
  bounded canary report --prometheus http://127.0.0.1:9090 --agent support-agent --window 1h
  bounded canary report --jaeger http://127.0.0.1:16686 --service support-desk --since 1h`;

/** `bounded canary report`. Throws CliUsageError for a bad command line. */
export async function canaryCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, CANARY_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [CANARY_HELP]);
    return EXIT.ok;
  }
  const json = values.json === true;
  const [verb, ...rest] = positionals;
  if (verb !== 'report') {
    const hint = verb ? didYouMean(verb, ['report']) : undefined;
    throw new CliUsageError(
      verb === undefined
        ? 'missing the verb: bounded canary report ...'
        : `unknown verb "${verb}"${hint ? `; did you mean "${hint}"?` : ''} (bounded canary report ...)`,
    );
  }
  const agent = typeof values.agent === 'string' ? values.agent : undefined;
  let thresholds: Thresholds = DEFAULT_THRESHOLDS;
  if (typeof values.thresholds === 'string') {
    const read = await readYamlFile(values.thresholds);
    if (read.status === 'unreadable') {
      if (json)
        writeJson(io.stdout, { ok: false, file: read.file, error: { code: 'unreadable', message: read.message } });
      else writeLines(io.stderr, [`bounded canary: ${read.message}`]);
      return EXIT.usage;
    }
    const issues = read.status === 'invalid' ? new IssueList(() => undefined) : new IssueList(read.locate);
    if (read.status === 'invalid') issues.issues.push(...read.issues);
    else if (!isRecord(read.value)) issues.add([], 'expected a mapping with a thresholds: key');
    else thresholds = readThresholds(read.value.thresholds, ['thresholds'], issues);
    if (issues.issues.length > 0) {
      if (json) writeJson(io.stdout, { ok: false, file: values.thresholds, issues: issues.issues.map(jsonIssue) });
      else writeLines(io.stdout, formatIssues(values.thresholds, issues.issues, useColor(io.stdout, io.env)));
      return EXIT.invalid;
    }
  }

  let sides: { baseline: SideSummary; candidate: SideSummary };
  let where: string;
  if (typeof values.prometheus === 'string') {
    if (rest.length > 0 || values.jaeger !== undefined)
      throw new CliUsageError('give --prometheus or traces, not both');
    if (!/^https?:\/\//.test(values.prometheus)) {
      throw new CliUsageError(`--prometheus needs an http(s) URL, got ${JSON.stringify(values.prometheus)}`);
    }
    const window = typeof values.window === 'string' ? values.window : undefined;
    if (window !== undefined && !/^\d+(ms|s|m|h|d|w|y)$/.test(window)) {
      throw new CliUsageError(`--window needs a PromQL range such as 30m, 1h or 7d, got ${JSON.stringify(window)}`);
    }
    where = `Prometheus ${values.prometheus}${window ? `, last ${window}` : ''}`;
    try {
      sides = await prometheusSides(values.prometheus, { agent, window });
    } catch (error) {
      if (!(error instanceof PrometheusError)) throw error;
      if (json) writeJson(io.stdout, { ok: false, error: { code: error.code.toLowerCase(), message: error.message } });
      else writeLines(io.stderr, [`bounded canary: ${error.message}`]);
      return error.code === 'PROMETHEUS_UNREACHABLE' ? EXIT.unreachable : EXIT.invalid;
    }
  } else {
    if (values.window !== undefined) throw new CliUsageError('--window goes with --prometheus (traces take --since)');
    const source = traceSource('canary report', values, rest);
    where = describeSource(source);
    let runs: Awaited<ReturnType<typeof collectRuns>>;
    try {
      runs = await collectRuns(source, io, { quiet: json });
    } catch (error) {
      if (error instanceof TraceInputError) return traceInputFailure(io, error, json);
      throw error;
    }
    const samples = { baseline: [] as RunSample[], candidate: [] as RunSample[] };
    for (const run of runs.runs()) {
      const side = run.metadata.canary;
      if ((side !== 'baseline' && side !== 'candidate') || (agent !== undefined && run.agent !== agent)) continue;
      samples[side].push({
        outcome: run.status === 'ok' ? 'ok' : (run.stopReason ?? run.status),
        toolCalls: toolPath(run).length,
        tokens: run.inputTokens + run.outputTokens,
        durationMs: run.durationMs,
      });
    }
    sides = { baseline: summarize(samples.baseline), candidate: summarize(samples.candidate) };
  }

  if (sides.baseline.runs === 0 || sides.candidate.runs === 0) {
    const message = `${where}: no canary runs${agent ? ` of ${agent}` : ''} on the ${sides.baseline.runs === 0 ? 'baseline' : 'candidate'} side (baseline ${sides.baseline.runs}, candidate ${sides.candidate.runs}); runs are told apart by metadata.canary (createCanary)`;
    if (json) writeJson(io.stdout, { ok: false, source: where, error: { code: 'no_runs', message } });
    else writeLines(io.stderr, [`bounded canary: ${message}`]);
    return EXIT.invalid;
  }
  const drift = compareSides(sides.baseline, sides.candidate, thresholds);
  const drifted = drift.drifted.length > 0;
  if (json) {
    writeJson(io.stdout, {
      ok: !drifted,
      source: where,
      agent: agent ?? null,
      drifted: drift.drifted,
      findings: drift.findings,
      baseline: sides.baseline,
      candidate: sides.candidate,
    });
  } else {
    const color = useColor(io.stdout, io.env);
    const style = createStyle(color);
    const total = sides.baseline.runs + sides.candidate.runs;
    writeLines(io.stdout, [
      `${style.bold('canary')}${agent ? ` ${agent}` : ''} in ${where}: ${formatInt(sides.candidate.runs)} candidate runs (${((sides.candidate.runs / total) * 100).toFixed(1)}%) vs ${formatInt(sides.baseline.runs)} baseline runs`,
      '',
      ...formatFindings(drift, color),
      '',
      drifted
        ? `${style.red(style.bold('drift'))}: ${drift.findings
            .filter(f => f.drifted)
            .map(f => f.label)
            .join(', ')} (exit 4)`
        : `${style.green('no drift')}: the candidate stays within every threshold`,
    ]);
  }
  return drifted ? EXIT.drift : EXIT.ok;
}

export class PrometheusError extends Error {
  readonly code: 'PROMETHEUS_UNREACHABLE' | 'PROMETHEUS_QUERY';
  constructor(code: PrometheusError['code'], message: string) {
    super(message);
    this.name = 'PrometheusError';
    this.code = code;
  }
}

interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** One instant PromQL query. */
export async function promQuery(url: string, query: string): Promise<Sample[]> {
  let response: Response;
  try {
    response = await fetch(`${url.replace(/\/+$/, '')}/api/v1/query?${new URLSearchParams({ query })}`);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new PrometheusError(
      'PROMETHEUS_UNREACHABLE',
      `cannot reach Prometheus at ${url}: ${cause?.code ?? (error as Error).message}`,
    );
  }
  const body = (await response.json().catch(() => undefined)) as
    | { status: string; error?: string; data?: { resultType: string; result: Sample[] } }
    | undefined;
  if (body?.status !== 'success' || !body.data) {
    throw new PrometheusError(
      'PROMETHEUS_QUERY',
      `Prometheus at ${url} refused ${query}: ${body?.error ?? `HTTP ${response.status}`}`,
    );
  }
  return body.data.result;
}

/**
 * Both sides from the documented metrics: runs by outcome (`bounded_runs_total`), tool calls per run
 * (`bounded_run_tool_calls`), tokens (`gen_ai_client_token_usage`), p95 run latency (`bounded_run_duration`), each
 * split by the `bounded_canary` label.
 */
export async function prometheusSides(
  url: string,
  options: { agent: string | undefined; window: string | undefined },
): Promise<{ baseline: SideSummary; candidate: SideSummary }> {
  const matchers = ['bounded_canary=~"baseline|candidate"'];
  if (options.agent) matchers.push(`gen_ai_agent_name="${options.agent.replace(/["\\]/g, '\\$&')}"`);
  const sel = (metric: string) => {
    const series = `${metric}{${matchers.join(',')}}`;
    return options.window ? `increase(${series}[${options.window}])` : series;
  };
  const [runs, toolSum, toolCount, tokens, p95] = await Promise.all([
    promQuery(url, `sum by (bounded_canary, bounded_status, bounded_stop_reason) (${sel('bounded_runs_total')})`),
    promQuery(url, `sum by (bounded_canary) (${sel('bounded_run_tool_calls_sum')})`),
    promQuery(url, `sum by (bounded_canary) (${sel('bounded_run_tool_calls_count')})`),
    promQuery(url, `sum by (bounded_canary) (${sel('gen_ai_client_token_usage_sum')})`),
    promQuery(url, `histogram_quantile(0.95, sum by (le, bounded_canary) (${sel('bounded_run_duration_bucket')}))`),
  ]);
  const side = (variant: string): SideSummary => {
    const mine = (samples: Sample[]) => samples.filter(s => s.metric.bounded_canary === variant);
    const num = (samples: Sample[]) => mine(samples).reduce((sum, s) => sum + Number(s.value[1]), 0);
    const stopReasons: Record<string, number> = {};
    for (const s of mine(runs)) {
      const outcome =
        s.metric.bounded_status === 'ok' ? 'ok' : (s.metric.bounded_stop_reason ?? s.metric.bounded_status ?? '?');
      const count = Math.round(Number(s.value[1]));
      if (count > 0) stopReasons[outcome] = (stopReasons[outcome] ?? 0) + count;
    }
    const sorted = Object.fromEntries(Object.entries(stopReasons).sort((a, b) => b[1] - a[1]));
    const count = num(toolCount);
    const runCount = Object.values(stopReasons).reduce((a, b) => a + b, 0);
    const p95Seconds = mine(p95)[0]?.value[1];
    return {
      runs: runCount,
      stopReasons: sorted,
      toolCallsPerRun: count > 0 ? num(toolSum) / count : 0,
      tokensPerRun: runCount > 0 ? num(tokens) / runCount : 0,
      p95Ms: p95Seconds === undefined || !Number.isFinite(Number(p95Seconds)) ? 0 : Number(p95Seconds) * 1000,
      checksPassed: undefined,
      checksTotal: undefined,
    };
  };
  return { baseline: side('baseline'), candidate: side('candidate') };
}
