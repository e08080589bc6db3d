/**
 * What the benchmarks with OpenTelemetry share: a production-like tracer (SDK provider, batch processor,
 * AsyncLocalStorage context, an exporter that drops), and the baseline, a bare active span around the call.
 */
import { context, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import type { BenchCase } from './harness.js';

const discard: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
};

/** Registers the context manager and makes the provider; `shutdown` when the benchmark is done. */
export function benchTracing(): { readonly tracer: Tracer; readonly shutdown: () => Promise<void> } {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: discard })] });
  return { tracer: provider.getTracer('bench'), shutdown: () => provider.shutdown() };
}

/** The baseline: `call` inside a bare active span, as an instrumentation would write it. */
export function bareSpanCase(tracer: Tracer, call: () => Promise<unknown>): BenchCase {
  return {
    name: 'bare OTel active span',
    async run(iterations: number) {
      for (let i = 0; i < iterations; i++) {
        await tracer.startActiveSpan('execute_tool kb.read', async s => {
          try {
            return await call();
          } finally {
            s.end();
          }
        });
      }
    },
  };
}
