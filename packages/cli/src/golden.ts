import { pathToFileURL } from 'node:url';
import { type BoundedEvent, createGovernor, type Run, type RunResult, stopKind } from '@bounded/core';
import { CliUsageError, parseCommandArgs } from './args.js';
import {
  compareSides,
  type DriftReport,
  formatFindings,
  type RunSample,
  type SideSummary,
  summarize,
} from './drift.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import {
  type AnswerCheck,
  type GoldenConfig,
  type GoldenSuite,
  type GoldenTask,
  type LoadResult,
  loadGoldenConfig,
  loadGoldenSuite,
} from './golden-suite.js';
import { type CliIo, columns, createStyle, useColor, writeJson, writeLines } from './io.js';
import { formatIssues, jsonIssue } from './report.js';
import { formatPath } from './stats.js';
import { positiveInt } from './trace-source.js';

/** What an agent module's function is told besides its run and input. */
export interface GoldenContext {
  /** The task's id in the suite. */
  readonly task: string;
  /** 1-based: which of the task's runs this is. */
  readonly iteration: number;
  readonly variant: 'baseline' | 'candidate';
  /** The config's `options`, as written. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * The agent under test: a module that exports this function as `agent` (or as its default export). It runs one task
 * inside a governed run: every step and tool call goes through `run`, under the config's policy.
 */
export type GoldenAgent = (run: Run, input: unknown, context: GoldenContext) => unknown;

/** One run of one task. */
export interface GoldenRunResult extends RunSample {
  readonly task: string;
  readonly variant: 'baseline' | 'candidate';
  readonly path: readonly string[];
  readonly output: unknown;
  /** Each check made, and whether it passed. */
  readonly checks: ReadonlyArray<{ readonly check: string; readonly passed: boolean; readonly detail: string }>;
}

export class GoldenAgentError extends Error {
  readonly code = 'GOLDEN_AGENT';
  constructor(message: string) {
    super(message);
    this.name = 'GoldenAgentError';
  }
}

/** Imports an agent module and finds its function. */
export async function loadAgent(file: string): Promise<GoldenAgent> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new GoldenAgentError(`cannot import the agent module ${file}: ${(error as Error).message}`);
  }
  const agent = module.agent ?? module.default;
  if (typeof agent !== 'function') {
    throw new GoldenAgentError(
      `the agent module ${file} exports no function: export \`agent(run, input, context)\` (or a default export)`,
    );
  }
  return agent as GoldenAgent;
}

/** Runs one task once under a config: a fresh governor (so runs share no state), the task's budgets applied. */
export async function runGoldenTask(
  suite: GoldenSuite,
  task: GoldenTask,
  config: GoldenConfig,
  agent: GoldenAgent,
  variant: 'baseline' | 'candidate',
  iteration: number,
): Promise<GoldenRunResult> {
  const path: string[] = [];
  const observer = {
    name: 'golden',
    onEvent(event: BoundedEvent) {
      if (event.type === 'tool.decision' && event.decision !== 'deny' && event.decision !== 'rejected') {
        path.push(event.tool);
      }
    },
  };
  const governor = createGovernor({ policy: config.policy, observers: [observer] });
  let result: RunResult<unknown>;
  try {
    result = await governor.run(
      {
        agent: suite.agent,
        mode: 'agent',
        metadata: { golden: suite.name, task: task.id, canary: variant },
        ...(task.expect.budgets ? { budgets: task.expect.budgets } : {}),
      },
      run => agent(run, task.input, { task: task.id, iteration, variant, options: config.options }),
    );
  } finally {
    governor.close();
  }
  const outcome = result.status === 'ok' ? 'ok' : result.stopReason;
  const output = result.status === 'ok' ? result.output : undefined;
  const checks = checkRun(task, result, path, output);
  return {
    task: task.id,
    variant,
    outcome,
    toolCalls: result.usage.toolCalls,
    tokens: result.usage.totalTokens,
    durationMs: result.usage.durationMs,
    path,
    output,
    checks,
    checksPassed: checks.filter(c => c.passed).length,
    checksTotal: checks.length,
  };
}

function checkRun(
  task: GoldenTask,
  result: RunResult<unknown>,
  path: readonly string[],
  output: unknown,
): GoldenRunResult['checks'] {
  const checks: Array<{ check: string; passed: boolean; detail: string }> = [];
  const expect = task.expect;
  const outcome = result.status === 'ok' ? 'ok' : result.stopReason;
  if (expect.status !== undefined) {
    const passed =
      expect.status === outcome ||
      (expect.status === 'stopped' && result.status === 'stopped') ||
      (result.status === 'stopped' && !expect.status.includes(':') && stopKind(result.stopReason) === expect.status);
    checks.push({ check: 'status', passed, detail: `expected ${expect.status}, got ${outcome}` });
  }
  if (expect.toolPath !== undefined) {
    const passed = expect.toolPath.length === path.length && expect.toolPath.every((tool, i) => path[i] === tool);
    checks.push({
      check: 'tool path',
      passed,
      detail: `expected ${formatPath(expect.toolPath)}, got ${formatPath(path)}`,
    });
  }
  const text = output === undefined ? '' : typeof output === 'string' ? output : JSON.stringify(output);
  for (const answer of expect.answer) {
    const [name, passed] = answerCheck(answer, text, result.status === 'ok');
    checks.push({
      check: name,
      passed,
      detail: result.status === 'ok' ? `answer ${JSON.stringify(text.slice(0, 80))}` : 'no answer (the run stopped)',
    });
  }
  if (expect.budgets) {
    const over: string[] = [];
    const b = expect.budgets;
    const usage = result.usage;
    if (b.max_tool_calls !== undefined && usage.toolCalls > b.max_tool_calls)
      over.push(`tool calls ${usage.toolCalls} > ${b.max_tool_calls}`);
    if (b.max_steps !== undefined && usage.steps > b.max_steps) over.push(`steps ${usage.steps} > ${b.max_steps}`);
    if (b.max_tokens !== undefined && usage.totalTokens > b.max_tokens)
      over.push(`tokens ${usage.totalTokens} > ${b.max_tokens}`);
    if (b.max_usd !== undefined && usage.costUsd > b.max_usd) over.push(`$${usage.costUsd} > $${b.max_usd}`);
    if (b.max_seconds !== undefined && usage.durationMs > b.max_seconds * 1000)
      over.push(`${usage.durationMs} ms > ${b.max_seconds} s`);
    const budgetStop = result.status === 'stopped' && /^max_/.test(result.stopReason);
    if (budgetStop && result.status === 'stopped') over.push(`stopped at ${result.stopReason}`);
    checks.push({
      check: 'budgets',
      passed: over.length === 0,
      detail: over.length ? over.join(', ') : 'within budgets',
    });
  }
  return checks;
}

function answerCheck(check: AnswerCheck, text: string, answered: boolean): [string, boolean] {
  if ('contains' in check)
    return [`answer contains ${JSON.stringify(check.contains)}`, answered && text.includes(check.contains)];
  if ('equals' in check) return [`answer equals ${JSON.stringify(check.equals)}`, answered && text === check.equals];
  return [`answer matches /${check.matches}/`, answered && check.regexp.test(text)];
}

export interface GoldenReport {
  readonly suite: GoldenSuite;
  readonly runs: number;
  readonly baseline: SideSummary;
  readonly candidate: SideSummary;
  readonly drift: DriftReport;
  readonly tasks: ReadonlyArray<{
    readonly task: string;
    readonly baseline: SideSummary;
    readonly candidate: SideSummary;
    readonly drift: DriftReport;
    readonly failedChecks: ReadonlyArray<{
      readonly variant: string;
      readonly check: string;
      readonly detail: string;
      readonly runs: number;
    }>;
    readonly paths: { readonly baseline: readonly string[]; readonly candidate: readonly string[] };
  }>;
  readonly results: readonly GoldenRunResult[];
}

/** Runs every task `runs` times under each config, interleaved (so load drift hits both alike), and compares. */
export async function runGoldenSuite(
  suite: GoldenSuite,
  baseline: GoldenConfig,
  candidate: GoldenConfig,
  options: { runs?: number } = {},
): Promise<GoldenReport> {
  const runs = options.runs ?? suite.runs;
  const agents = { baseline: await loadAgent(baseline.agentModule), candidate: await loadAgent(candidate.agentModule) };
  const results: GoldenRunResult[] = [];
  for (let iteration = 1; iteration <= runs; iteration++) {
    for (const task of suite.tasks) {
      results.push(await runGoldenTask(suite, task, baseline, agents.baseline, 'baseline', iteration));
      results.push(await runGoldenTask(suite, task, candidate, agents.candidate, 'candidate', iteration));
    }
  }
  const side = (variant: string, task?: string) =>
    results.filter(r => r.variant === variant && (task === undefined || r.task === task));
  const base = summarize(side('baseline'));
  const cand = summarize(side('candidate'));
  return {
    suite,
    runs,
    baseline: base,
    candidate: cand,
    drift: compareSides(base, cand, suite.thresholds),
    tasks: suite.tasks.map(task => {
      const b = side('baseline', task.id);
      const c = side('candidate', task.id);
      const failed = new Map<string, { variant: string; check: string; detail: string; runs: number }>();
      for (const r of [...b, ...c]) {
        for (const check of r.checks) {
          if (check.passed) continue;
          const key = `${r.variant}/${check.check}`;
          const entry = failed.get(key) ?? { variant: r.variant, check: check.check, detail: check.detail, runs: 0 };
          entry.runs++;
          failed.set(key, entry);
        }
      }
      const bs = summarize(b);
      const cs = summarize(c);
      return {
        task: task.id,
        baseline: bs,
        candidate: cs,
        drift: compareSides(bs, cs, suite.thresholds),
        failedChecks: [...failed.values()],
        paths: { baseline: b[0]?.path ?? [], candidate: c[0]?.path ?? [] },
      };
    }),
    results,
  };
}

export const GOLDEN_OPTIONS = {
  baseline: { type: 'string' },
  candidate: { type: 'string' },
  runs: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const GOLDEN_HELP = `Run a golden suite under a baseline and a candidate config, and fail on drift (a gate for CI).

Usage
  bounded golden run <suite.yaml> --baseline <config.yaml> --candidate <config.yaml>
    [--runs <n>] [--json]

Each task runs --runs times (default: the suite's runs, else 5) under each config, interleaved.
The candidate drifts when, past the suite's thresholds: its stop reasons move, it makes more tool
calls or spends more tokens a run, its p95 latency grows, or it passes fewer answer checks (tool
path, answer, status, budgets).

A config names a policy and the agent under test:
  policy: ../policies/support-desk.yaml   # a policy file (relative to the config), or inline
  agent: ./dist/agent.js                  # a module exporting agent(run, input, context)
  options: { model: v2 }                  # handed to the agent as context.options

Options
  --baseline <file>   The config in production
  --candidate <file>  The config on trial (the same file: the suite checks itself)
  --runs <n>          Runs of each task under each config
  --json              Print one JSON document: { ok, drifted, findings, tasks, baseline, candidate }
  -h, --help          Show this help

Exit codes
  0  no drift past the thresholds
  1  the suite or a config is invalid (every problem is listed), or the agent module cannot be used
  2  usage error, or a file cannot be read
  4  the candidate drifted: the drifted metrics are named

Example
  bounded golden run examples/golden/suite.yaml --baseline examples/golden/baseline.yaml \\
    --candidate examples/golden/candidate.yaml`;

/** `bounded golden run ...`. Throws CliUsageError for a bad command line. */
export async function goldenCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, GOLDEN_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [GOLDEN_HELP]);
    return EXIT.ok;
  }
  const json = values.json === true;
  const [verb, ...files] = positionals;
  if (verb !== 'run') {
    throw new CliUsageError(
      verb === undefined
        ? 'missing the verb: bounded golden run <suite.yaml> ...'
        : `unknown verb "${verb}" (bounded golden run <suite.yaml> ...)`,
    );
  }
  if (files.length !== 1) throw new CliUsageError(`takes one suite file, got ${files.length}`);
  if (typeof values.baseline !== 'string') throw new CliUsageError('missing --baseline <config.yaml>');
  if (typeof values.candidate !== 'string') throw new CliUsageError('missing --candidate <config.yaml>');
  const runs = positiveInt('--runs', values.runs);

  const suite = await loadGoldenSuite(files[0]!);
  if (suite.status !== 'ok') return loadFailure(io, suite, json);
  const baseline = await loadGoldenConfig(values.baseline);
  if (baseline.status !== 'ok') return loadFailure(io, baseline, json);
  const candidate = await loadGoldenConfig(values.candidate);
  if (candidate.status !== 'ok') return loadFailure(io, candidate, json);

  let report: GoldenReport;
  try {
    report = await runGoldenSuite(suite.value, baseline.value, candidate.value, runs === undefined ? {} : { runs });
  } catch (error) {
    if (!(error instanceof GoldenAgentError)) throw error;
    if (json) writeJson(io.stdout, { ok: false, error: { code: 'agent', message: error.message } });
    else writeLines(io.stderr, [`bounded golden: ${error.message}`]);
    return EXIT.invalid;
  }
  const drifted = report.drift.drifted.length > 0;
  if (json) {
    writeJson(io.stdout, {
      ok: !drifted,
      suite: report.suite.name,
      runs: report.runs,
      drifted: report.drift.drifted,
      findings: report.drift.findings,
      baseline: report.baseline,
      candidate: report.candidate,
      tasks: report.tasks.map(t => ({
        task: t.task,
        drifted: t.drift.drifted,
        baseline: t.baseline,
        candidate: t.candidate,
        paths: t.paths,
        failedChecks: t.failedChecks,
      })),
    });
  } else {
    writeLines(
      io.stdout,
      formatGolden(report, {
        baseline: values.baseline,
        candidate: values.candidate,
        color: useColor(io.stdout, io.env),
      }),
    );
  }
  return drifted ? EXIT.drift : EXIT.ok;
}

export function formatGolden(
  report: GoldenReport,
  options: { baseline: string; candidate: string; color?: boolean },
): string[] {
  const style = createStyle(options.color ?? false);
  const { suite } = report;
  const lines = [
    `${style.bold(`golden suite ${suite.name}`)}: ${suite.tasks.length} task${suite.tasks.length === 1 ? '' : 's'} × ${report.runs} runs, baseline ${options.baseline} vs candidate ${options.candidate}`,
    '',
    ...formatFindings(report.drift, options.color),
    '',
    'tasks',
  ];
  const rows = report.tasks.map(t => [
    t.task,
    t.drift.drifted.length > 0 ? 'DRIFT' : 'ok',
    `baseline ${describeOutcomes(t.baseline)}, ${formatPath(t.paths.baseline)}`,
    `candidate ${describeOutcomes(t.candidate)}, ${formatPath(t.paths.candidate)}`,
  ]);
  lines.push(
    ...columns(rows, {
      indent: 2,
      style: (column, cell) => (column === 1 ? (cell === 'DRIFT' ? style.red(cell) : style.green(cell)) : cell),
    }),
  );
  for (const t of report.tasks) {
    for (const failed of t.failedChecks) {
      lines.push(
        `  ${t.task}: ${failed.variant} failed ${failed.check} in ${failed.runs} run${failed.runs === 1 ? '' : 's'} (${failed.detail})`,
      );
    }
  }
  lines.push('');
  if (report.drift.drifted.length > 0) {
    const names = report.drift.findings.filter(f => f.drifted).map(f => f.label);
    lines.push(`${style.red(style.bold('drift'))}: ${names.join(', ')} (exit 4)`);
  } else {
    lines.push(`${style.green('no drift')}: the candidate stays within every threshold`);
  }
  return lines;
}

function describeOutcomes(summary: SideSummary): string {
  return Object.entries(summary.stopReasons)
    .map(([outcome, count]) => `${outcome} ×${count}`)
    .join(', ');
}

function loadFailure(io: CliIo, result: Exclude<LoadResult<unknown>, { status: 'ok' }>, json: boolean): ExitCode {
  if (result.status === 'invalid') {
    if (json) writeJson(io.stdout, { ok: false, file: result.file, issues: result.issues.map(jsonIssue) });
    else writeLines(io.stdout, formatIssues(result.file, result.issues, useColor(io.stdout, io.env)));
    return EXIT.invalid;
  }
  if (json)
    writeJson(io.stdout, { ok: false, file: result.file, error: { code: 'unreadable', message: result.message } });
  else writeLines(io.stderr, [`bounded golden: ${result.message}`]);
  return EXIT.usage;
}
