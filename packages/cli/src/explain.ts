import { createGovernor, type Policy, STOP_REASONS, stopKind, type ToolVerdict } from '@bounded/core';
import { CliUsageError, parseCommandArgs } from './args.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { type CliIo, columns, createStyle, type Style, useColor, writeJson, writeLines } from './io.js';
import { readPolicyFile } from './policy-file.js';
import { reportPolicyFailure } from './report.js';
import { formatUsd } from './summary.js';
import { requireOnePolicyFile } from './usage.js';

export const EXPLAIN_OPTIONS = {
  tool: { type: 'string' },
  args: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const EXPLAIN_HELP = `Say what a policy decides for one tool call, and which rule decides it, without running anything.

Usage
  bounded explain <policy-file> --tool <name> [--args <json>] [--json]

Options
  --tool <name>  The tool, as the agent calls it (e.g. kb.read)
  --args <json>  The call's arguments as JSON, for auto-approve rules that look at them
                 (e.g. --args '{"amount": 20}'); a value starting with "-" needs --args=<json>
  --json         Print one JSON document:
                 { ok: true, file, tool, args, verdict, enforcement, onRefusal }
                 (an invalid policy prints { ok: false, file, issues } as validate does)
  -h, --help     Show this help

Exit codes
  0  the call is allowed, auto-approved, or needs approval
  1  the policy is invalid (every problem is listed)
  2  usage error (missing --tool, --args not JSON), or the file cannot be read
  3  the call is denied

Example
  bounded explain examples/policies/default.yaml --tool kb.read`;

const DECISION_LABEL: Readonly<Record<ToolVerdict['decision'], string>> = {
  allow: 'allow',
  deny: 'deny',
  approval_required: 'approval required',
  auto_approved: 'auto-approved',
};

/** `bounded explain <policy-file> --tool <name> [--args <json>] [--json]`. Throws CliUsageError for a bad command line. */
export async function explainCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, EXPLAIN_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [EXPLAIN_HELP]);
    return EXIT.ok;
  }
  const json = values.json === true;
  const file = requireOnePolicyFile('explain', positionals);
  const tool = values.tool;
  if (typeof tool !== 'string') throw new CliUsageError('missing --tool <name>: which tool call should be explained?');
  if (tool.trim() === '') throw new CliUsageError('--tool needs a non-empty tool name');
  const args = typeof values.args === 'string' ? parseJsonArgs(values.args) : undefined;

  const result = await readPolicyFile(file);
  if (result.status !== 'ok') return reportPolicyFailure(io, 'explain', result, json);
  const governor = createGovernor({ policy: result.policy });
  let verdict: ToolVerdict;
  try {
    verdict = await governor.explain(tool, args);
  } finally {
    governor.close();
  }

  if (json) {
    writeJson(io.stdout, {
      ok: true,
      file,
      tool,
      args: args ?? null,
      verdict: jsonVerdict(verdict),
      enforcement: result.policy.enforcement,
      onRefusal: result.policy.tools.on_refusal,
    });
  } else {
    const color = useColor(io.stdout, io.env);
    writeLines(io.stdout, formatVerdict(verdict, { file, policy: result.policy, args, color }));
  }
  return verdict.decision === 'deny' ? EXIT.denied : EXIT.ok;
}

/** `--args` as JSON, or a usage error that says what is wrong with it. */
export function parseJsonArgs(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliUsageError(`--args is not valid JSON: ${reason}`);
  }
}

/** A verdict as `--json` prints it: every key always present (`null` when not set). */
export function jsonVerdict(verdict: ToolVerdict): Record<string, unknown> {
  return {
    tool: verdict.tool,
    decision: verdict.decision,
    rule: verdict.rule,
    detail: verdict.detail,
    reason: verdict.reason ?? null,
    write: verdict.write,
    idempotent: verdict.idempotent,
    perToolLimit: verdict.perToolLimit ?? null,
    costUsd: verdict.costUsd,
    recordContent: verdict.recordContent,
  };
}

export interface FormatVerdictOptions {
  readonly file: string;
  readonly policy: Policy;
  readonly args?: unknown;
  readonly color?: boolean;
}

/** The verdict as aligned `label  value` lines. */
export function formatVerdict(verdict: ToolVerdict, options: FormatVerdictOptions): string[] {
  const { policy } = options;
  const style = createStyle(options.color ?? false);
  const tool = verdict.tool;
  const rows: string[][] = [
    ['policy', options.file],
    ['tool', tool],
  ];
  if (options.args !== undefined) rows.push(['args', JSON.stringify(options.args)]);
  rows.push(['decision', DECISION_LABEL[verdict.decision]], ['rule', verdict.rule], ['detail', verdict.detail]);

  if (verdict.decision === 'deny' && verdict.reason) {
    rows.push(['stop reason', verdict.reason]);
    const info = STOP_REASONS.find(entry => entry.kind === stopKind(verdict.reason!));
    if (info) rows.push(['', info.description]);
    rows.push(['on refusal', refusalEffect(policy)]);
  }
  if (verdict.decision === 'approval_required') {
    rows.push(
      ['if rejected', `approval_rejected:${tool}`],
      ['if no answer', `approval_timeout:${tool} after ${policy.writes.approval_timeout_seconds}s`],
      ['on refusal', refusalEffect(policy)],
    );
    for (const rule of verdict.autoApproveRules) rows.push(['auto-approve', rule]);
    if (verdict.autoApproveRules.length > 0 && options.args === undefined) {
      rows.push(['note', 'auto-approve rules name this tool: pass --args to check their conditions']);
    }
  }
  rows.push(
    ['write', verdict.writeRule ? `yes (${verdict.writeRule})` : yesNo(verdict.write)],
    ['idempotent', yesNo(verdict.idempotent)],
    [
      'per-tool limit',
      verdict.perToolLimit === undefined ? 'none' : `${verdict.perToolLimit} calls per run (${verdict.perToolRule})`,
    ],
    ['cost', `${formatUsd(verdict.costUsd)} per call`],
    ['record content', yesNo(verdict.recordContent)],
  );
  if (policy.enforcement === 'shadow') {
    rows.push(['enforcement', 'shadow: refusals are recorded, not enforced; the call would run']);
  }
  return columns(rows, {
    style: (column, cell) => (column === 0 ? style.dim(cell) : cell),
  }).map((line, index) => (rows[index]?.[0] === 'decision' ? highlightDecision(line, verdict, style) : line));
}

function refusalEffect(policy: Policy): string {
  return policy.tools.on_refusal === 'stop'
    ? 'the run stops (tools.on_refusal: stop)'
    : 'only this call fails; the run goes on (tools.on_refusal: continue)';
}

function highlightDecision(line: string, verdict: ToolVerdict, style: Style): string {
  const label = DECISION_LABEL[verdict.decision];
  const paint =
    verdict.decision === 'deny' ? style.red : verdict.decision === 'approval_required' ? style.yellow : style.green;
  return line.endsWith(label) ? line.slice(0, line.length - label.length) + style.bold(paint(label)) : line;
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}
