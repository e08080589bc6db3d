import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createCanary, createGovernor } from '@bounded/core';
import { boundedTelemetry } from '@bounded/otel';
import { setupTelemetry, type Telemetry } from '@bounded/otel/setup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { captureIo, tempDir } from './test-utils/io.js';
import { scriptedAgent } from './test-utils/traces.js';

/**
 * Against a real Jaeger and a real Prometheus: a canary's runs export spans over OTLP and metrics for Prometheus to
 * scrape, then `canary report`, `mine` and `report` read them back. `.ci/run` starts both and sets JAEGER_OTLP_ENDPOINT,
 * JAEGER_QUERY_URL, PROMETHEUS_URL and BOUNDED_PROMETHEUS_TARGET_PORT (the port Prometheus scrapes).
 */
const otlp = process.env.JAEGER_OTLP_ENDPOINT;
const query = process.env.JAEGER_QUERY_URL;
const prometheus = process.env.PROMETHEUS_URL;
const target = process.env.BOUNDED_PROMETHEUS_TARGET_PORT;
const available = Boolean(otlp && query && prometheus && target);
if (!available && process.env.CI === 'true') {
  throw new Error('CI=true but Jaeger or Prometheus is not set up: .ci/run must start them (JAEGER_*, PROMETHEUS_*)');
}

const RUNS = 60;
const agent = `canary-${randomUUID().slice(0, 8)}`;
const service = `bounded-cli-e2e-${randomUUID().slice(0, 8)}`;
let telemetry: Telemetry | undefined;
let dir: Awaited<ReturnType<typeof tempDir>>;
let sides = { baseline: 0, candidate: 0 };

async function cli(...argv: string[]) {
  const captured = captureIo();
  const code = await runCli(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

async function promValue(expr: string): Promise<number> {
  const response = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = (await response.json()) as { data: { result: Array<{ value: [number, string] }> } };
  return Number(body.data.result[0]?.value[1] ?? 0);
}

it.skipIf(available)('needs Jaeger and Prometheus: set JAEGER_* and PROMETHEUS_* (.ci/run does)', () => {});

describe.skipIf(!available)('canary, mine and report against real Jaeger and Prometheus', () => {
  beforeAll(async () => {
    dir = await tempDir();
    telemetry = setupTelemetry({ serviceName: service, otlpEndpoint: otlp!, prometheus: { port: Number(target) } });
    const policy = { budgets: { max_tool_calls: 6 }, loop_detection: { enabled: false } };
    const observers = [boundedTelemetry()];
    const canary = createCanary({
      baseline: createGovernor({ policy, observers }),
      candidate: createGovernor({ policy, observers }),
      percent: 30,
    });
    for (let i = 0; i < RUNS; i++) {
      const result = await canary.run({ agent, key: `ticket-${i}` }, (run, variant) =>
        variant === 'candidate'
          ? scriptedAgent(run, [{ tool: 'search.read' }]) // the new prompt: searches until the budget stops it
          : scriptedAgent(run, [{ tool: 'search.read' }, { tool: 'kb.read' }, { answer: 'done' }]),
      );
      sides[result.variant]++;
    }
    sides = { ...sides };
    // Prometheus scrapes every second: wait until it has every run.
    const deadline = Date.now() + 20_000;
    while ((await promValue(`sum(bounded_runs_total{gen_ai_agent_name="${agent}"})`)) < RUNS) {
      if (Date.now() > deadline) throw new Error('Prometheus did not scrape the runs in 20 s');
      await new Promise(resolve => setTimeout(resolve, 250));
    }
  }, 40_000);

  afterAll(async () => {
    await telemetry?.shutdown();
    await dir?.remove();
  });

  it('routes about 30% of runs to the candidate', () => {
    expect(sides.baseline + sides.candidate).toBe(RUNS);
    expect(sides.candidate).toBeGreaterThan(RUNS * 0.15);
    expect(sides.candidate).toBeLessThan(RUNS * 0.45);
  });

  it('canary report from Prometheus names the drift of the looping candidate (exit 4)', async () => {
    const { code, stdout, stderr } = await cli(
      'canary',
      'report',
      '--prometheus',
      prometheus!,
      '--agent',
      agent,
      '--json',
    );
    expect(stderr).toBe('');
    expect(code).toBe(4);
    const report = JSON.parse(stdout);
    expect(report.baseline).toMatchObject({
      runs: sides.baseline,
      stopReasons: { ok: sides.baseline },
      toolCallsPerRun: 2,
    });
    expect(report.candidate).toMatchObject({
      runs: sides.candidate,
      stopReasons: { max_tool_calls: sides.candidate },
      toolCallsPerRun: 6,
    });
    expect(report.drifted).toEqual(expect.arrayContaining(['stop_reasons', 'tool_calls_per_run', 'tokens_per_run']));
    const text = await cli('canary', 'report', '--prometheus', prometheus!, '--agent', agent);
    expect(text.stdout).toMatch(/^stop reasons +ok \d+ +max_tool_calls \d+ +100\.0% of runs moved +DRIFT/m);
    expect(text.stdout).toContain('drift: stop reasons, tool calls per run, tokens per run');
    const nobody = await cli('canary', 'report', '--prometheus', prometheus!, '--agent', 'nobody');
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('no canary runs of nobody on the baseline side');
  });

  describe('from Jaeger (after the spans are flushed)', () => {
    beforeAll(async () => {
      await telemetry?.shutdown();
      telemetry = undefined;
      // Jaeger may take a moment to make the last batch queryable.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const response = await fetch(`${query}/api/traces?service=${service}&limit=1000`);
        const body = (await response.json()) as { data: unknown[] | null };
        if ((body.data?.length ?? 0) >= RUNS || Date.now() > deadline) break;
        await new Promise(resolve => setTimeout(resolve, 250));
      }
    }, 30_000);

    it('canary report from traces agrees with Prometheus', async () => {
      const { code, stdout } = await cli('canary', 'report', '--jaeger', query!, '--service', service, '--json');
      expect(code).toBe(4);
      const report = JSON.parse(stdout);
      expect(report.baseline.stopReasons).toEqual({ ok: sides.baseline });
      expect(report.candidate.stopReasons).toEqual({ max_tool_calls: sides.candidate });
      expect(report.candidate.toolCallsPerRun).toBe(6);
    });

    it('mine reads the runs from Jaeger and finds both paths with their shares', async () => {
      const out = join(dir.path, 'canary.workflow.ts');
      const { code, stdout } = await cli(
        'mine',
        '--jaeger',
        query!,
        '--service',
        service,
        '--since',
        '1h',
        '--json',
        '--out',
        out,
      );
      expect(code).toBe(0);
      const result = JSON.parse(stdout);
      expect(result.runs).toBe(RUNS);
      const ok = result.paths.find((p: { path: string[] }) => p.path.join() === 'search.read,kb.read');
      expect(ok).toMatchObject({ runs: sides.baseline, okRate: 1 });
      expect(ok.share).toBeCloseTo(sides.baseline / RUNS);
      expect(result.covered).toHaveLength(1);
      expect(result.agentShare).toBeCloseTo(sides.candidate / RUNS);
    });

    it('report reads the runs from Jaeger and writes their timelines', async () => {
      const html = join(dir.path, 'runs.html');
      const { code, stdout } = await cli('report', '--jaeger', query!, '--service', service, '--html', html);
      expect(code).toBe(0);
      expect(stdout).toContain(
        `${RUNS} runs in Jaeger ${query}, service ${service}: ${sides.baseline} ok, ${sides.candidate} stopped`,
      );
    });
  });
});
