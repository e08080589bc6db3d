import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatOutcome, formatSummary } from './report.js';
import { DEFAULT_POLICY, runDemo } from './scenarios.js';

const policyPath = process.argv[2] ?? fileURLToPath(DEFAULT_POLICY);

console.log('Bounded demo: a support desk. A workflow handles the known path; a bounded agent handles the rest.');
console.log(`Policy: ${relative(process.cwd(), policyPath)} (the seed default, plus writes, approvals and prices)\n`);

const outcomes = await runDemo({ policyPath });
for (const [index, outcome] of outcomes.entries()) console.log(`${formatOutcome(outcome, index)}\n`);
console.log(formatSummary(outcomes));

const unexpected = outcomes.filter(outcome => !outcome.asExpected);
if (unexpected.length > 0) {
  console.error(
    `\n${unexpected.length} scenario(s) did not end as expected: ${unexpected.map(o => o.scenario.id).join(', ')}`,
  );
  process.exitCode = 1;
}
