import type { PolicyIssue } from '@bounded/core';
import { type CliIo, columns, createStyle, useColor, writeJson, writeLines } from './io.js';
import type { PolicyFileResult } from './policy-file.js';
import { plural } from './summary.js';

/** A policy issue as `--json` prints it: every key always present. */
export interface JsonIssue {
  readonly path: string;
  readonly message: string;
  readonly line: number | null;
  readonly column: number | null;
}

export function jsonIssue(issue: PolicyIssue): JsonIssue {
  return { path: issue.path, message: issue.message, line: issue.line ?? null, column: issue.column ?? null };
}

/**
 * One issue a line, `file:line:col  key.path  message`, columns aligned, then a count line.
 * An issue about the whole document shows `(document)` as its path.
 */
export function formatIssues(file: string, issues: readonly PolicyIssue[], color = false): string[] {
  const style = createStyle(color);
  const rows = issues.map(issue => [
    issue.line === undefined ? file : `${file}:${issue.line}${issue.column ? `:${issue.column}` : ''}`,
    issue.path || '(document)',
    issue.message,
  ]);
  const lines = columns(rows, {
    style: (column, cell) => (column === 0 ? style.bold(cell) : column === 1 ? style.cyan(cell) : cell),
  });
  lines.push(`${style.red('invalid')} ${file}: ${plural(issues.length, 'problem')}`);
  return lines;
}

/** Prints a policy that did not load (invalid or unreadable) and returns its exit code. */
export function reportPolicyFailure(
  io: CliIo,
  command: string,
  result: Exclude<PolicyFileResult, { status: 'ok' }>,
  json: boolean,
): 1 | 2 {
  if (result.status === 'invalid') {
    if (json) writeJson(io.stdout, { ok: false, file: result.file, issues: result.issues.map(jsonIssue) });
    else writeLines(io.stdout, formatIssues(result.file, result.issues, useColor(io.stdout, io.env)));
    return 1;
  }
  if (json)
    writeJson(io.stdout, { ok: false, file: result.file, error: { code: 'unreadable', message: result.message } });
  else writeLines(io.stderr, [`bounded ${command}: ${result.message}`]);
  return 2;
}
