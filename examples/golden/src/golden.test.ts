import { fileURLToPath } from 'node:url';
import { runCli } from '@bounded/cli';
import { describe, expect, it } from 'vitest';

const here = (file: string) => fileURLToPath(new URL(`../${file}`, import.meta.url));

async function golden(baseline: string, candidate: string, ...extra: string[]) {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: {
      write: (chunk: string) => {
        stdout += chunk;
      },
    },
    stderr: {
      write: (chunk: string) => {
        stderr += chunk;
      },
    },
  };
  const code = await runCli(
    ['golden', 'run', here('suite.yaml'), '--baseline', here(baseline), '--candidate', here(candidate), ...extra],
    io,
  );
  return { code, stdout, stderr };
}

describe('the golden suite', () => {
  it('passes when the candidate is the baseline', async () => {
    const { code, stdout, stderr } = await golden('baseline.yaml', 'baseline.yaml');
    expect(stderr).toBe('');
    expect(stdout).toContain('no drift: the candidate stays within every threshold');
    expect(code).toBe(0);
  });

  it('flags the candidate that loops on search: exit 4, the drift named', async () => {
    const { code, stdout } = await golden('baseline.yaml', 'candidate.yaml');
    expect(code).toBe(4);
    expect(stdout).toMatch(/^stop reasons +ok 15 +max_tool_calls 10, ok 5 +66\.7% of runs moved +DRIFT/m);
    expect(stdout).toMatch(/^tool calls per run +1\.67 +3 +\+80% +DRIFT/m);
    expect(stdout).toMatch(/^answer checks +60\/60 \(100\.0%\) +20\/60 \(33\.3%\) +-66\.7 points +DRIFT/m);
    expect(stdout).toContain(
      'replacement-part: candidate failed tool path in 5 runs (expected search.read → kb.read, got search.read ×4)',
    );
    expect(stdout).toContain('drift: stop reasons, tool calls per run, tokens per run, answer checks (exit 4)');

    const json = await golden('baseline.yaml', 'candidate.yaml', '--json', '--runs', '2');
    expect(json.code).toBe(4);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ ok: false, runs: 2 });
    expect(report.drifted).toEqual(['stop_reasons', 'tool_calls_per_run', 'tokens_per_run', 'answer_checks']);
    const looping = report.tasks.find((t: { task: string }) => t.task === 'replacement-part');
    expect(looping.paths.candidate).toEqual(['search.read', 'search.read', 'search.read', 'search.read']);
    expect(looping.candidate.stopReasons).toEqual({ max_tool_calls: 2 });
  });
});
