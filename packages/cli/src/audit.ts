import { stat } from 'node:fs/promises';
import { verifyAuditLog } from '@bounded/core';
import { CliUsageError, parseCommandArgs } from './args.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { type CliIo, columns, createStyle, useColor, writeJson, writeLines } from './io.js';
import { formatInt } from './stats.js';

export const AUDIT_OPTIONS = {
  'key-env': { type: 'string' },
  'last-hash': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const AUDIT_HELP = `Check an audit log's hash chain: every edited, inserted, removed or reordered record is named.

Usage
  bounded audit verify <audit.jsonl> [--key-env <VAR>] [--last-hash <hash>] [--json]

Options
  --key-env <VAR>     The environment variable holding the log's HMAC key (auditLog({ key }));
                      the key is never given on the command line
  --last-hash <hash>  The last hash you kept elsewhere: records cut from the end show up as a
                      mismatch
  --json              Print one JSON document:
                      { ok, file, records, lastHash } or { ok: false, problems }
  -h, --help          Show this help

Exit codes
  0  the chain is intact
  2  usage error, or the file cannot be read
  5  the chain is broken (or ends at another hash than --last-hash)

Example
  BOUNDED_AUDIT_KEY=... bounded audit verify audit.jsonl --key-env BOUNDED_AUDIT_KEY`;

/** `bounded audit verify <file>`. Throws CliUsageError for a bad command line. */
export async function auditCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(argv, AUDIT_OPTIONS);
  if (values.help) {
    writeLines(io.stdout, [AUDIT_HELP]);
    return EXIT.ok;
  }
  const json = values.json === true;
  const [verb, ...files] = positionals;
  if (verb !== 'verify') {
    throw new CliUsageError(
      verb === undefined
        ? 'missing the verb: bounded audit verify <audit.jsonl>'
        : `unknown verb "${verb}" (bounded audit verify <audit.jsonl>)`,
    );
  }
  if (files.length !== 1) throw new CliUsageError(`takes one audit log, got ${files.length}`);
  const file = files[0]!;
  let key: string | undefined;
  if (typeof values['key-env'] === 'string') {
    key = io.env?.[values['key-env']];
    if (!key) throw new CliUsageError(`--key-env ${values['key-env']}: that environment variable is not set`);
  }
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw Object.assign(new Error('it is a directory'), { code: 'EISDIR' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = `cannot read ${file}: ${code === 'ENOENT' ? 'file not found' : (error as Error).message}`;
    if (json) writeJson(io.stdout, { ok: false, file, error: { code: 'unreadable', message } });
    else writeLines(io.stderr, [`bounded audit: ${message}`]);
    return EXIT.usage;
  }
  const result = await verifyAuditLog(file, key === undefined ? {} : { key });
  const style = createStyle(useColor(io.stdout, io.env));
  const expected = typeof values['last-hash'] === 'string' ? values['last-hash'] : undefined;
  if (result.ok && (expected === undefined || expected === result.lastHash)) {
    if (json) writeJson(io.stdout, { ok: true, file, records: result.records, lastHash: result.lastHash });
    else
      writeLines(io.stdout, [
        `${style.green('intact')} ${file}: ${formatInt(result.records)} records, last hash ${result.lastHash}`,
      ]);
    return EXIT.ok;
  }
  const problems = result.ok
    ? [
        {
          line: 0,
          kind: 'removed' as const,
          message: `the chain ends at ${result.lastHash}, not at --last-hash ${expected}: records were cut from the end (or another log was given)`,
        },
      ]
    : result.problems;
  if (json) writeJson(io.stdout, { ok: false, file, records: result.records, problems });
  else {
    writeLines(io.stdout, [
      ...columns(problems.map(p => [p.line > 0 ? `${file}:${p.line}` : file, p.kind, p.message])),
      `${style.red('broken')} ${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${formatInt(result.records)} records`,
    ]);
  }
  return EXIT.tampered;
}
