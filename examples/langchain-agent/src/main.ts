import { relative } from 'node:path';
import { loadPolicy } from '@bounded/core';
import { formatOutcome, formatSummary } from './report.js';
import { type Outcome, POLICY_PATH, runScenario, SCENARIOS } from './scenarios.js';

const policy = await loadPolicy(POLICY_PATH);
console.log('Bounded + LangChain: a support agent made with createAgent, governed by boundedMiddleware.');
console.log(`Policy: ${relative(process.cwd(), POLICY_PATH)}. Model: fakeModel() scripts (offline, no key).\n`);

const outcomes: Outcome[] = [];
for (const scenario of SCENARIOS) {
  const outcome = await runScenario(scenario, { policy });
  outcomes.push(outcome);
  console.log(`${formatOutcome(outcome, outcomes.length - 1)}\n`);
}
console.log(formatSummary(outcomes));

const unexpected = outcomes.filter(o => !o.asExpected);
if (unexpected.length > 0) {
  console.error(
    `\n${unexpected.length} scenario(s) did not end as expected: ${unexpected.map(o => o.scenario.id).join(', ')}`,
  );
  process.exitCode = 1;
}

// With a provider key, the same tickets go to a real model under the same policy (it decides for itself).
if (process.env.OPENAI_API_KEY) {
  const { liveModel } = await import('./live.js');
  const model = await liveModel();
  console.log(`\nLive: the same tickets with ${model.model} (OPENAI_API_KEY is set).\n`);
  const live: Outcome[] = [];
  for (const scenario of SCENARIOS.filter(s => s.approvals === 'queue')) {
    try {
      const outcome = await runScenario(scenario, { policy, model });
      live.push(outcome);
      console.log(`${formatOutcome({ ...outcome, asExpected: true }, live.length - 1)}\n`);
    } catch (error) {
      console.error(`${scenario.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  console.log(formatSummary(live));
} else {
  console.log('\nSet OPENAI_API_KEY (and optionally OPENAI_MODEL) to run the same tickets with a real model.');
}
