import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { captureIo, tempDir } from './test-utils/io.js';

let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dir = await tempDir();
  await dir.write(
    'agent.mjs',
    `export async function agent(run, input, context) {
  await run.step();
  run.usage({ inputTokens: 100, outputTokens: 10 });
  const calls = context.options.calls ?? 1;
  for (let i = 0; i < calls; i++) await run.tool('kb.read', { q: input.q, i }, async () => 'article');
  return 'answer: ' + input.q;
}
`,
  );
  await dir.write('same.yaml', 'policy: { tools: { allow: ["kb.read"] } }\nagent: ./agent.mjs\n');
  await dir.write(
    'more.yaml',
    'policy: { tools: { allow: ["kb.read"] } }\nagent: ./agent.mjs\noptions: { calls: 2 }\n',
  );
  await dir.write(
    'suite.yaml',
    `name: small
runs: 3
tasks:
  - id: one
    input: { q: hello }
    expect: { status: ok, tool_path: [kb.read], answer: "answer: hello" }
`,
  );
});

afterAll(async () => {
  await dir.remove();
});

async function cli(...argv: string[]) {
  const captured = captureIo();
  const code = await runCli(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

const at = (file: string) => `${dir.path}/${file}`;

describe('bounded golden run', () => {
  it('passes identical configs and flags one that calls more tools', async () => {
    const same = await cli(
      'golden',
      'run',
      at('suite.yaml'),
      '--baseline',
      at('same.yaml'),
      '--candidate',
      at('same.yaml'),
    );
    expect(same.stderr).toBe('');
    expect(same.code).toBe(0);
    const more = await cli(
      'golden',
      'run',
      at('suite.yaml'),
      '--baseline',
      at('same.yaml'),
      '--candidate',
      at('more.yaml'),
      '--json',
    );
    expect(more.code).toBe(4);
    const report = JSON.parse(more.stdout);
    expect(report.drifted).toEqual(['tool_calls_per_run', 'answer_checks']);
    expect(report.tasks[0].failedChecks).toEqual([
      { variant: 'candidate', check: 'tool path', detail: 'expected kb.read, got kb.read ×2', runs: 3 },
    ]);
  });

  it('lists every problem of a suite with its line and key path (exit 1)', async () => {
    const bad = await dir.write(
      'bad.yaml',
      `name: bad
runs: -1
thresholds: { stop_reason: 0.1, tokens_per_run: "a lot" }
tasks:
  - id: one
    expect: { status: ok, tool_pth: [kb.read], answer: { starts: "x" } }
  - id: one
`,
    );
    const { code, stdout } = await cli(
      'golden',
      'run',
      bad,
      '--baseline',
      at('same.yaml'),
      '--candidate',
      at('same.yaml'),
    );
    expect(code).toBe(1);
    expect(stdout).toMatch(/bad\.yaml:2:7 +runs +expected a whole number above 0, got number -1/);
    expect(stdout).toMatch(
      /bad\.yaml:3:\d+ +thresholds\.stop_reason +unknown key "stop_reason"; did you mean "stop_reasons"\?/,
    );
    expect(stdout).toMatch(/thresholds\.tokens_per_run +expected a number 0 or more, got string "a lot"/);
    expect(stdout).toMatch(
      /bad\.yaml:6:\d+ +tasks\[0\]\.expect\.tool_pth +unknown key "tool_pth"; did you mean "tool_path"\?/,
    );
    expect(stdout).toMatch(/tasks\[0\]\.expect\.answer\.starts +unknown answer check "starts"/);
    expect(stdout).toMatch(/bad\.yaml:7:\d+ +tasks\[1\]\.id +task id "one" is used twice/);
    expect(stdout).toMatch(/invalid .*bad\.yaml: 6 problems$/m);
  });

  it('names a config without an agent, a module that exports none, and usage mistakes', async () => {
    const noAgent = await dir.write('no-agent.yaml', 'policy: {}\n');
    const r1 = await cli('golden', 'run', at('suite.yaml'), '--baseline', noAgent, '--candidate', at('same.yaml'));
    expect(r1.code).toBe(1);
    expect(r1.stdout).toMatch(/agent +expected the agent module's path/);
    await dir.write('empty.mjs', 'export const nothing = 1;\n');
    const empty = await dir.write('empty.yaml', 'policy: {}\nagent: ./empty.mjs\n');
    const r2 = await cli('golden', 'run', at('suite.yaml'), '--baseline', empty, '--candidate', at('same.yaml'));
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('exports no function: export `agent(run, input, context)`');
    expect((await cli('golden', at('suite.yaml'))).stderr).toContain('unknown verb');
    expect((await cli('golden', 'run', at('suite.yaml'))).stderr).toContain('missing --baseline');
  });
});
