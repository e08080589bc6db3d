import { describe, expect, it } from 'vitest';
import { formatOutcome, formatSummary } from './report.js';
import { APPROVER, OPERATOR, runDemo } from './scenarios.js';

describe('the support-desk demo', async () => {
  const outcomes = await runDemo({ approvalDelayMs: 30 });
  const byId = Object.fromEntries(outcomes.map(o => [o.scenario.id, o]));

  it('runs the six scenarios, each ending as it should', () => {
    expect(outcomes.map(o => [o.scenario.id, o.result.status === 'ok' ? 'ok' : o.result.stopReason])).toEqual([
      ['ok', 'ok'],
      ['thrash', 'max_tool_calls'],
      ['approval', 'ok'],
      ['injection', 'tool_denied:admin.delete_user'],
      ['dedup', 'ok'],
      ['killed', 'killed'],
    ]);
    expect(outcomes.every(o => o.asExpected)).toBe(true);
  });

  it('handles the routine ticket in the workflow, without the agent or a token', () => {
    const { result, world } = byId.ok!;
    expect(result).toMatchObject({ handledBy: 'workflow', usage: { totalTokens: 0, toolCalls: 1 } });
    expect(world.executions).toEqual({ 'kb.read': 1 });
  });

  it('lets the thrashing agent make exactly its 12 calls', () => {
    expect(byId.thrash!.world.executions).toEqual({ 'search.read': 12 });
    expect(byId.thrash!.result.usage.decisions).toMatchObject({ allow: 12, deny: 1 });
  });

  it('runs the write only after the person approved it', () => {
    const { world, events } = byId.approval!;
    expect(world.crm.get('cus_1042')).toEqual({ plan: 'priority' });
    const types = events.map(e => e.type);
    expect(types.indexOf('approval.decided')).toBeLessThan(types.lastIndexOf('tool.end'));
    expect(events.find(e => e.type === 'approval.decided')).toMatchObject({ approved: true, by: APPROVER });
  });

  it('never runs the tool the injection asked for', () => {
    const { world } = byId.injection!;
    expect(world.executions['admin.delete_user']).toBeUndefined();
    expect(world.crm.has('cus_2001')).toBe(true);
  });

  it('charges the card once for two identical charge calls', () => {
    const { world, result } = byId.dedup!;
    expect(world.charges).toHaveLength(1);
    expect(result.usage.decisions).toMatchObject({ approved: 1, dedup: 1 });
  });

  it('aborts the hanging tool when the operator kills the agent', () => {
    const { events, result } = byId.killed!;
    expect(result).toMatchObject({ stopReason: 'killed', detail: expect.stringContaining(OPERATOR) });
    expect(events.find(e => e.type === 'tool.end')).toMatchObject({ tool: 'http.get', outcome: 'aborted' });
  });

  it('prints a readable summary with the stop reasons', () => {
    const text = outcomes.map(formatOutcome).join('\n') + formatSummary(outcomes);
    for (const reason of [
      'max_tool_calls',
      'tool_denied:admin.delete_user',
      'killed',
      'held for approval',
      'deduplicated',
    ]) {
      expect(text).toContain(reason);
    }
  });
});
