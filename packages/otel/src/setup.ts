import { type DiagLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { type IMetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';

export interface SetupTelemetryOptions {
  /** `service.name` of everything exported. `OTEL_SERVICE_NAME` is used when this is not given. */
  readonly serviceName?: string;
  /**
   * Where spans go, over OTLP/HTTP, e.g. `http://127.0.0.1:4318` (`/v1/traces` is added) or a full `/v1/traces` URL.
   * Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`. With none, spans are not exported.
   */
  readonly otlpEndpoint?: string;
  /**
   * Also push metrics over OTLP (to the same endpoint, `/v1/metrics`). Default: when `OTEL_METRICS_EXPORTER`
   * names `otlp`. Off otherwise, because a trace backend (Jaeger) usually has no metrics receiver.
   */
  readonly otlpMetrics?: boolean;
  /** Serve metrics for Prometheus to scrape. Default: `BOUNDED_PROMETHEUS_PORT`, else no endpoint. */
  readonly prometheus?: { readonly port: number; readonly host?: string; readonly endpoint?: string };
  /** How often metrics are pushed over OTLP. Default 10 s. */
  readonly metricIntervalMs?: number;
  /** Called once per kind of export failure; default: one line on stderr. */
  readonly onExportError?: (message: string) => void;
  /** How long `shutdown()` may wait for the last export. Default 5 s. */
  readonly shutdownTimeoutMs?: number;
}

export interface Telemetry {
  /** Whether spans are exported anywhere (an OTLP endpoint was configured). */
  readonly exportingTraces: boolean;
  /** The Prometheus scrape URL, when one is served. */
  readonly prometheusUrl: string | undefined;
  /** Export failures seen (each kind is reported once). */
  readonly exportErrors: number;
  /** Flushes what is buffered and stops the SDK. Never hangs past `shutdownTimeoutMs`. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK with an OTLP/HTTP trace exporter (and metrics for Prometheus and/or OTLP), so
 * Bounded's spans and metrics, and those of everything else instrumented in the process, reach Jaeger and Grafana.
 *
 * ```ts
 * const telemetry = setupTelemetry({ serviceName: 'support-desk', prometheus: { port: 9464 } });
 * const governor = createGovernor({ policy, observers: [boundedTelemetry()] });
 * // ...
 * await telemetry.shutdown();
 * ```
 *
 * Honours the standard `OTEL_*` variables (`OTEL_SDK_DISABLED`, `OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_*`,
 * `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`). Without an endpoint it stays quiet: nothing is exported and
 * nothing retries. When the endpoint refuses or hangs, runs are unaffected: spans queue in a bounded buffer (then
 * drop), and one line per kind of failure is printed, not one per export.
 */
export function setupTelemetry(options: SetupTelemetryOptions = {}): Telemetry {
  const env = process.env;
  let exportErrors = 0;
  const reported = new Set<string>();
  const report =
    options.onExportError ??
    ((message: string) => {
      process.stderr.write(`[bounded/otel] ${message}\n`);
    });
  const onError = (error: unknown) => {
    exportErrors++;
    const message = describeExportError(error);
    const kind = message.replace(/\d+/g, '#');
    if (reported.has(kind)) return;
    reported.add(kind);
    report(`telemetry export failing (${message}); runs are unaffected, further errors like this are not printed`);
  };

  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') {
    return { exportingTraces: false, prometheusUrl: undefined, exportErrors: 0, shutdown: async () => {} };
  }

  // The signal-specific variable is the full URL, used as it is; a base endpoint gets `/v1/traces` (OTLP exporter spec).
  const tracesUrl = options.otlpEndpoint === undefined ? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT : undefined;
  const base = options.otlpEndpoint ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const endpoint = tracesUrl || base;
  const spanProcessors: SpanProcessor[] = [];
  if (endpoint) {
    const url = tracesUrl || endpoint.endsWith('/v1/traces') ? endpoint : `${endpoint.replace(/\/$/, '')}/v1/traces`;
    spanProcessors.push(
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url, timeoutMillis: 5_000 }),
        // Bounded memory whatever the endpoint does: a full queue drops spans rather than growing.
        maxQueueSize: 2048,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 1_000,
        exportTimeoutMillis: 10_000,
      }),
    );
  }

  const metricReaders: IMetricReader[] = [];
  const prometheusPort = options.prometheus?.port ?? numberFrom(env.BOUNDED_PROMETHEUS_PORT);
  let prometheusUrl: string | undefined;
  if (prometheusPort !== undefined) {
    // An empty variable (a shell substitution that found nothing) means the default, not every address.
    const host = options.prometheus?.host ?? (env.BOUNDED_PROMETHEUS_HOST || '127.0.0.1');
    const path = options.prometheus?.endpoint ?? '/metrics';
    metricReaders.push(new PrometheusExporter({ port: prometheusPort, host, endpoint: path }));
    prometheusUrl = `http://${host}:${prometheusPort}${path}`;
  }
  const otlpMetrics = options.otlpMetrics ?? (env.OTEL_METRICS_EXPORTER ?? '').split(',').includes('otlp');
  if (endpoint && otlpMetrics) {
    const base = endpoint.replace(/\/v1\/traces$/, '').replace(/\/$/, '');
    metricReaders.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics`, timeoutMillis: 5_000 }),
        exportIntervalMillis: options.metricIntervalMs ?? 10_000,
        exportTimeoutMillis: 5_000,
      }),
    );
  }

  // Export failures reach the global error handler and the diag logger; both report once per kind of failure.
  setGlobalErrorHandler(onError);
  if (!env.OTEL_LOG_LEVEL)
    diag.setLogger(onceLogger(onError), { logLevel: DiagLogLevel.ERROR, suppressOverrideMessage: true });

  const sdk = new NodeSDK({
    ...(options.serviceName ? { serviceName: options.serviceName } : {}),
    spanProcessors,
    metricReaders,
    instrumentations: [],
  });
  sdk.start();

  let stopped: Promise<void> | undefined;
  return {
    exportingTraces: spanProcessors.length > 0,
    prometheusUrl,
    get exportErrors() {
      return exportErrors;
    },
    shutdown() {
      stopped ??= Promise.race([
        sdk.shutdown().catch(onError),
        new Promise<void>(resolve => setTimeout(resolve, options.shutdownTimeoutMs ?? 5_000).unref()),
      ]);
      return stopped;
    },
  };
}

function numberFrom(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`BOUNDED_PROMETHEUS_PORT must be a port number, got "${value}"`);
  }
  return port;
}

function describeExportError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code;
    return code ? `${error.message} [${code}]` : error.message;
  }
  return String(error);
}

/**
 * A diag logger that turns errors (failed exports) into the once-per-kind report. Warnings are not failures
 * (e.g. the Prometheus exporter reading resource attributes before detection settles); `OTEL_LOG_LEVEL` shows them.
 */
function onceLogger(onError: (error: unknown) => void): DiagLogger {
  const forward = (message: string, ...args: unknown[]) => {
    // Logged as an error since OpenTelemetry JS 3, but a scrape before resource detection has finished (the host id
    // is read from a file) is no failure: the metrics are served, with the attributes known so far.
    if (message.startsWith('Accessing resource attributes before async attributes settled')) return;
    const detail = args.find(arg => arg instanceof Error);
    onError(detail ?? new Error(message));
  };
  const ignore = () => {};
  return { error: forward, warn: ignore, info: ignore, debug: ignore, verbose: ignore };
}
