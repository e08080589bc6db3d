import { CliUsageError, wantsJson } from './args.js';
import { AUDIT_HELP, auditCommand } from './audit.js';
import { CANARY_HELP, canaryCommand } from './canary.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { EXPLAIN_HELP, explainCommand } from './explain.js';
import { GOLDEN_HELP, goldenCommand } from './golden.js';
import { type CliIo, writeJson, writeLines } from './io.js';
import { MINE_HELP, mineCommand } from './mine.js';
import { APPROVALS_HELP, approvalsCommand, KILL_HELP, killCommand, REVIVE_HELP, reviveCommand } from './operator.js';
import { REPORT_HELP, reportCommand } from './run-report.js';
import { didYouMean } from './suggest.js';
import { VALIDATE_HELP, validateCommand } from './validate.js';
import { cliVersion } from './version.js';

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly help: string;
  readonly run: (argv: readonly string[], io: CliIo) => Promise<ExitCode>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  validate: {
    summary: 'Check a policy file; print its problems or a one-line summary',
    usage: 'validate <policy-file>',
    help: VALIDATE_HELP,
    run: validateCommand,
  },
  explain: {
    summary: 'Say what the policy decides for one tool call, and which rule decides',
    usage: 'explain <policy-file> --tool <name>',
    help: EXPLAIN_HELP,
    run: explainCommand,
  },
  mine: {
    summary: 'Find the common tool-call paths in traces; write them as a workflow',
    usage: 'mine <traces> | --jaeger <url> --service <name>',
    help: MINE_HELP,
    run: mineCommand,
  },
  golden: {
    summary: 'Run golden tasks under a baseline and a candidate config; fail on drift',
    usage: 'golden run <suite> --baseline <config> --candidate <config>',
    help: GOLDEN_HELP,
    run: goldenCommand,
  },
  canary: {
    summary: "Compare a canary's candidate with its baseline (Prometheus or traces); fail on drift",
    usage: 'canary report --prometheus <url> | <traces>',
    help: CANARY_HELP,
    run: canaryCommand,
  },
  report: {
    summary: 'Summarize runs from an audit log or traces; --html: a timeline per run',
    usage: 'report <audit.jsonl | traces> [--html <out.html>]',
    help: REPORT_HELP,
    run: reportCommand,
  },
  audit: {
    summary: "Verify an audit log's hash chain",
    usage: 'audit verify <audit.jsonl>',
    help: AUDIT_HELP,
    run: auditCommand,
  },
  kill: {
    summary: 'Throw the kill switch (global, agent, run) for every process sharing Redis',
    usage: 'kill --global | --agent <name> | --run <id>',
    help: KILL_HELP,
    run: killCommand,
  },
  revive: {
    summary: 'Undo a kill: new runs of the target are allowed again',
    usage: 'revive --global | --agent <name> | --run <id>',
    help: REVIVE_HELP,
    run: reviveCommand,
  },
  approvals: {
    summary: 'List, approve or reject the writes waiting in the Redis approval queue',
    usage: 'approvals list | approve <id> | reject <id>',
    help: APPROVALS_HELP,
    run: approvalsCommand,
  },
};

/** Options of the commands, which are not options of `bounded` itself. */
const COMMAND_OPTIONS: ReadonlySet<string> = new Set([
  '--json',
  '--tool',
  '--args',
  '--jaeger',
  '--service',
  '--agent',
  '--html',
  '--baseline',
  '--candidate',
  '--prometheus',
  '--redis',
]);

/** The commands `bounded` knows, in the order `--help` lists them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** The text of `bounded --help`. */
export function mainHelp(): string {
  // The usage on its line, what it does under it: side by side, the longest pair ran to 150 columns.
  const commands = COMMAND_NAMES.map(name => {
    const command = COMMANDS[name]!;
    return `  ${command.usage}\n      ${command.summary}`;
  });
  return `bounded ${cliVersion()}: check Bounded policies, mine traces for workflows, catch drift with golden tasks
and canaries, report runs, and operate the kill switch and approvals.

Usage
  bounded <command> [options]

Commands
${commands.join('\n')}

Options
  --json         Machine-readable output: one JSON document on stdout (every command)
  -h, --help     Show help; bounded <command> --help shows a command's options
  -v, --version  Print the version

Exit codes
  0  ok: the policy is valid, the call is allowed or needs approval, no drift, the chain is intact
  1  invalid input: a policy, suite, config or trace file with problems (each listed), no runs to
     mine or report, no waiting approval with that id
  2  usage error (unknown command or option, bad --args), a file that cannot be read
  3  explain: the tool call is denied
  4  golden run, canary report: the candidate drifted past a threshold
  5  audit verify: the audit log's chain is broken
  6  Jaeger, Prometheus or Redis cannot be reached

Colors are used only on a terminal, never with NO_COLOR set.

Examples
  bounded validate examples/policies/default.yaml
  bounded explain examples/policies/default.yaml --tool payments.refund --args '{"amount": 20}'
  bounded mine --jaeger http://127.0.0.1:16686 --service bounded-demo --since 24h
  bounded golden run suite.yaml --baseline baseline.yaml --candidate candidate.yaml
  bounded report audit.jsonl --html runs.html
  bounded kill --agent support-agent --reason "runaway spend"`;
}

/**
 * Runs the `bounded` command line (without `node` and the script: `process.argv.slice(2)`) and returns the exit
 * code. Everything goes through `io`; nothing here exits the process, so tests call it in-process.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    writeLines(io.stderr, [mainHelp()]);
    return EXIT.usage;
  }
  if (first === '-h' || first === '--help') {
    writeLines(io.stdout, [mainHelp()]);
    return EXIT.ok;
  }
  if (first === '-v' || first === '--version') {
    if (wantsJson(rest)) writeJson(io.stdout, { ok: true, version: cliVersion() });
    else writeLines(io.stdout, [cliVersion()]);
    return EXIT.ok;
  }
  if (first === 'help') return help(rest, io);
  const command = COMMANDS[first];
  if (!command) return unknownCommand(first, argv, io);
  const json = wantsJson(rest);
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof CliUsageError) {
      if (json) writeJson(io.stdout, { ok: false, error: { code: 'usage', message: error.message } });
      else writeLines(io.stderr, [`bounded ${first}: ${error.message}`, `Run "bounded ${first} --help" for usage.`]);
      return EXIT.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (json) writeJson(io.stdout, { ok: false, error: { code: 'internal', message } });
    else writeLines(io.stderr, [`bounded ${first}: unexpected error: ${message}`]);
    return EXIT.usage;
  }
}

function help(rest: readonly string[], io: CliIo): ExitCode {
  const name = rest[0];
  if (name === undefined) {
    writeLines(io.stdout, [mainHelp()]);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) return unknownCommand(name, rest, io);
  writeLines(io.stdout, [command.help]);
  return EXIT.ok;
}

function unknownCommand(name: string, argv: readonly string[], io: CliIo): ExitCode {
  let what: string;
  if (!name.startsWith('-')) {
    const hint = didYouMean(name, COMMAND_NAMES);
    what = `unknown command "${name}"${hint ? `; did you mean "${hint}"?` : '.'}`;
  } else if (COMMAND_OPTIONS.has(name.split('=')[0]!)) {
    what = `${name.split('=')[0]} goes after the command (bounded <command> ${name.split('=')[0]}).`;
  } else {
    const hint = name.startsWith('--') ? didYouMean(name, ['--help', '--version']) : undefined;
    what = `unknown option ${name}${hint ? `; did you mean ${hint}?` : '.'}`;
  }
  const message = `${what} Commands: ${COMMAND_NAMES.join(', ')}.`;
  if (wantsJson(argv)) {
    writeJson(io.stdout, { ok: false, error: { code: 'usage', message, commands: COMMAND_NAMES } });
  } else {
    writeLines(io.stderr, [`bounded: ${message}`, 'Run "bounded --help" for usage.']);
  }
  return EXIT.usage;
}
