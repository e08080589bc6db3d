import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatOutcome, formatSummary } from './report.js';
import { DEFAULT_POLICY, runDemo } from './scenarios.js';
import { demoTelemetry } from './telemetry.js';
import { runTraffic } from './traffic.js';

const args = process.argv.slice(2);
const policyPath =
  args.find((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--traffic') ?? fileURLToPath(DEFAULT_POLICY);
const loop = args.includes('--loop');
const telemetry = demoTelemetry(args, process.env);

console.log('Bounded demo: a support desk. A workflow handles the known path; a bounded agent handles the rest.');
console.log(`Policy: ${relative(process.cwd(), policyPath)} (the seed default, plus writes, approvals and prices)`);
if (telemetry) console.log(telemetry.description);
console.log('');

// --traffic N: a day of N mostly alike tickets instead of the six scenarios, for `bounded mine` to find the common path.
const trafficFlag = args.indexOf('--traffic');
if (trafficFlag >= 0) {
  const tickets = Number(args[trafficFlag + 1] ?? 50);
  const outcome = await runTraffic({ tickets, policyPath, observers: telemetry?.observers ?? [] });
  console.log(
    `${tickets} tickets: ${Object.entries(outcome.tickets)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ')}`,
  );
  console.log(
    `${outcome.agentRuns} went to the agent. Mine them: bounded mine --jaeger http://127.0.0.1:16686 --service bounded-demo`,
  );
  await telemetry?.telemetry.shutdown();
  process.exit(0);
}

let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
});

let unexpected = 0;
for (let round = 1; ; round++) {
  const outcomes = await runDemo({ policyPath, observers: telemetry?.observers ?? [] });
  unexpected += outcomes.filter(outcome => !outcome.asExpected).length;
  if (round === 1) {
    for (const [index, outcome] of outcomes.entries()) console.log(`${formatOutcome(outcome, index)}\n`);
    console.log(formatSummary(outcomes));
  }
  for (const outcome of outcomes) {
    if (!outcome.asExpected) console.error(`scenario ${outcome.scenario.id} did not end as expected`);
  }
  if (!loop || stopping) break;
  if (round === 1) console.log('\n--loop: running the scenarios again every 5 s to feed the dashboards; Ctrl-C stops.');
  await new Promise(resolve => setTimeout(resolve, 5_000));
  if (stopping) break;
}

await telemetry?.telemetry.shutdown();
if (unexpected > 0) process.exitCode = 1;
