import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '@bounded/cli';
import { boundedTelemetry } from '@bounded/otel';
import { setupTelemetry } from '@bounded/otel/setup';
import { describe, expect, it } from 'vitest';
import { runTraffic, TICKET_KINDS } from './traffic.js';

/**
 * The migration path, end to end: a day of the demo's tickets exports its traces to a real Jaeger; `bounded mine`
 * reads them back from Jaeger's query API, finds the agent's scripted common path (search, then read the article)
 * with its share, and writes a workflow that type-checks and runs. `.ci/run` starts Jaeger.
 */
const otlp = process.env.JAEGER_OTLP_ENDPOINT;
const query = process.env.JAEGER_QUERY_URL;
const available = Boolean(otlp && query);
if (!available && process.env.CI === 'true') {
  throw new Error('CI=true but JAEGER_OTLP_ENDPOINT / JAEGER_QUERY_URL are not set: .ci/run must start Jaeger');
}
const exec = promisify(execFile);

it.skipIf(available)('needs a running Jaeger: set JAEGER_OTLP_ENDPOINT and JAEGER_QUERY_URL (.ci/run does)', () => {});

describe.skipIf(!available)("bounded mine on the demo's traces in a real Jaeger", () => {
  it('recovers the scripted common path and its share, and writes a workflow that type-checks and runs', async () => {
    const service = `bounded-demo-mine-${randomUUID().slice(0, 8)}`;
    const telemetry = setupTelemetry({ serviceName: service, otlpEndpoint: otlp! });
    const traffic = await runTraffic({ tickets: 50, observers: [boundedTelemetry()] });
    await telemetry.shutdown();
    expect(telemetry.exportErrors).toBe(0);
    expect(traffic.agentRuns).toBe(35);

    // Every ticket is a trace; wait until Jaeger has them all.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const body = (await (await fetch(`${query}/api/traces?service=${service}&limit=1000`)).json()) as {
        data: unknown[] | null;
      };
      if ((body.data?.length ?? 0) >= 50 || Date.now() > deadline) break;
      await new Promise(resolve => setTimeout(resolve, 250));
    }

    const work = await mkdtemp(join(tmpdir(), 'bounded-demo-mine-'));
    try {
      const out = join(work, 'support-agent.workflow.ts');
      let stdout = '';
      const io = {
        stdout: {
          write: (chunk: string) => {
            stdout += chunk;
          },
        },
        stderr: process.stderr,
      };
      const code = await runCli(
        ['mine', '--jaeger', query!, '--service', service, '--since', '1h', '--json', '--out', out],
        io,
      );
      expect(code).toBe(0);
      const mined = JSON.parse(stdout);
      expect(mined).toMatchObject({ agent: 'support-agent', mode: 'agent', runs: 35 });
      // The scripted common path: 21 of the 35 agent runs (60%), every one ok.
      const common = TICKET_KINDS.find(kind => kind.id === 'replacement-part')!;
      expect(mined.paths[0]).toMatchObject({
        path: common.path,
        runs: 21,
        share: 0.6,
        okRate: 1,
        stopReasons: { ok: 21 },
      });
      expect(mined.paths.map((p: { path: string[] }) => p.path)).toEqual([
        ['search.read', 'kb.read'],
        ['crm.update'],
        ['payments.charge', 'payments.charge'],
        Array(12).fill('search.read'),
      ]);
      expect(mined.paths[3]).toMatchObject({ runs: 3, okRate: 0, stopReasons: { max_tool_calls: 3 } });
      // The workflow takes the healthy common paths; the search loop stays with the agent.
      expect(mined.covered.map((p: { path: string[] }) => p.path)).toEqual([
        ['search.read', 'kb.read'],
        ['crm.update'],
        ['payments.charge', 'payments.charge'],
      ]);
      expect(mined.agentShare).toBeCloseTo(3 / 35);

      // The generated file type-checks (strict) against @bounded/core and runs.
      await mkdir(join(work, 'node_modules', '@bounded'), { recursive: true });
      const core = dirname(createRequire(import.meta.url).resolve('@bounded/core/package.json'));
      await symlink(core, join(work, 'node_modules', '@bounded', 'core'), 'dir');
      expect(await readFile(out, 'utf8')).toContain("case 'search.read → kb.read': {");
      await writeFile(join(work, 'package.json'), '{ "type": "module" }');
      await writeFile(
        join(work, 'main.ts'),
        `import { createGovernor } from '@bounded/core';
import { supportAgentWorkflow } from './support-agent.workflow.js';

declare const console: { log(text: string): void };
type Ticket = { text: string };
const ran: string[] = [];
const tool = (name: string, result: unknown) => ({
  args: (ticket: Ticket) => ({ q: ticket.text }),
  execute: async () => {
    ran.push(name);
    return result;
  },
});
const workflow = supportAgentWorkflow<Ticket, string>({
  tools: {
    'search.read': tool('search.read', ['shipping']),
    'kb.read': tool('kb.read', { title: 'Replacement parts', body: 'We ship within two days.' }),
    'crm.update': tool('crm.update', { plan: 'priority' }),
    'payments.charge': tool('payments.charge', { chargeId: 'ch_1' }),
  },
  route: ticket => (/replacement part/i.test(ticket.text) ? 'search.read → kb.read' : undefined),
  finish: (_ticket, results) => {
    const article = results.at(-1) as { title: string; body: string };
    return \`\${article.title}: \${article.body}\`;
  },
  agent: { agent: 'support-agent', run: () => 'the agent took it' },
});
const governor = createGovernor({
  policy: { mode: { default: 'workflow', agent_for_exceptions: true }, tools: { allow: ['search.read', 'kb.read'] } },
});
const routed = await governor.workflow(workflow, { text: 'My replacement part has not arrived yet' });
const other = await governor.workflow(workflow, { text: 'My widget clicks on Tuesdays' });
console.log(JSON.stringify({ routed, other, ran }));
`,
      );
      await writeFile(
        join(work, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2023',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noUncheckedIndexedAccess: true,
            verbatimModuleSyntax: true,
            skipLibCheck: true,
            types: [],
            outDir: 'dist',
          },
          include: ['*.ts'],
        }),
      );
      const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
      await exec(process.execPath, [tsc, '-p', work]).catch((error: { stdout?: string; message: string }) => {
        throw new Error(`the mined workflow does not type-check:\n${error.stdout || error.message}`);
      });
      const run = JSON.parse((await exec(process.execPath, [join(work, 'dist', 'main.js')])).stdout);
      expect(run.routed).toMatchObject({
        status: 'ok',
        handledBy: 'workflow',
        output: 'Replacement parts: We ship within two days.',
      });
      expect(run.routed.usage.toolCallsByTool).toEqual({ 'search.read': 1, 'kb.read': 1 });
      expect(run.other).toMatchObject({ status: 'ok', handledBy: 'agent', output: 'the agent took it' });
      expect(run.ran).toEqual(['search.read', 'kb.read']);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 90_000);
});
