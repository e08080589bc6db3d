import { parseCommandArgs } from './args.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { type CliIo, createStyle, useColor, writeJson, writeLines } from './io.js';
import { readPolicyFile } from './policy-file.js';
import { reportPolicyFailure } from './report.js';
import { summarizePolicy } from './summary.js';
import { requireOnePolicyFile } from './usage.js';

export const VALIDATE_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const VALIDATE_HELP = `Check a policy file: every problem with its line and key path, or a one-line summary.

Usage
  bounded validate <policy-file> [--json]

Options
  --json      Print one JSON document: { ok: true, file, summary, policy } with every default
              filled in, or { ok: false, file, issues: [{ path, message, line, column }] }
  -h, --help  Show this help

Exit codes
  0  the policy is valid
  1  the policy is invalid (every problem is listed)
  2  usage error, or the file cannot be read

Example
  bounded validate examples/policies/default.yaml`;

/** `bounded validate <policy-file> [--json]`. Throws CliUsageError for a bad command line. */
export async function validateCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, VALIDATE_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [VALIDATE_HELP]);
    return EXIT.ok;
  }
  const json = values.json === true;
  const file = requireOnePolicyFile('validate', positionals);
  const result = await readPolicyFile(file);
  if (result.status !== 'ok') return reportPolicyFailure(io, 'validate', result, json);
  const summary = summarizePolicy(result.policy);
  if (json) {
    writeJson(io.stdout, { ok: true, file, summary, policy: result.policy });
  } else {
    const style = createStyle(useColor(io.stdout, io.env));
    writeLines(io.stdout, [`${style.green('ok')} ${file}: ${summary}`]);
  }
  return EXIT.ok;
}
