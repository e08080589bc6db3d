/**
 * What governance costs per tool call, beside a bare call and a bare OpenTelemetry active span around the same call.
 * Target: a governed call (in-memory stores, no observers) adds at most a quarter of what one active span adds.
 */
import { readFileSync } from 'node:fs';
import { createGovernor, definePolicy, parsePolicy, type Run } from '@bounded/core';
import { compare, environment, formatNs, pairedRatio, printTable } from './harness.js';
import { bareSpanCase, benchTracing } from './tracing.js';

// The seed policy as shipped, with budgets raised so a benchmark run is not stopped by them.
const seed = parsePolicy(readFileSync(new URL('../../examples/policies/default.yaml', import.meta.url), 'utf8'));
const policy = definePolicy({
  ...seed,
  budgets: { max_steps: 1e9, max_tool_calls: 1e9, max_seconds: 3600 },
  writes: { ...seed.writes, tools: ['crm.*'], require_approval: false },
  tools: { ...seed.tools, allow: [...seed.tools.allow, 'crm.update'] },
});

const { tracer, shutdown } = benchTracing();

const kbRead = async (args: { id: number }) => args.id + 1;
const CALLS_PER_RUN = 200;

/** Runs `iterations` governed calls, in runs of CALLS_PER_RUN (an agent's run is tens to hundreds of calls). */
function governed(name: string, write: boolean) {
  const governor = createGovernor({ policy });
  let id = 0;
  return {
    name,
    async run(iterations: number) {
      for (let done = 0; done < iterations; done += CALLS_PER_RUN) {
        const n = Math.min(CALLS_PER_RUN, iterations - done);
        await governor.run({ agent: 'bench' }, async (run: Run) => {
          for (let i = 0; i < n; i++) {
            // Distinct arguments, as an agent's calls have: the loop detector sees no loop.
            if (write) await run.tool('crm.update', { id: ++id }, kbRead);
            else await run.tool('kb.read', { id: ++id }, kbRead);
          }
        });
      }
    },
  };
}

async function main() {
  console.log(`Bounded core benchmark (${environment()})`);
  let id = 0;
  const bare = {
    name: 'bare call',
    async run(iterations: number) {
      for (let i = 0; i < iterations; i++) await kbRead({ id: ++id });
    },
  };
  const span = bareSpanCase(tracer, () => kbRead({ id: ++id }));
  const read = governed('governed read', false);
  const write = governed('governed idempotent write', true);
  const emptyRun = {
    name: 'governed empty run',
    async run(iterations: number) {
      const governor = createGovernor({ policy });
      for (let i = 0; i < iterations; i++) await governor.run({ agent: 'bench' }, () => 1);
    },
  };

  const results = await compare([bare, span, read, write], { rounds: 31, iterations: 10_000 });
  printTable('Per tool call (median of 31 interleaved rounds of 10,000 calls)', results, 'bare call');
  const [b, s, g, w] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0], (typeof results)[0]];
  const spanCost = s.ns - b.ns;
  const governCost = g.ns - b.ns;
  // Judged on the ratio paired within each round (the medians above drift with the machine's load).
  const ratio = pairedRatio(g, s, b);
  console.log(
    `\n  governance adds ${formatNs(governCost)} per call; one active span adds ${formatNs(spanCost)}.` +
      `\n  ratio governance / span, median of per-round ratios = ${ratio.toFixed(3)}  (target <= 0.25: ${ratio <= 0.25 ? 'met' : 'MISSED'})` +
      `\n  an idempotent write (canonical hash + store record) adds ${formatNs(w.ns - b.ns)}.`,
  );

  const runs = await compare([emptyRun], { rounds: 9, iterations: 5_000 });
  printTable('Per run (start, budgets, deadline timer, result)', runs, 'governed empty run');
  await shutdown();
}

await main();
