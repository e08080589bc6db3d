import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { callbackApprover } from './approvals.js';
import type { BoundedEvent } from './events.js';
import { createGovernor } from './governor.js';

describe('governor.start(): runs whose end the caller controls', () => {
  it('ends ok with the output, once; later end() calls return the same result', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({ policy: {}, observers: [{ onEvent: e => void events.push(e) }] });
    const run = await governor.start({ agent: 'framework-agent' });
    await run.step();
    await run.tool('kb.read', { id: 1 }, async () => 'article');
    const first = await run.end({ output: 'answer' });
    const again = await run.end({ output: 'ignored' });
    expect(first).toMatchObject({ status: 'ok', output: 'answer', usage: { steps: 1, toolCalls: 1 } });
    expect(again).toBe(first);
    expect(run.ended).toBe(true);
    expect(events.filter(e => e.type === 'run.end')).toHaveLength(1);
    expect(governor.stats().runsActive).toBe(0);
    await expect(run.tool('kb.read', {}, async () => 1)).rejects.toThrow(/after run .* ended/);
  });

  it('ends with the error, or stopped when the run stopped before', async () => {
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 1 } } });
    const failed = await governor.start({ agent: 'a' });
    expect(await failed.end({ error: new Error('framework crashed') })).toMatchObject({
      status: 'stopped',
      stopReason: 'error',
      detail: 'Error: framework crashed',
    });
    const stopped = await governor.start({ agent: 'a' });
    await stopped.tool('x', { n: 1 }, async () => 1);
    await stopped.tool('x', { n: 2 }, async () => 2).catch(() => undefined);
    expect(await stopped.end({ output: 'framework ended normally' })).toMatchObject({ stopReason: 'max_tool_calls' });
  });

  it('comes back already stopped when the kill switch is thrown', async () => {
    const governor = createGovernor({ policy: {} });
    await governor.kill({ scope: 'agent', agent: 'a' });
    const run = await governor.start({ agent: 'a' });
    expect(run.stopped?.reason).toBe('killed');
    expect(await run.end()).toMatchObject({ status: 'stopped', stopReason: 'killed' });
  });

  it('runs work inside the run context with within()', async () => {
    const store = new AsyncLocalStorage<string>();
    const governor = createGovernor({
      policy: {},
      observers: [{ wrap: (scope, fn) => (scope.type === 'run.start' ? store.run(scope.runId, fn) : fn()) }],
    });
    const run = await governor.start({ agent: 'a', runId: 'r-9' });
    expect(run.within(() => store.getStore())).toBe('r-9');
    expect(store.getStore()).toBeUndefined();
    await run.end();
  });
});

describe('approvers that pause through the framework', () => {
  class Interrupt extends Error {}

  it('lets errors the approver claims pass through untouched, neither approved nor refused', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({
      policy: { writes: { tools: ['crm.*'] } },
      observers: [{ onEvent: e => void events.push(e) }],
      approver: {
        ...callbackApprover(() => {
          throw new Interrupt('waiting for a human');
        }),
        rethrows: error => error instanceof Interrupt,
      },
    });
    const run = await governor.start({ agent: 'a' });
    const error = await run.tool('crm.update', { id: 1 }, async () => 'ran').catch(e => e);
    expect(error).toBeInstanceOf(Interrupt);
    expect(run.stopped).toBeUndefined();
    expect(events.find(e => e.type === 'tool.end')).toMatchObject({ outcome: 'interrupted' });
    await run.end();
  });
});
