import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const FIXTURE = new URL('../fixtures/export-fault.mjs', import.meta.url).pathname;

interface FaultReport {
  runs: number;
  differences: number;
  unhandled: number;
  exportErrors: number;
  exportingTraces: boolean;
  heapGrowthMb: number;
  elapsedMs: number;
  shutdownMs: number;
}

async function runFixture(endpoint: string, runs: number, env: NodeJS.ProcessEnv = {}, waitForErrorMs = 0) {
  const args = ['--expose-gc', FIXTURE, endpoint, String(runs), String(waitForErrorMs)];
  const { stdout, stderr } = await run(process.execPath, args, {
    env: { ...process.env, OTEL_LOG_LEVEL: '', ...env },
    timeout: 120_000,
  });
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as FaultReport;
  const diagnostics = stderr.split('\n').filter(line => line.includes('[bounded/otel]'));
  return { report, diagnostics, stderr };
}

/** A port that refuses connections: bind, note the port, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise(resolve => server.close(resolve));
  return port;
}

describe('setupTelemetry when the backend fails', () => {
  let hanging: Server;
  let hangingPort: number;

  beforeAll(async () => {
    // Accepts every request and never answers.
    hanging = createServer(() => {});
    await new Promise<void>(resolve => hanging.listen(0, '127.0.0.1', resolve));
    hangingPort = (hanging.address() as AddressInfo).port;
  });
  afterAll(() => {
    hanging.closeAllConnections();
    hanging.close();
  });

  it('refusing connections: same results as without telemetry, no unhandled rejection, one diagnostic line', async () => {
    const { report, diagnostics } = await runFixture(`http://127.0.0.1:${await closedPort()}`, 3000, {}, 30_000);
    expect(report).toMatchObject({ runs: 3000, differences: 0, unhandled: 0, exportingTraces: true });
    expect(report.exportErrors).toBeGreaterThan(0);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatch(/telemetry export failing .*runs are unaffected/);
    expect(report.heapGrowthMb).toBeLessThan(40);
  }, 120_000);

  it('hanging: the same, memory stays bounded, and shutdown does not hang', async () => {
    const { report, diagnostics } = await runFixture(`http://127.0.0.1:${hangingPort}`, 6000);
    expect(report).toMatchObject({ runs: 6000, differences: 0, unhandled: 0 });
    // 6000 runs make 24,000 spans; the export queue holds at most 2048 and drops the rest.
    expect(report.heapGrowthMb).toBeLessThan(40);
    expect(report.shutdownMs).toBeLessThan(3000);
    expect(diagnostics.length).toBeLessThanOrEqual(1);
  }, 120_000);

  it('without an endpoint stays quiet: nothing exported, nothing printed', async () => {
    const { report, stderr } = await runFixture('none', 200, { OTEL_EXPORTER_OTLP_ENDPOINT: '' });
    expect(report).toMatchObject({ differences: 0, unhandled: 0, exportErrors: 0, exportingTraces: false });
    expect(stderr).toBe('');
  }, 60_000);

  it('sends to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, and adds /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const paths = new Set<string>();
    const collector = createServer((request, response) => {
      paths.add(request.url ?? '');
      request.resume();
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>(resolve => collector.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    try {
      await runFixture('none', 5, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${base}/otlp/custom-traces` });
      await runFixture('none', 5, { OTEL_EXPORTER_OTLP_ENDPOINT: `${base}/collector/` });
    } finally {
      collector.closeAllConnections();
      collector.close();
    }
    expect([...paths].sort()).toEqual(['/collector/v1/traces', '/otlp/custom-traces']);
  }, 60_000);

  it('a scrape before resource detection has settled is no export failure', async () => {
    const port = await closedPort();
    const fixture = new URL('../fixtures/early-scrape.mjs', import.meta.url).pathname;
    const { stdout, stderr } = await run(process.execPath, [fixture, String(port)], {
      // An empty BOUNDED_PROMETHEUS_HOST (a shell substitution that found nothing) is the default host.
      env: { ...process.env, OTEL_LOG_LEVEL: '', BOUNDED_PROMETHEUS_HOST: '' },
      timeout: 60_000,
    });
    expect(JSON.parse(stdout.trim())).toEqual({
      status: 200,
      exportErrors: 0,
      url: `http://127.0.0.1:${port}/metrics`,
    });
    expect(stderr).toBe('');
  }, 60_000);

  it('honours OTEL_SDK_DISABLED', async () => {
    const { report, stderr } = await runFixture(`http://127.0.0.1:${await closedPort()}`, 100, {
      OTEL_SDK_DISABLED: 'true',
    });
    expect(report).toMatchObject({ differences: 0, exportErrors: 0, exportingTraces: false });
    expect(stderr).toBe('');
  }, 60_000);
});
