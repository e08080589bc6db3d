import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatOutcome, formatSummary } from './report.js';
import { DEFAULT_POLICY, runDemo } from './scenarios.js';
import { demoTelemetry } from './telemetry.js';

const args = process.argv.slice(2);
const policyPath = args.find(arg => !arg.startsWith('--')) ?? fileURLToPath(DEFAULT_POLICY);
const loop = args.includes('--loop');
const telemetry = demoTelemetry(args, process.env);

console.log('Bounded demo: a support desk. A workflow handles the known path; a bounded agent handles the rest.');
console.log(`Policy: ${relative(process.cwd(), policyPath)} (the seed default, plus writes, approvals and prices)`);
if (telemetry) console.log(telemetry.description);
console.log('');

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
