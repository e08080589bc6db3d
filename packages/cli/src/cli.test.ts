import { readFile } from 'node:fs/promises';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { captureIo, DEFAULT_POLICY } from './test-utils/io.js';

async function cli(argv: string[], options: Parameters<typeof captureIo>[0] = {}) {
  const captured = captureIo(options);
  const code = await runCli(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

const ALL = 'validate, explain, mine, golden, canary, report, audit, kill, revive, approvals';

describe('bounded', () => {
  it('--help lists the commands, the options and the exit codes', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await cli([flag]);
      expect(code).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toMatch(/^ {2}validate <policy-file>\n {6}Check a policy file/m);
      expect(stdout).toMatch(/^ {2}explain <policy-file> --tool <name>\n {6}Say what the policy decides/m);
      expect(stdout).toContain('Exit codes');
      expect(stdout).toMatch(/^ {2}3 {2}explain: the tool call is denied$/m);
      expect(stdout).toMatch(
        /^ {2}mine <traces> \| --jaeger <url> --service <name>\n {6}Find the common tool-call paths/m,
      );
      // Readable in a 100-column terminal.
      for (const line of stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
      expect(stdout).toMatch(/^ {2}4 {2}golden run, canary report: the candidate drifted past a threshold$/m);
      expect(stdout).toMatch(/^ {2}6 {2}Jaeger, Prometheus or Redis cannot be reached$/m);
    }
  });

  it("every command's help fits a 100-column terminal", async () => {
    for (const name of ALL.split(', ')) {
      const { code, stdout } = await cli([name, '--help']);
      expect(code, name).toBe(0);
      for (const line of stdout.split('\n')) expect(line.length, `${name}: ${line}`).toBeLessThanOrEqual(100);
    }
  });

  it('<command> --help and help <command> show that command', async () => {
    const validate = await cli(['validate', '--help']);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain('bounded validate <policy-file> [--json]');

    const explain = await cli(['help', 'explain']);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toContain('bounded explain <policy-file> --tool <name> [--args <json>] [--json]');
    expect(explain.stdout).toMatch(/^ {2}3 {2}the call is denied$/m);

    const short = await cli(['explain', '-h']);
    expect(short.stdout).toBe(explain.stdout);
  });

  it('--version prints the version from package.json', async () => {
    const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
    for (const flag of ['--version', '-v']) {
      const { code, stdout } = await cli([flag]);
      expect(code).toBe(0);
      expect(stdout).toBe(`${manifest.version}\n`);
    }
    const json = await cli(['--version', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, version: manifest.version });
  });

  it('with no arguments prints the help on stderr and exits 2', async () => {
    const { code, stdout, stderr } = await cli([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('Usage');
  });

  it('exits 2 on an unknown command, with the commands and a "did you mean"', async () => {
    const typo = await cli(['valdiate', DEFAULT_POLICY]);
    expect(typo.code).toBe(2);
    expect(typo.stdout).toBe('');
    expect(typo.stderr).toBe(
      `bounded: unknown command "valdiate"; did you mean "validate"? Commands: ${ALL}.\n` +
        'Run "bounded --help" for usage.\n',
    );

    const prefix = await cli(['expl']);
    expect(prefix.stderr).toContain('did you mean "explain"?');

    const far = await cli(['deploy']);
    expect(far.code).toBe(2);
    expect(far.stderr).not.toContain('did you mean');
    expect(far.stderr).toContain(`Commands: ${ALL}.`);

    const option = await cli(['--verbose']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain(`unknown option --verbose. Commands: ${ALL}.`);

    const misspelled = await cli(['--verison']);
    expect(misspelled.stderr).toContain('unknown option --verison; did you mean --version?');

    const early = await cli(['--tool', 'kb.read', 'explain']);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('--tool goes after the command (bounded <command> --tool).');

    const helpTopic = await cli(['help', 'explian']);
    expect(helpTopic.code).toBe(2);
    expect(helpTopic.stderr).toContain('did you mean "explain"?');
  });

  it('an unknown command with --json answers in JSON', async () => {
    const { code, stdout, stderr } = await cli(['lint', '--json']);
    expect(code).toBe(2);
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual({
      ok: false,
      error: {
        code: 'usage',
        message: expect.stringContaining('unknown command "lint"'),
        commands: ALL.split(', '),
      },
    });
  });

  it('uses colors only on a terminal, and never with NO_COLOR', async () => {
    const ESC = '\u001b[';
    const plain = await cli(['validate', DEFAULT_POLICY]);
    expect(plain.stdout).not.toContain(ESC);

    const tty = await cli(['validate', DEFAULT_POLICY], { tty: true });
    expect(tty.stdout).toContain(`${ESC}32mok${ESC}39m`);

    const noColor = await cli(['validate', DEFAULT_POLICY], { tty: true, env: { NO_COLOR: '1' } });
    expect(noColor.stdout).toBe(plain.stdout);

    const denied = await cli(['explain', DEFAULT_POLICY, '--tool', 'shell.exec'], { tty: true });
    expect(denied.code).toBe(3);
    expect(denied.stdout).toContain(`${ESC}31mdeny${ESC}39m`);
    // Alignment is computed on the text, not on the escape codes.
    const stripped = stripVTControlCharacters(denied.stdout);
    const undecorated = await cli(['explain', DEFAULT_POLICY, '--tool', 'shell.exec']);
    expect(stripped).toBe(undecorated.stdout);
  });
});
