import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { captureIo, DEFAULT_POLICY, tempDir } from './test-utils/io.js';

const BAD_POLICY = `mode:
  default: agent
budgets:
  max_steps: "ten"
  max_tool_calls: -3
tools:
  alow: ["kb.read"]
`;

let dir: Awaited<ReturnType<typeof tempDir>>;
let defaultCopy: string;
let bad: string;

beforeAll(async () => {
  dir = await tempDir();
  defaultCopy = join(dir.path, 'default.yaml');
  await copyFile(DEFAULT_POLICY, defaultCopy);
  bad = await dir.write('bad.yaml', BAD_POLICY);
});

afterAll(async () => {
  await dir.remove();
});

async function validate(...argv: string[]) {
  const captured = captureIo();
  const code = await runCli(['validate', ...argv], captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

describe('bounded validate', () => {
  it('prints a one-line summary of a valid policy and exits 0', async () => {
    const { code, stdout, stderr } = await validate(defaultCopy);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toBe(
      `ok ${defaultCopy}: mode workflow (agent for exceptions), budgets steps 25 · tool calls 12 · 60s, ` +
        '3 allowed tools, writes need approval, enforce\n',
    );
  });

  it('lists every problem with file:line:col, key path and message, then a count, and exits 1', async () => {
    const { code, stdout, stderr } = await validate(bad);
    expect(code).toBe(1);
    expect(stderr).toBe('');
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(
      new RegExp(`^${escapeRegExp(bad)}:4:14 +budgets\\.max_steps +expected .*got string "ten"$`),
    );
    expect(lines[1]).toMatch(
      new RegExp(`^${escapeRegExp(bad)}:5:19 +budgets\\.max_tool_calls +must be 0 or more, got number -3$`),
    );
    expect(lines[2]).toMatch(
      new RegExp(`^${escapeRegExp(bad)}:7:3 +tools\\.alow +unknown key "alow" in tools; did you mean "allow"\\?$`),
    );
    expect(lines[3]).toBe(`invalid ${bad}: 3 problems`);
    // The columns line up: key paths and messages start at the same place on every line.
    const widths = lines.slice(0, 3).map(line =>
      /^(\S+ +)(\S+ +)/
        .exec(line)
        ?.slice(1)
        .map(cell => cell.length)
        .join(),
    );
    expect(new Set(widths).size).toBe(1);
  });

  it('--json prints { ok: true, file, summary, policy } with defaults filled in', async () => {
    const { code, stdout } = await validate(defaultCopy, '--json');
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      ok: true,
      file: defaultCopy,
      summary: expect.stringContaining('mode workflow (agent for exceptions)'),
      policy: {
        version: 1,
        enforcement: 'enforce',
        budgets: { max_steps: 25 },
        tools: { allow: ['kb.read', 'search.read', 'http.get'] },
      },
    });
    expect(result.policy.writes.approval_timeout_seconds).toBe(300);
  });

  it('--json prints { ok: false, file, issues } for an invalid policy', async () => {
    const { code, stdout } = await validate('--json', bad);
    expect(code).toBe(1);
    const result = JSON.parse(stdout);
    expect(result.ok).toBe(false);
    expect(result.file).toBe(bad);
    expect(result.issues).toEqual([
      { path: 'budgets.max_steps', message: expect.stringContaining('"ten"'), line: 4, column: 14 },
      { path: 'budgets.max_tool_calls', message: expect.stringContaining('-3'), line: 5, column: 19 },
      { path: 'tools.alow', message: expect.stringContaining('did you mean "allow"'), line: 7, column: 3 },
    ]);
  });

  it('reports YAML syntax errors with their line', async () => {
    const file = await dir.write('syntax.yaml', 'budgets:\n  max_steps: [1, 2\n');
    const { code, stdout } = await validate(file);
    expect(code).toBe(1);
    expect(stdout).toMatch(new RegExp(`^${escapeRegExp(file)}:\\d+:\\d+ +\\(document\\) +invalid YAML`));
    expect(stdout).toContain('1 problem\n');
  });

  it('accepts an empty file as the all-defaults policy', async () => {
    const file = await dir.write('empty.yaml', '');
    const { code, stdout } = await validate(file);
    expect(code).toBe(0);
    expect(stdout).toBe(`ok ${file}: mode agent, no budgets, all tools allowed, writes need approval, enforce\n`);
  });

  it('exits 2 when the file cannot be read, in text and in JSON', async () => {
    const missing = join(dir.path, 'missing.yaml');
    const text = await validate(missing);
    expect(text.code).toBe(2);
    expect(text.stdout).toBe('');
    expect(text.stderr).toBe(`bounded validate: cannot read ${missing}: file not found\n`);

    const json = await validate(missing, '--json');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      file: missing,
      error: { code: 'unreadable', message: `cannot read ${missing}: file not found` },
    });

    const folder = join(dir.path, 'folder.yaml');
    await mkdir(folder);
    const directory = await validate(folder);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain('it is a directory');
  });

  it('treats a file name that looks like policy text as a file name', async () => {
    const file = await dir.write('{braces}.yaml', 'budgets: { max_steps: 3 }\n');
    const { code, stdout } = await validate(file);
    expect(code).toBe(0);
    expect(stdout).toContain('budgets steps 3');
  });

  it('exits 2 on usage errors: no file, two files, unknown option', async () => {
    const none = await validate();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('missing the policy file');
    expect(none.stderr).toContain('bounded validate --help');

    const two = await validate(defaultCopy, bad);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('takes one policy file, got 2');

    const unknown = await validate(defaultCopy, '--jsn');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown option --jsn (did you mean --json?)');

    const valued = await validate(defaultCopy, '--json=yes');
    expect(valued.code).toBe(2);
    expect(valued.stderr).toContain('--json takes no value');
  });

  it('prints a usage error as JSON when --json is given', async () => {
    const { code, stdout, stderr } = await validate('--json');
    expect(code).toBe(2);
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual({
      ok: false,
      error: { code: 'usage', message: expect.stringContaining('missing the policy file') },
    });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
