import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, tempDir } from './test-utils/io.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

let dir: Awaited<ReturnType<typeof tempDir>>;
let policy: string;

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error('dist/bin.js is missing: run the package\'s "test" script, which builds first');
  dir = await tempDir();
  policy = join(dir.path, 'default.yaml');
  await copyFile(DEFAULT_POLICY, policy);
});

afterAll(async () => {
  await dir?.remove();
});

/** Runs the built binary with node; resolves with the exit code instead of rejecting on a non-zero one. */
async function bounded(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { FORCE_COLOR: _force, ...inherited } = process.env;
  const env = { ...inherited, NO_COLOR: '1' };
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env, cwd: dir.path });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('the bounded binary', () => {
  it('validates a policy file given relative to the working directory', async () => {
    const { code, stdout, stderr } = await bounded('validate', 'default.yaml');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(
      'ok default.yaml: mode workflow (agent for exceptions), budgets steps 25 · tool calls 12 · 60s, ' +
        '3 allowed tools, writes need approval, enforce\n',
    );
  });

  it('sets the exit code: 3 for a denied tool, 2 for an unknown command', async () => {
    const denied = await bounded('explain', policy, '--tool', 'shell.exec', '--json');
    expect(denied.code).toBe(3);
    expect(JSON.parse(denied.stdout).verdict.reason).toBe('tool_denied:shell.exec');

    const unknown = await bounded('valdate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('did you mean "validate"?');
  });

  it('starts with a shebang so it runs as an executable', async () => {
    expect((await readFile(BIN, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});
