import { writeFile } from 'node:fs/promises';
import { parseCommandArgs } from './args.js';
import { isAuditLog, readAuditRuns } from './audit-runs.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { type CliIo, columns, createStyle, useColor, writeJson, writeLines } from './io.js';
import { traceInputFailure } from './mine.js';
import { formatCost, formatInt, formatMs } from './stats.js';
import { renderTimelinePage } from './timeline-html.js';
import { collectRuns, describeSource, TRACE_SOURCE_HELP, TRACE_SOURCE_OPTIONS, traceSource } from './trace-source.js';
import { type RunRecord, TraceInputError, toolPath } from './traces.js';

export const REPORT_OPTIONS = {
  ...TRACE_SOURCE_OPTIONS,
  html: { type: 'string' },
  agent: { type: 'string' },
  run: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const REPORT_HELP = `Summarize runs from an audit log or from traces; --html writes a page with a timeline per run.

Usage
  bounded report <audit.jsonl | traces.json> [--html <out.html>] [options]
  bounded report --jaeger <url> --service <name> [--since <when>] [--html <out.html>] [options]

The file is read as an audit log (auditLog() of @bounded/core) when its records carry seq and hash,
else as traces. Each run: agent, mode, outcome (ok or the stop reason), duration, tool calls,
refused calls, tokens, cost.

Options
${TRACE_SOURCE_HELP}
  --html <file>     Write a self-contained page (no network): a timeline per run, tool calls as bars
                    coloured by decision, model calls and workflow steps, the stop marked
  --agent <name>    Only this agent's (or workflow's) runs
  --run <id>        Only this run (and the runs it escalated to)
  --json            Print one JSON document: { ok, source, runs: [...] }
  -h, --help        Show this help

Exit codes
  0  reported
  1  the input holds no runs, or is not an audit log or a trace document
  2  usage error, or the file cannot be read
  6  Jaeger cannot be reached

Examples
  bounded report audit.jsonl --html runs.html
  bounded report --jaeger http://127.0.0.1:16686 --service support-desk --since 1h`;

/** `bounded report`. Throws CliUsageError for a bad command line. */
export async function reportCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, REPORT_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [REPORT_HELP]);
    return EXIT.ok;
  }
  const json = values.json === true;
  const source = traceSource('report', values, positionals);
  let runs: RunRecord[];
  try {
    if (source.kind === 'file' && (await isAuditLog(source.file))) runs = await readAuditRuns(source.file);
    else runs = (await collectRuns(source, io, { withMarks: true, quiet: json })).runs();
  } catch (error) {
    if (error instanceof TraceInputError) return traceInputFailure(io, error, json);
    throw error;
  }
  if (typeof values.agent === 'string') runs = runs.filter(run => run.agent === values.agent);
  if (typeof values.run === 'string') {
    const id = values.run;
    runs = runs.filter(run => run.runId === id || run.runId.startsWith(id) || run.parentRunId === id);
  }
  const where = describeSource(source);
  if (runs.length === 0) {
    const message = `${where}: no runs${values.agent || values.run ? ' match --agent / --run' : ''}`;
    if (json) writeJson(io.stdout, { ok: false, source: where, error: { code: 'no_runs', message } });
    else writeLines(io.stderr, [`bounded report: ${message}`]);
    return EXIT.invalid;
  }
  if (typeof values.html === 'string') await writeFile(values.html, renderTimelinePage(runs, { source: where }));
  if (json) {
    writeJson(io.stdout, {
      ok: true,
      source: where,
      html: typeof values.html === 'string' ? values.html : null,
      runs: runs.map(jsonRun),
    });
    return EXIT.ok;
  }
  const color = useColor(io.stdout, io.env);
  const lines = formatRuns(runs, where, color);
  if (typeof values.html === 'string') lines.push(`wrote ${values.html} (a timeline per run)`);
  writeLines(io.stdout, lines);
  return EXIT.ok;
}

/** A run as `--json` prints it. */
export function jsonRun(run: RunRecord) {
  return {
    runId: run.runId,
    agent: run.agent,
    mode: run.mode,
    parentRunId: run.parentRunId ?? null,
    start: new Date(run.start).toISOString(),
    durationMs: run.durationMs,
    status: run.status,
    stopReason: run.stopReason ?? null,
    stopDetail: run.stopDetail ?? null,
    toolCalls: run.tools.length,
    refused: run.tools.filter(call => call.outcome === 'refused').length,
    path: toolPath(run),
    inputTokens: run.inputTokens,
    outputTokens: run.outputTokens,
    costUsd: run.costUsd,
    metadata: run.metadata,
  };
}

/** One line per run, aligned, then the totals. */
export function formatRuns(runs: readonly RunRecord[], source: string, color = false): string[] {
  const style = createStyle(color);
  const stopped = runs.filter(run => run.status === 'stopped').length;
  const rows = [
    ['run', 'agent', 'mode', 'started', 'duration', 'outcome', 'tools', 'refused', 'tokens', 'cost'],
    ...runs.map(run => [
      run.runId.length > 12 ? `${run.runId.slice(0, 8)}…` : run.runId,
      run.parentRunId ? `└ ${run.agent}` : run.agent,
      run.mode,
      new Date(run.start).toISOString().slice(11, 23),
      formatMs(run.durationMs),
      run.status === 'ok' ? 'ok' : (run.stopReason ?? run.status),
      String(run.tools.filter(call => call.outcome !== 'refused').length),
      String(run.tools.filter(call => call.outcome === 'refused').length),
      formatInt(run.inputTokens + run.outputTokens),
      formatCost(run.costUsd),
    ]),
  ];
  return [
    `${style.bold(`${runs.length} run${runs.length === 1 ? '' : 's'}`)} in ${source}: ${style.green(`${runs.length - stopped} ok`)}, ${stopped > 0 ? style.red(`${stopped} stopped`) : '0 stopped'}`,
    '',
    ...columns(rows, {
      style: (column, cell) =>
        column === 5 && cell !== 'outcome' ? (cell === 'ok' ? style.green(cell) : style.red(cell)) : cell,
    }),
  ];
}
