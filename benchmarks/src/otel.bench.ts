/**
 * What a governed and traced tool call costs beside a bare OpenTelemetry active span around the same call.
 * Same process, same tracer provider (batch processor, an exporter that drops). Target: ratio <= 1.5.
 */
import { createGovernor, definePolicy, type Run } from '@bounded/core';
import { boundedTelemetry } from '@bounded/otel';
import { compare, environment, formatNs, pairedQuotient, printTable } from './harness.js';
import { bareSpanCase, benchTracing } from './tracing.js';

const { tracer, shutdown } = benchTracing();

const policy = definePolicy({
  budgets: { max_steps: 1e9, max_tool_calls: 1e9, max_seconds: 3600 },
  tools: { allow: ['kb.read', 'search.read', 'http.get'] },
});
const kbRead = async (args: { id: number }) => args.id + 1;
const CALLS_PER_RUN = 200;

async function main() {
  console.log(`Bounded OpenTelemetry benchmark (${environment()})`);
  let id = 0;
  const bare = {
    name: 'bare call',
    async run(iterations: number) {
      for (let i = 0; i < iterations; i++) await kbRead({ id: ++id });
    },
  };
  const span = bareSpanCase(tracer, () => kbRead({ id: ++id }));
  // Not the baseline, a reference: the same span carrying the four attributes every traced call has. The SDK checks
  // each attribute value twice on the way in, which is a good part of what the attributes cost.
  const attributed = {
    name: 'OTel active span + 4 attributes',
    async run(iterations: number) {
      for (let i = 0; i < iterations; i++) {
        const callId = `call_${i}`;
        await tracer.startActiveSpan(
          'execute_tool kb.read',
          {
            attributes: {
              'gen_ai.operation.name': 'execute_tool',
              'gen_ai.tool.name': 'kb.read',
              'gen_ai.tool.call.id': callId,
              'bounded.decision': 'allow',
            },
          },
          async s => {
            try {
              return await kbRead({ id: ++id });
            } finally {
              s.end();
            }
          },
        );
      }
    },
  };
  const governor = createGovernor({ policy, observers: [boundedTelemetry({ tracer })] });
  const traced = {
    name: 'governed + traced call',
    async run(iterations: number) {
      for (let done = 0; done < iterations; done += CALLS_PER_RUN) {
        const n = Math.min(CALLS_PER_RUN, iterations - done);
        await governor.run({ agent: 'bench' }, async (run: Run) => {
          for (let i = 0; i < n; i++) await run.tool('kb.read', { id: ++id }, kbRead);
        });
      }
    },
  };
  const results = await compare([bare, span, attributed, traced], { rounds: 15, iterations: 10_000 });
  printTable(
    'Per tool call (median of 15 interleaved rounds of 10,000 calls; runs of 200 calls)',
    results,
    'bare call',
  );
  const [, s, a, t] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0], (typeof results)[0]];
  const ratio = pairedQuotient(t, s);
  console.log(
    `\n  a governed and traced call: ${formatNs(t.ns)}; a bare active span around the call: ${formatNs(s.ns)}.` +
      `\n  ratio traced / span, median of per-round ratios = ${ratio.toFixed(2)}  (target <= 1.5: ${ratio <= 1.5 ? 'met' : 'MISSED'})` +
      `\n  the same span with the traced call's four attributes alone: ${pairedQuotient(a, s).toFixed(2)} x the bare span.` +
      '\n  the traced call also records budgets, the decision and its rule, and the run span (amortised) on every call.',
  );
  await shutdown();
}

await main();
