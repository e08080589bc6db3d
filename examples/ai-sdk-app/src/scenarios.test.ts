import { describe, expect, it } from 'vitest';
import { formatTable } from './report.js';
import { APPROVER, runAll } from './scenarios.js';

describe('the lead-enrichment app, offline', async () => {
  const outcomes = await runAll({ approvalDelayMs: 5 });
  const byId = Object.fromEntries(outcomes.map(o => [o.scenario.id, o]));

  it('ends each scenario with its stop reason', () => {
    expect(outcomes.map(o => [o.scenario.id, o.bounded.status === 'ok' ? 'ok' : o.bounded.stopReason])).toEqual([
      ['normal', 'ok'],
      ['thrash', 'max_tool_calls'],
      ['injection', 'tool_denied:crm.delete'],
      ['approval', 'ok'],
      ['usd', 'max_usd'],
    ]);
    expect(outcomes.every(o => o.asExpected)).toBe(true);
  });

  it('answers the normal task with two reads', () => {
    expect(byId.normal!.world.executions).toEqual({ 'companies.search': 1, 'companies.get': 1 });
    expect(byId.normal!.text).toContain('240 employees');
  });

  it('lets the thrashing model make exactly its eight searches', () => {
    expect(byId.thrash!.world.executions).toEqual({ 'companies.search': 8 });
    expect(byId.thrash!.bounded.usage.decisions).toMatchObject({ allow: 8, deny: 1 });
  });

  it('never runs the delete the web page asked for', () => {
    const { world } = byId.injection!;
    expect(world.executions).toEqual({ 'web.fetch': 1 });
    expect(world.leads.has('lead_7')).toBe(true);
  });

  it('writes the lead once, after the person approved it', () => {
    const { world, events } = byId.approval!;
    expect(world.executions['crm.update']).toBe(1);
    expect(world.leads.get('lead_42')).toMatchObject({ employees: 240, industry: 'robotics' });
    expect(events.find(e => e.type === 'approval.decided')).toMatchObject({ approved: true, by: APPROVER });
  });

  it('stops the expensive model at the dollar budget', () => {
    const { bounded } = byId.usd!;
    expect(bounded.usage.costUsd).toBeGreaterThan(0.05);
    expect(bounded.usage.steps).toBe(2);
  });

  it('prints a table with every stop reason', () => {
    const table = formatTable(outcomes);
    for (const reason of ['max_tool_calls', 'tool_denied:crm.delete', 'max_usd']) expect(table).toContain(reason);
  });
});
