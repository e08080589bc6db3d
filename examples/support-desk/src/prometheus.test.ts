import { readFile } from 'node:fs/promises';
import { boundedTelemetry, METRICS } from '@bounded/otel';
import { setupTelemetry } from '@bounded/otel/setup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from './scenarios.js';

/**
 * End to end against a real Prometheus: the demo serves its metrics, Prometheus scrapes them, and every documented
 * metric and every query of the Grafana dashboard is asked of Prometheus's API. `.ci/run` starts Prometheus
 * (scraping BOUNDED_PROMETHEUS_TARGET_PORT every second) and sets PROMETHEUS_URL.
 */
const prometheus = process.env.PROMETHEUS_URL;
const targetPort = process.env.BOUNDED_PROMETHEUS_TARGET_PORT;
const available = Boolean(prometheus && targetPort);
if (!available && process.env.CI === 'true') {
  throw new Error(
    'CI=true but PROMETHEUS_URL / BOUNDED_PROMETHEUS_TARGET_PORT are not set: .ci/run must start Prometheus',
  );
}

const DASHBOARD = new URL('../../../docker/grafana/dashboards/bounded-agents.json', import.meta.url);

interface QueryResult {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
  error?: string;
}

async function instant(query: string): Promise<QueryResult> {
  const response = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(query)}`);
  return (await response.json()) as QueryResult;
}

async function until(query: string, timeoutMs: number): Promise<QueryResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await instant(query);
    if (result.status === 'success' && result.data.result.length > 0) return result;
    if (Date.now() > deadline) return result;
    await new Promise(resolve => setTimeout(resolve, 250));
  }
}

// Skipped where no Prometheus runs (a laptop without the services); under CI=true a missing one fails above.
it.skipIf(available)(
  'needs a running Prometheus: set PROMETHEUS_URL and BOUNDED_PROMETHEUS_TARGET_PORT (.ci/run does)',
  () => {},
);

describe.skipIf(!available)('the demo in a real Prometheus', () => {
  let telemetry: ReturnType<typeof setupTelemetry>;
  let traffic: Promise<void>;
  let stop = false;

  beforeAll(async () => {
    telemetry = setupTelemetry({ serviceName: 'bounded-demo-metrics', prometheus: { port: Number(targetPort) } });
    const observers = [boundedTelemetry()];
    // Keep runs coming while Prometheus scrapes, so rates over the last minutes are not empty.
    traffic = (async () => {
      while (!stop) {
        await runDemo({ observers, approvalDelayMs: 5 });
        await new Promise(resolve => setTimeout(resolve, 300));
      }
    })();
    // Two scrapes apart, so that rate() and increase() have two samples.
    const scraped = await until('count(bounded_runs_total) > 0', 20_000);
    expect(scraped.data.result.length).toBeGreaterThan(0);
    await new Promise(resolve => setTimeout(resolve, 3_000));
  }, 40_000);

  afterAll(async () => {
    stop = true;
    await traffic;
    await telemetry?.shutdown();
  }, 30_000);

  it('has every documented metric, with the labels the dashboard uses', async () => {
    for (const metric of METRICS) {
      const series = metric.instrument === 'histogram' ? `${metric.prometheus}_bucket` : metric.prometheus;
      const result = await until(series, 10_000);
      expect(result.status, metric.prometheus).toBe('success');
      expect(result.data.result.length, `${series} is in Prometheus`).toBeGreaterThan(0);
    }
    const stopped = await instant('sum by (bounded_stop_reason) (bounded_runs_total{bounded_status="stopped"})');
    expect(stopped.data.result.map(r => r.metric.bounded_stop_reason).sort()).toEqual([
      'killed',
      'max_tool_calls',
      'tool_denied:admin.delete_user',
    ]);
    const denied = await instant('sum by (gen_ai_tool_name) (bounded_decisions_total{bounded_decision="deny"})');
    expect(denied.data.result.map(r => r.metric.gen_ai_tool_name).sort()).toEqual(['admin.delete_user', 'search.read']);
  });

  it('answers every query of the Grafana dashboard with data', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const queries = dashboard.panels.flatMap(panel =>
      panel.targets.map(target => ({ panel: panel.title, expr: target.expr })),
    );
    expect(queries.length).toBeGreaterThanOrEqual(12);
    for (const { panel, expr } of queries) {
      const result = await until(expr, 10_000);
      expect(result.status, `${panel}: ${expr} (${result.error ?? ''})`).toBe('success');
      expect(result.data.result.length, `${panel}: ${expr} returns data`).toBeGreaterThan(0);
      const numbers = result.data.result.map(r => Number(r.value[1]));
      expect(
        numbers.some(n => Number.isFinite(n)),
        `${panel}: ${expr} has a finite value`,
      ).toBe(true);
    }
  });
});
