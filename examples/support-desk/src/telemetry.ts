import type { Observer } from '@bounded/core';
import { boundedTelemetry } from '@bounded/otel';
import { setupTelemetry, type Telemetry } from '@bounded/otel/setup';

export interface DemoTelemetry {
  readonly telemetry: Telemetry;
  readonly observers: readonly Observer[];
  readonly description: string;
}

/**
 * Telemetry for the demo, when asked for: `--otel` sends traces to the docker/ stack (Jaeger on 127.0.0.1:4318) and
 * serves metrics for its Prometheus on 127.0.0.1:9464; the standard `OTEL_EXPORTER_OTLP_ENDPOINT` and
 * `BOUNDED_PROMETHEUS_PORT` variables turn on (and point) either one without the flag.
 */
export function demoTelemetry(argv: readonly string[], env: NodeJS.ProcessEnv): DemoTelemetry | undefined {
  const flag = argv.includes('--otel');
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT ?? (flag ? 'http://127.0.0.1:4318' : undefined);
  const prometheusPort = env.BOUNDED_PROMETHEUS_PORT ?? (flag ? '9464' : undefined);
  if (!endpoint && !prometheusPort) return undefined;
  const telemetry = setupTelemetry({
    serviceName: env.OTEL_SERVICE_NAME ?? 'bounded-demo',
    ...(endpoint ? { otlpEndpoint: endpoint } : {}),
    ...(prometheusPort ? { prometheus: { port: Number(prometheusPort) } } : {}),
  });
  const parts = [
    endpoint ? `traces to ${endpoint} (Jaeger UI: http://127.0.0.1:16686)` : undefined,
    telemetry.prometheusUrl ? `metrics at ${telemetry.prometheusUrl}` : undefined,
  ].filter(Boolean);
  return { telemetry, observers: [boundedTelemetry()], description: `Telemetry: ${parts.join('; ')}` };
}
