import { liveModel } from './models.js';
import { formatOutcome, formatTable } from './report.js';
import { runAll, runScenario, SCENARIOS } from './scenarios.js';

console.log('Bounded on the Vercel AI SDK: a lead-enrichment agent, five scripted scenarios (no network, no key).');
console.log('Policy: examples/ai-sdk-app/policy.yaml\n');

const outcomes = await runAll();
for (const [index, outcome] of outcomes.entries()) console.log(`${formatOutcome(outcome, index)}\n`);
console.log(formatTable(outcomes));

const live = await liveModel(process.env);
if (live) {
  console.log(`\nOPENAI_API_KEY is set: the first task again, with ${live.modelId}.`);
  const outcome = await runScenario(SCENARIOS[0]!, { model: live });
  console.log(formatOutcome(outcome, 0));
} else {
  console.log('\nSet OPENAI_API_KEY to run the first task with a real model too.');
}

const unexpected = outcomes.filter(outcome => !outcome.asExpected);
for (const outcome of unexpected) console.error(`scenario ${outcome.scenario.id} did not end as expected`);
if (unexpected.length > 0) process.exitCode = 1;
