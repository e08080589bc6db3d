import { describe, expect, it } from 'vitest';
import { runScenario, SCENARIOS } from './scenarios.js';

const byId = (id: string) => SCENARIOS.find(s => s.id === id)!;

describe('the LangChain support agent scenarios', () => {
  it.each(SCENARIOS.map(s => [s.id, s] as const))('%s ends as its script says', async (_id, scenario) => {
    const outcome = await runScenario(scenario);
    expect(outcome.asExpected, JSON.stringify(outcome.bounded)).toBe(true);
  });

  it('never runs a refused tool, and runs an approved write once', async () => {
    expect((await runScenario(byId('thrash'))).ran.kb_search).toBe(5);
    expect((await runScenario(byId('injection'))).ran).toMatchObject({ admin_delete_user: 0, order_lookup: 1 });
    expect((await runScenario(byId('approval'))).ran.crm_update_plan).toBe(1);
    const interrupted = await runScenario(byId('interrupt'));
    expect(interrupted.ran.crm_update_plan).toBe(0);
    expect(interrupted.results.map(r => r.status)).toEqual(['ok', 'stopped']);
    expect((await runScenario(byId('tokens'))).ran.kb_read).toBe(2);
  });
});
