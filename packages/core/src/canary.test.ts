import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canaryBucket, createCanary } from './canary.js';
import type { BoundedEvent, RunStartEvent } from './events.js';
import { createGovernor } from './governor.js';
import { defineWorkflow } from './workflow.js';

function governors() {
  const events: BoundedEvent[] = [];
  const observers = [{ onEvent: (event: BoundedEvent) => void events.push(event) }];
  const baseline = createGovernor({ policy: { budgets: { max_tool_calls: 5 } }, observers });
  const candidate = createGovernor({ policy: { budgets: { max_tool_calls: 1 } }, observers });
  return { baseline, candidate, events };
}

describe('createCanary', () => {
  it('routes about `percent` of runs to the candidate, and tags every run with its side', async () => {
    const { baseline, candidate, events } = governors();
    const canary = createCanary({ baseline, candidate, percent: 20 });
    const results = [];
    for (let i = 0; i < 2000; i++) {
      results.push(await canary.run({ agent: 'support' }, (_run, variant) => variant));
    }
    const candidates = results.filter(r => r.variant === 'candidate');
    expect(candidates.length / results.length).toBeGreaterThan(0.17);
    expect(candidates.length / results.length).toBeLessThan(0.23);
    expect(results.every(r => r.status === 'ok' && r.output === r.variant)).toBe(true);
    expect(canary.stats()).toEqual({ candidate: candidates.length, baseline: 2000 - candidates.length });
    const starts = events.filter((e): e is RunStartEvent => e.type === 'run.start');
    const byRun = new Map(results.map(r => [r.runId, r.variant]));
    for (const start of starts) expect(start.metadata.canary).toBe(byRun.get(start.runId));
  });

  it('runs on the routed governor: its policy applies', async () => {
    const { baseline, candidate } = governors();
    const canary = createCanary({ baseline, candidate, percent: 100 });
    const result = await canary.run({ agent: 'a', metadata: { ticket: 'T-1' } }, async run => {
      for (let i = 0; ; i++) await run.tool('kb.read', { i }, async () => i);
    });
    expect(result.variant).toBe('candidate');
    expect(result.status === 'stopped' && result.stopReason).toBe('max_tool_calls');
    const none = createCanary({ baseline, candidate, percent: 0 });
    expect((await none.run({ agent: 'a' }, () => 1)).variant).toBe('baseline');
  });

  it('keeps a key on one side, the same in every process (a pure hash)', () => {
    const { baseline, candidate } = governors();
    const canary = createCanary({ baseline, candidate, percent: 50 });
    const keys = Array.from({ length: 200 }, () => randomUUID());
    const first = keys.map(key => canary.route(key));
    expect(keys.map(key => canary.route(key))).toEqual(first);
    expect(new Set(first)).toEqual(new Set(['baseline', 'candidate']));
    expect(canaryBucket('customer-42')).toBe(canaryBucket('customer-42'));
    expect(canaryBucket('customer-42')).toBeGreaterThanOrEqual(0);
    expect(canaryBucket('customer-42')).toBeLessThan(10_000);
    // A salt reshuffles the sides.
    const salted = createCanary({ baseline, candidate, percent: 50, salt: 'prompt-v2' });
    expect(keys.map(key => salted.route(key))).not.toEqual(first);
  });

  it('routes workflows, one definition per side, and tags the escalation agent too', async () => {
    const { baseline, candidate, events } = governors();
    const make = (name: string) =>
      defineWorkflow<string, string>({
        name,
        run: wf => wf.escalate('always'),
        escalate: { agent: `${name}-agent`, run: () => name },
      });
    const policy = { mode: { default: 'workflow' as const, agent_for_exceptions: true } };
    const b = createGovernor({ policy, observers: [{ onEvent: e => void events.push(e) }] });
    const canary = createCanary({ baseline: b, candidate: b, percent: 100 });
    const result = await canary.workflow({ baseline: make('old'), candidate: make('new') }, 'ticket', { key: 'k' });
    expect(result.variant).toBe('candidate');
    expect(result.status === 'ok' && result.output).toBe('new');
    const starts = events.filter((e): e is RunStartEvent => e.type === 'run.start');
    expect(starts.map(s => [s.agent, s.metadata.canary])).toEqual([
      ['new', 'candidate'],
      ['new-agent', 'candidate'],
    ]);
    baseline.close();
    candidate.close();
  });

  it('refuses a bad percent or a missing governor with a UsageError', () => {
    const { baseline, candidate } = governors();
    expect(() => createCanary({ baseline, candidate, percent: 101 })).toThrow(/percent.*0 to 100, got 101/);
    expect(() => createCanary({ baseline, candidate, percent: Number.NaN })).toThrow(/percent/);
    expect(() => createCanary({ baseline, candidate: {} as never, percent: 5 })).toThrow(/candidate/);
  });
});
