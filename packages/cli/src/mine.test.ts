import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { JsonValueStream } from './json-stream.js';
import { BYTE_AT_A_TIME_MS, captureIo, tempDir } from './test-utils/io.js';
import { scriptedSpans, toJaeger, toOtlp } from './test-utils/traces.js';
import { RunCollector, type RunRecord, toolPath, traceStream } from './traces.js';

const exec = promisify(execFile);
let dir: Awaited<ReturnType<typeof tempDir>>;
let jaegerFile: string;
let otlpFile: string;

// 20 runs: 12 search -> read -> answer (60%), 5 upgrade (25%), 3 that loop on search until the budget stops them.
const MIX = [
  { count: 12, turns: [{ tool: 'search.read' }, { tool: 'kb.read' }, { answer: 'found it' }] },
  { count: 5, turns: [{ tool: 'crm.read' }, { tool: 'crm.update' }, { answer: 'upgraded' }] },
  { count: 3, turns: [{ tool: 'search.read' }] },
];

beforeAll(async () => {
  dir = await tempDir();
  const spans = await scriptedSpans(MIX);
  jaegerFile = await dir.write('traces.json', JSON.stringify(toJaeger(spans), null, 1));
  otlpFile = await dir.write('traces.otlp.json', JSON.stringify(toOtlp(spans)));
});

afterAll(async () => {
  await dir.remove();
});

async function cli(...argv: string[]) {
  const captured = captureIo();
  const code = await runCli(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

describe('bounded mine', () => {
  it('finds the common paths with their share, success, stop reasons, tokens and p95', async () => {
    const out = join(dir.path, 'helper.workflow.ts');
    const { code, stdout, stderr } = await cli('mine', jaegerFile, '--json', '--out', out);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ ok: true, agent: 'helper', mode: 'agent', runs: 20, out });
    expect(result.paths.map((p: { path: string[] }) => p.path)).toEqual([
      ['search.read', 'kb.read'],
      ['crm.read', 'crm.update'],
      ['search.read', 'search.read', 'search.read', 'search.read', 'search.read'],
    ]);
    const [first, second, third] = result.paths;
    expect(first).toMatchObject({ runs: 12, share: 0.6, okRate: 1, stopReasons: { ok: 12 }, tokensPerRun: 330 });
    expect(first.p95Ms).toBeGreaterThan(0);
    expect(second).toMatchObject({ runs: 5, share: 0.25, okRate: 1 });
    expect(third).toMatchObject({
      runs: 3,
      share: 0.15,
      okRate: 0,
      stopReasons: { max_tool_calls: 3 },
      refusedCalls: 3,
    });
    // The loop is common but never ends well: it stays with the agent.
    expect(result.covered.map((p: { path: string[] }) => p.path)).toEqual([first.path, second.path]);
    expect(result.coveredShare).toBeCloseTo(0.85);
    expect(result.agentShare).toBeCloseTo(0.15);
  });

  it('reads OTLP JSON the same as Jaeger JSON, and prints a table', async () => {
    const { code, stdout } = await cli('mine', otlpFile, '--out', join(dir.path, 'otlp.workflow.ts'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^20 agent runs of helper in .*traces\.otlp\.json/);
    expect(stdout).toMatch(/^\* +1\. search\.read → kb\.read +12 +60\.0% +100\.0% +ok 12 +330 /m);
    expect(stdout).toMatch(/^ +3\. search\.read ×5 +3 +15\.0% +0\.0% +max_tool_calls 3/m);
    expect(stdout).toContain(
      '* 2 paths cover 85.0% of runs: the workflow takes them; 15.0% of runs stay with the agent',
    );
  });

  it('writes a workflow skeleton that type-checks and runs: the top path as steps, the rest to the agent', async () => {
    const work = join(dir.path, 'generated');
    await mkdir(join(work, 'node_modules', '@bounded'), { recursive: true });
    const core = fileURLToPath(new URL('../node_modules/@bounded/core', import.meta.url));
    await symlink(core, join(work, 'node_modules', '@bounded', 'core'), 'dir');
    const out = join(work, 'helper.workflow.ts');
    expect((await cli('mine', jaegerFile, '--out', out, '--name', 'helper-flow')).code).toBe(0);
    const source = await readFile(out, 'utf8');
    expect(source).toContain('export function helperFlow<I, O>(options: HelperFlowOptions<I, O>)');
    expect(source).toContain("case 'search.read → kb.read': {");
    expect(source).not.toContain('search.read ×5');

    await writeFile(
      join(work, 'main.ts'),
      `import { createGovernor } from '@bounded/core';
import { helperFlow, MINED_PATHS } from './helper.workflow.js';

declare const console: { log(text: string): void };

type Input = { q: string };
const calls: string[] = [];
const tool = (name: string) => ({
  args: (input: Input) => ({ q: input.q }),
  execute: async (args: unknown) => { calls.push(name); return \`\${name}(\${JSON.stringify(args)})\`; },
});
const workflow = helperFlow<Input, string>({
  tools: { 'search.read': tool('search.read'), 'kb.read': tool('kb.read'), 'crm.read': tool('crm.read'), 'crm.update': tool('crm.update') },
  route: input => (input.q === 'article' ? 'search.read → kb.read' : undefined),
  finish: (_input, results) => String(results.at(-1)),
  agent: { agent: 'helper', run: () => 'the agent answered' },
});
const governor = createGovernor({ policy: { mode: { default: 'workflow', agent_for_exceptions: true } } });
const routed = await governor.workflow(workflow, { q: 'article' });
const escalated = await governor.workflow(workflow, { q: 'something new' });
console.log(JSON.stringify({ routed, escalated: { status: escalated.status, handledBy: escalated.handledBy, output: escalated.status === 'ok' ? escalated.output : null }, calls, paths: Object.keys(MINED_PATHS) }));
`,
    );
    await writeFile(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
          types: [],
          lib: ['ES2023'],
          outDir: 'dist',
        },
        include: ['*.ts'],
      }),
    );
    await writeFile(join(work, 'package.json'), '{ "type": "module" }');
    // The workspace's TypeScript (tsc), as a user's project would run it.
    const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
    await exec(process.execPath, [tsc, '-p', work]).catch((error: { stdout?: string; message: string }) => {
      throw new Error(`the generated workflow does not type-check:\n${error.stdout || error.message}`);
    });
    const { stdout } = await exec(process.execPath, [join(work, 'dist', 'main.js')]);
    const result = JSON.parse(stdout);
    expect(result.routed).toMatchObject({ status: 'ok', handledBy: 'workflow', output: 'kb.read({"q":"article"})' });
    expect(result.routed.usage.toolCallsByTool).toEqual({ 'search.read': 1, 'kb.read': 1 });
    expect(result.escalated).toEqual({ status: 'ok', handledBy: 'agent', output: 'the agent answered' });
    expect(result.calls).toEqual(['search.read', 'kb.read']);
    expect(result.paths).toEqual(['search.read → kb.read', 'crm.read → crm.update']);
  }, 60_000);

  it('reads a large Jaeger file in slices, one a thread, and finds the same paths', async () => {
    const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
    const big = await dir.write('big.json', JSON.stringify(toJaeger(await scriptedSpans(MIX))));
    const mineWith = async (env: Record<string, string>) => {
      const { stdout } = await exec(process.execPath, [bin, 'mine', big, '--json', '--out', join(dir.path, 'b.ts')], {
        env: { ...process.env, ...env },
      });
      const result = JSON.parse(stdout);
      delete result.seconds;
      return result;
    };
    const threaded = await mineWith({ BOUNDED_MINE_PARALLEL_MIN_BYTES: '0', BOUNDED_MINE_THREADS: '3' });
    const single = await mineWith({ BOUNDED_MINE_THREADS: '1' });
    expect(threaded).toEqual(single);
    expect(threaded.runs).toBe(20);
    expect(threaded.spans).toBe(single.spans);
  }, 30_000);

  it('picks an agent, and says which other agents the input holds', async () => {
    const spans = await scriptedSpans([{ count: 2, turns: [{ tool: 'kb.read' }, { answer: 'x' }] }], {
      agent: 'other',
    });
    const mixed = await dir.write('mixed.json', JSON.stringify(toJaeger([...(await scriptedSpans(MIX)), ...spans])));
    const { code, stdout } = await cli('mine', mixed, '--agent', 'other', '--out', join(dir.path, 'o.ts'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^2 agent runs of other/);
    expect(stdout).toContain('other runs in the input: helper (agent, 20); pick with --agent');
    const none = await cli('mine', mixed, '--agent', 'nobody', '--out', join(dir.path, 'n.ts'));
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no agent runs of "nobody"');
  });

  it('says what is wrong with the input or the command line', async () => {
    const notTraces = await dir.write('not-traces.json', '{"hello": "world"}');
    const bad = await cli('mine', notTraces);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('no spans found; expected Jaeger JSON');
    const audit = await dir.write(
      'audit.jsonl',
      `${JSON.stringify({ seq: 1, time: '2026-01-01T00:00:00.000Z', type: 'run.start', prev: '0', hash: 'a' })}\n` +
        `${JSON.stringify({ seq: 2, time: '2026-01-01T00:00:01.000Z', type: 'run.end', prev: 'a', hash: 'b' })}\n`,
    );
    const notAudit = await cli('mine', audit);
    expect(notAudit.code).toBe(1);
    expect(notAudit.stderr).toContain('It is a Bounded audit log (JSON lines): `bounded audit verify');
    const broken = await dir.write('broken.json', '{"data": [{"traceID": "a", "spans": [}]}');
    expect((await cli('mine', broken)).stderr).toMatch(/broken\.json: invalid JSON in data\[\]/);
    const missing = await cli('mine', join(dir.path, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('file not found');
    expect((await cli('mine')).stderr).toContain('missing the traces');
    expect((await cli('mine', '--jaeger', 'http://127.0.0.1:1')).stderr).toContain('--jaeger needs --service');
    expect((await cli('mine', '--jaeger', 'http://127.0.0.1:1', '--service', 's')).code).toBe(6);
    expect((await cli('mine', jaegerFile, '--mode', 'robot')).stderr).toContain(
      '--mode must be agent, workflow or all',
    );
  });
});

describe('reading spans from bytes', () => {
  it(
    'gives the same runs whatever the chunk boundaries, for Jaeger and OTLP JSON',
    async () => {
      const spans = await scriptedSpans(MIX.slice(0, 2).map(m => ({ ...m, count: 2 })));
      for (const doc of [toJaeger(spans), toOtlp(spans)]) {
        const bytes = Buffer.from(JSON.stringify(doc, null, 1));
        const whole = new RunCollector();
        const stream = traceStream(whole);
        stream.write(bytes);
        stream.end();
        const expected = whole.runs();
        expect(expected).toHaveLength(4);
        expect(expected.map(run => toolPath(run).length)).toEqual([2, 2, 2, 2]);
        for (const size of [1, 5, 64, 700]) {
          const collector = new RunCollector();
          const chunked = traceStream(collector);
          for (let i = 0; i < bytes.length; i += size) chunked.write(bytes.subarray(i, i + size));
          chunked.end();
          expect(collector.runs(), `chunks of ${size}`).toEqual(expected);
        }
      }
    },
    BYTE_AT_A_TIME_MS,
  );

  it(
    'hands over the runs of finished Jaeger traces as it reads, and keeps the trace being read',
    async () => {
      const spans = await scriptedSpans(MIX.slice(0, 2).map(m => ({ ...m, count: 2 })));
      const bytes = Buffer.from(JSON.stringify(toJaeger(spans)));
      const whole = new RunCollector();
      const all = traceStream(whole);
      all.write(bytes);
      all.end();
      const expected = whole.runs();
      for (const size of [1, 97, 1000]) {
        const collector = new RunCollector();
        const stream = traceStream(collector);
        const taken: RunRecord[] = [];
        for (let i = 0; i < bytes.length; i += size) {
          stream.write(bytes.subarray(i, i + size));
          const finished = collector.takeFinishedRuns();
          // A finished trace never shows up again: its runs are whole when they are handed over.
          for (const run of finished) expect(taken.some(t => t.traceId === run.traceId)).toBe(false);
          taken.push(...finished);
        }
        stream.end();
        const rest = collector.runs();
        expect(rest.length, `chunks of ${size}: only the last trace stays`).toBeGreaterThan(0);
        expect(new Set(rest.map(run => run.traceId)).size).toBe(1);
        const got = [...taken, ...rest].sort((a, b) => a.start - b.start);
        expect(got, `chunks of ${size}`).toEqual(expected);
      }
    },
    BYTE_AT_A_TIME_MS,
  );

  it('decodes escaped strings and keeps metadata attributes', async () => {
    const spans = await scriptedSpans([
      {
        count: 1,
        turns: [{ tool: 'kb.read' }, { answer: 'x' }],
        metadata: { ticket: 'T-"1"\\é', canary: 'candidate' },
      },
    ]);
    const collector = new RunCollector();
    const stream = traceStream(collector);
    stream.write(Buffer.from(JSON.stringify(toJaeger(spans))));
    stream.end();
    expect(collector.runs()[0]!.metadata).toEqual({ ticket: 'T-"1"\\é', canary: 'candidate' });
  });
});

describe('JsonValueStream', () => {
  it('finds values at their paths whatever the chunk boundaries, strings with brackets and escapes included', () => {
    const doc = JSON.stringify({
      total: 2,
      data: [
        { traceID: 'a', spans: [{ s: '}]"\\' }] },
        { traceID: 'b', spans: [], note: 'x"y{' },
      ],
      errors: null,
    });
    const text = `${doc}\n${doc}\n`;
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const found: unknown[] = [];
      const stream = new JsonValueStream(['data[]'], (_path, value) => found.push(value));
      for (let i = 0; i < bytes.length; i += size) stream.write(bytes.subarray(i, i + size));
      stream.end();
      expect(found, `chunks of ${size}`).toEqual([...JSON.parse(doc).data, ...JSON.parse(doc).data]);
    }
  });
});
