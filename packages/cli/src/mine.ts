import { writeFile } from 'node:fs/promises';
import { CliUsageError, parseCommandArgs } from './args.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { type CliIo, columns, createStyle, useColor, writeJson, writeLines } from './io.js';
import { readRunSummariesInParallel } from './parallel-mine.js';
import { progressBar } from './progress.js';
import { generateWorkflow } from './skeleton.js';
import {
  formatCost,
  formatInt,
  formatMs,
  formatPath,
  formatShare,
  formatTally,
  mean,
  percentile,
  tally,
} from './stats.js';
import {
  collectRuns,
  describeSource,
  positiveInt,
  shareOption,
  TRACE_SOURCE_HELP,
  TRACE_SOURCE_OPTIONS,
  type TraceSource,
  traceSource,
} from './trace-source.js';
import { type RunRecord, type RunSummary, summarizeRun, TraceInputError } from './traces.js';

/** What the traces say about one tool-call path. */
export interface PathStats {
  /** The tools the gateway let through, in order. */
  readonly path: readonly string[];
  readonly runs: number;
  /** Of the runs mined. */
  readonly share: number;
  /** Runs that ended `ok`. */
  readonly okRate: number;
  /** `ok` or the stop reason, with counts, most frequent first. */
  readonly stopReasons: Readonly<Record<string, number>>;
  readonly tokensPerRun: number;
  readonly costPerRun: number;
  readonly p95Ms: number;
  /** Tool calls the gateway refused, over these runs (not part of the path). */
  readonly refusedCalls: number;
}

export interface MineOptions {
  /** Mine this agent's runs; default: the agent with the most runs of the mode. */
  readonly agent?: string;
  /** Which runs: `agent` (default: what could become a workflow), `workflow`, or `all`. */
  readonly mode?: 'agent' | 'workflow' | 'all';
  /** Paths to codify at most. Default 5. */
  readonly top?: number;
  /** A path codified has at least this share of runs. Default 0.05. */
  readonly minShare?: number;
  /** A path codified has at least this share of `ok` runs. Default 0.8. */
  readonly minSuccess?: number;
}

export interface MineResult {
  readonly agent: string | undefined;
  readonly mode: 'agent' | 'workflow' | 'all';
  readonly runs: number;
  /** Every agent (or workflow) seen, with its run count. */
  readonly agents: ReadonlyArray<{ readonly agent: string; readonly mode: string; readonly runs: number }>;
  /** Every path, most runs first. */
  readonly paths: readonly PathStats[];
  /** The paths the workflow covers. */
  readonly covered: readonly PathStats[];
  readonly coveredShare: number;
  /** The share of runs that stays with the agent. */
  readonly agentShare: number;
}

/** Groups runs by their tool-call path and says which paths are common and healthy enough to become a workflow. */
export function minePaths(input: readonly RunRecord[] | readonly RunSummary[], options: MineOptions = {}): MineResult {
  const all: readonly RunSummary[] = input.map(run => ('tools' in run ? summarizeRun(run) : run));
  const mode = options.mode ?? 'agent';
  const inMode = mode === 'all' ? all : all.filter(run => run.mode === mode);
  const agentCounts = new Map<string, { agent: string; mode: string; runs: number }>();
  for (const run of all) {
    const key = `${run.mode}/${run.agent}`;
    const entry = agentCounts.get(key) ?? { agent: run.agent, mode: run.mode, runs: 0 };
    entry.runs++;
    agentCounts.set(key, entry);
  }
  const agents = [...agentCounts.values()].sort((a, b) => b.runs - a.runs || a.agent.localeCompare(b.agent));
  let agent = options.agent;
  if (agent === undefined) {
    const counts = tally(inMode.map(run => run.agent));
    agent = Object.keys(counts)[0];
  }
  const runs = inMode.filter(run => run.agent === agent);
  const groups = new Map<string, RunSummary[]>();
  const pathOf = new Map<string, readonly string[]>();
  for (const run of runs) {
    const path = run.path;
    const key = path.join('\u0000');
    let group = groups.get(key);
    if (!group) {
      group = [];
      groups.set(key, group);
      pathOf.set(key, path);
    }
    group.push(run);
  }
  const paths: PathStats[] = [];
  for (const [key, group] of groups) {
    const ok = group.filter(run => run.status === 'ok').length;
    paths.push({
      path: pathOf.get(key)!,
      runs: group.length,
      share: group.length / runs.length,
      okRate: ok / group.length,
      stopReasons: tally(group.map(run => (run.status === 'ok' ? 'ok' : (run.stopReason ?? run.status)))),
      tokensPerRun: mean(group.map(run => run.tokens)),
      costPerRun: mean(group.map(run => run.costUsd)),
      p95Ms: percentile(
        group.map(run => run.durationMs),
        0.95,
      ),
      refusedCalls: group.reduce((sum, run) => sum + run.refused, 0),
    });
  }
  paths.sort((a, b) => b.runs - a.runs || a.path.join().localeCompare(b.path.join()));
  const top = options.top ?? 5;
  const minShare = options.minShare ?? 0.05;
  const minSuccess = options.minSuccess ?? 0.8;
  const covered = paths.filter(p => p.path.length > 0 && p.share >= minShare && p.okRate >= minSuccess).slice(0, top);
  const coveredShare = covered.reduce((sum, p) => sum + p.share, 0);
  return {
    agent,
    mode,
    runs: runs.length,
    agents,
    paths,
    covered,
    coveredShare,
    agentShare: runs.length === 0 ? 0 : 1 - coveredShare,
  };
}

export const MINE_OPTIONS = {
  ...TRACE_SOURCE_OPTIONS,
  agent: { type: 'string' },
  mode: { type: 'string' },
  top: { type: 'string' },
  'min-share': { type: 'string' },
  'min-success': { type: 'string' },
  out: { type: 'string' },
  name: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const MINE_HELP = `Find the common tool-call paths of an agent in its traces, and write them as a workflow.

Usage
  bounded mine <file> [options]
  bounded mine --jaeger <url> --service <name> [--since <when>] [options]

A run's path is the tools it called that the gateway let through, in order. Paths that are common
(--min-share) and healthy (--min-success) become the branches of a workflow skeleton on
@bounded/core's defineWorkflow; the rest of the runs stay with the agent, which the workflow
escalates to.

Options
${TRACE_SOURCE_HELP}
  --agent <name>       The agent to mine (default: the one with the most runs)
  --mode <mode>        Which runs: agent (default), workflow, or all
  --top <n>            Paths the workflow covers, at most (default 5)
  --min-share <pct>    A covered path has at least this share of runs (default 5%)
  --min-success <pct>  A covered path ends ok at least this often (default 80%)
  --out <file>         Where the workflow skeleton goes (default <agent>.workflow.ts)
  --name <name>        The workflow's name (default <agent>-workflow)
  --json               Print one JSON document:
                       { ok, source, agent, runs, paths, covered, agentShare, out }
  -h, --help           Show this help

A progress bar shows on a terminal (stderr) while the traces are read.

Exit codes
  0  mined; the skeleton is written
  1  the input holds no runs of the agent, or is not a trace document
  2  usage error, or the file cannot be read
  6  Jaeger cannot be reached

Examples
  bounded mine traces.json --agent support-agent
  bounded mine --jaeger http://127.0.0.1:16686 --service support-desk --since 24h \\
    --out desk.workflow.ts`;

/** `bounded mine`. Throws CliUsageError for a bad command line. */
export async function mineCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, MINE_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [MINE_HELP]);
    return EXIT.ok;
  }
  const json = values.json === true;
  const source = traceSource('mine', values, positionals);
  const mode = values.mode ?? 'agent';
  if (mode !== 'agent' && mode !== 'workflow' && mode !== 'all') {
    throw new CliUsageError(`--mode must be agent, workflow or all, got ${JSON.stringify(mode)}`);
  }
  const top = positiveInt('--top', values.top);
  const minShare = shareOption('--min-share', values['min-share']);
  const minSuccess = shareOption('--min-success', values['min-success']);
  if (values.name !== undefined && !/^[A-Za-z0-9][\w.-]*$/.test(String(values.name))) {
    throw new CliUsageError(`--name: letters, digits, ".", "_" and "-" only, got ${JSON.stringify(values.name)}`);
  }

  const started = performance.now();
  let read: { summaries: RunSummary[]; spans: number };
  try {
    read = await readSummaries(source, io, json);
  } catch (error) {
    if (error instanceof TraceInputError) return inputFailure(io, error, json);
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  const collector = { spans: read.spans };
  const result = minePaths(read.summaries, {
    mode,
    ...(typeof values.agent === 'string' ? { agent: values.agent } : {}),
    ...(top === undefined ? {} : { top }),
    ...(minShare === undefined ? {} : { minShare }),
    ...(minSuccess === undefined ? {} : { minSuccess }),
  });
  const where = describeSource(source);
  if (result.runs === 0 || result.agent === undefined) {
    const seen = result.agents.map(a => `${a.agent} (${a.mode}, ${a.runs})`).join(', ');
    const what = values.agent
      ? `no ${mode === 'all' ? '' : `${mode} `}runs of "${values.agent}"`
      : `no ${mode === 'all' ? '' : `${mode}-mode `}runs`;
    const message = `${where}: ${what} in ${formatInt(collector.spans)} spans${seen ? `; runs seen: ${seen}` : ''}`;
    if (json) writeJson(io.stdout, { ok: false, source: where, error: { code: 'no_runs', message } });
    else writeLines(io.stderr, [`bounded mine: ${message}`]);
    return EXIT.invalid;
  }

  const name = typeof values.name === 'string' ? values.name : `${result.agent}-workflow`;
  const out = typeof values.out === 'string' ? values.out : `${fileSafe(result.agent)}.workflow.ts`;
  const code = generateWorkflow(result, { name, source: where, generatedAt: new Date() });
  await writeFile(out, code);

  if (json) {
    writeJson(io.stdout, {
      ok: true,
      source: where,
      spans: collector.spans,
      seconds: Math.round(seconds * 1000) / 1000,
      agent: result.agent,
      mode: result.mode,
      runs: result.runs,
      agents: result.agents,
      paths: result.paths.map(jsonPath),
      covered: result.covered.map(jsonPath),
      coveredShare: result.coveredShare,
      agentShare: result.agentShare,
      out,
    });
    return EXIT.ok;
  }
  writeLines(
    io.stdout,
    formatMine(result, { source: where, spans: collector.spans, seconds, out, color: useColor(io.stdout, io.env) }),
  );
  return EXIT.ok;
}

/**
 * The runs of a trace source, as mining needs them. A large Jaeger JSON file is read by worker threads, one slice
 * each (`BOUNDED_MINE_THREADS=1` turns that off; `BOUNDED_MINE_PARALLEL_MIN_BYTES` sets the size it starts at).
 */
export async function readSummaries(
  source: TraceSource,
  io: CliIo,
  quiet = false,
): Promise<{ summaries: RunSummary[]; spans: number }> {
  const env = io.env ?? {};
  if (source.kind === 'file' && env.BOUNDED_MINE_THREADS !== '1') {
    const bar = progressBar(io.stderr, 'reading traces', quiet ? { enabled: false } : {});
    try {
      const minBytes = env.BOUNDED_MINE_PARALLEL_MIN_BYTES ? Number(env.BOUNDED_MINE_PARALLEL_MIN_BYTES) : undefined;
      const workers = env.BOUNDED_MINE_THREADS ? Number(env.BOUNDED_MINE_THREADS) : undefined;
      const parallel = await readRunSummariesInParallel(source.file, p => bar.update(p), {
        ...(minBytes === undefined ? {} : { minBytes }),
        ...(workers === undefined ? {} : { workers }),
      });
      if (parallel) return parallel;
    } finally {
      bar.done();
    }
  }
  const collector = await collectRuns(source, io, { quiet });
  return { summaries: collector.runs().map(summarizeRun), spans: collector.spans };
}

function jsonPath(p: PathStats) {
  return {
    path: p.path,
    runs: p.runs,
    share: p.share,
    okRate: p.okRate,
    stopReasons: p.stopReasons,
    tokensPerRun: p.tokensPerRun,
    costPerRun: p.costPerRun,
    p95Ms: p.p95Ms,
    refusedCalls: p.refusedCalls,
  };
}

/** The mining result as a table of paths and a verdict. */
export function formatMine(
  result: MineResult,
  options: { source: string; spans: number; seconds: number; out: string; color?: boolean; maxPaths?: number },
): string[] {
  const style = createStyle(options.color ?? false);
  const covered = new Set(result.covered);
  const shown = result.paths.slice(0, options.maxPaths ?? 10);
  const rows = [
    ['', 'path', 'runs', 'share', 'ok', 'stop reasons', 'tokens/run', 'cost/run', 'p95'],
    ...shown.map((p, i) => [
      covered.has(p) ? '*' : ' ',
      `${i + 1}. ${formatPath(p.path)}`,
      formatInt(p.runs),
      formatShare(p.share),
      formatShare(p.okRate),
      formatTally(p.stopReasons, 2),
      formatInt(p.tokensPerRun),
      formatCost(p.costPerRun),
      formatMs(p.p95Ms),
    ]),
  ];
  const lines = [
    `${style.bold(`${formatInt(result.runs)} ${result.mode === 'all' ? '' : `${result.mode} `}runs of ${result.agent}`)} in ${options.source} (${formatInt(options.spans)} spans read in ${options.seconds.toFixed(2)} s)`,
    '',
    ...columns(rows, { style: (column, cell) => (column === 0 && cell === '*' ? style.green(cell) : cell) }),
  ];
  if (result.paths.length > shown.length) lines.push(`   … ${result.paths.length - shown.length} more paths`);
  lines.push('');
  if (result.covered.length === 0) {
    lines.push(
      `no path is common and healthy enough to codify (--min-share, --min-success): ${style.yellow('100.0%')} of runs stay with the agent`,
    );
  } else {
    lines.push(
      `* ${result.covered.length} path${result.covered.length === 1 ? '' : 's'} cover ${style.green(formatShare(result.coveredShare))} of runs: the workflow takes them; ${style.yellow(formatShare(result.agentShare))} of runs stay with the agent`,
    );
  }
  const others = result.agents.filter(a => a.agent !== result.agent);
  if (others.length > 0) {
    lines.push(
      `other runs in the input: ${others.map(a => `${a.agent} (${a.mode}, ${formatInt(a.runs)})`).join(', ')}; pick with --agent`,
    );
  }
  lines.push(`wrote ${options.out}`);
  return lines;
}

function inputFailure(io: CliIo, error: TraceInputError, json: boolean): ExitCode {
  const code =
    error.code === 'JAEGER_UNREACHABLE'
      ? EXIT.unreachable
      : error.code === 'TRACES_INVALID'
        ? EXIT.invalid
        : EXIT.usage;
  if (json) writeJson(io.stdout, { ok: false, error: { code: error.code.toLowerCase(), message: error.message } });
  else writeLines(io.stderr, [`bounded: ${error.message}`]);
  return code;
}

export { inputFailure as traceInputFailure };

function fileSafe(name: string): string {
  return name.replace(/[^\w.-]+/g, '-');
}
