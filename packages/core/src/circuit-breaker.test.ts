import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ToolInputError } from './errors.js';
import { createGovernor } from './governor.js';
import { MemoryCircuitStore } from './stores/memory.js';

describe('circuit breaker', () => {
  it('opens after consecutive failures, half-opens after the cool-down, closes on success', async () => {
    const governor = createGovernor({
      policy: { circuit_breaker: { failure_threshold: 2, cooldown_seconds: 0.05 }, tools: { on_refusal: 'continue' } },
    });
    let healthy = false;
    let calls = 0;
    const api = async () => {
      calls++;
      if (!healthy) throw new Error('503');
      return 'ok';
    };
    const attempt = () =>
      governor
        .run({ agent: 'a' }, run => run.tool('crm.read', { n: Math.random() }, api))
        .then(r => (r.status === 'ok' ? 'ok' : r.stopReason));
    expect(await attempt()).toBe('error');
    expect(await attempt()).toBe('error');
    // Open: refused without calling the API, across runs (a retry storm is refused, not amplified).
    expect(await attempt()).toBe('circuit_open:crm.read');
    expect(await attempt()).toBe('circuit_open:crm.read');
    expect(calls).toBe(2);
    await sleep(60);
    // Half-open: one failure re-opens at once.
    expect(await attempt()).toBe('error');
    expect(await attempt()).toBe('circuit_open:crm.read');
    await sleep(60);
    healthy = true;
    expect(await attempt()).toBe('ok');
    healthy = false;
    // Closed again: it takes the full threshold to re-open.
    expect(await attempt()).toBe('error');
    expect(await attempt()).toBe('error');
    expect(await attempt()).toBe('circuit_open:crm.read');
  });

  it("does not count a call whose input was at fault (ToolInputError) against the tool's health", async () => {
    const governor = createGovernor({
      policy: { circuit_breaker: { failure_threshold: 2, cooldown_seconds: 60 }, tools: { on_refusal: 'continue' } },
    });
    const badInput = async () => {
      throw new ToolInputError('crm.read', 'id: expected a number');
    };
    for (let i = 0; i < 3; i++) {
      const result = await governor.run({ agent: 'a' }, run => run.tool('crm.read', { id: 'x' }, badInput));
      // The call still fails, with the error the tool gave.
      expect(result).toMatchObject({
        status: 'stopped',
        stopReason: 'error',
        detail: expect.stringContaining('expected a number'),
      });
    }
    const healthy = await governor.run({ agent: 'a' }, run => run.tool('crm.read', { id: 1 }, async () => 'ok'));
    expect(healthy).toMatchObject({ status: 'ok', output: 'ok' });
    // Real failures still open it.
    const broken = async () => {
      throw new Error('503');
    };
    await governor.run({ agent: 'a' }, run => run.tool('crm.read', { id: 2 }, broken));
    await governor.run({ agent: 'a' }, run => run.tool('crm.read', { id: 3 }, broken));
    const refused = await governor.run({ agent: 'a' }, run => run.tool('crm.read', { id: 4 }, async () => 'ok'));
    expect(refused).toMatchObject({ status: 'stopped', stopReason: 'circuit_open:crm.read' });
  });

  it('a half-open trial whose input was at fault lets the next call be the trial, not wait another cool-down', async () => {
    const governor = createGovernor({
      policy: { circuit_breaker: { failure_threshold: 1, cooldown_seconds: 0.05 }, tools: { on_refusal: 'continue' } },
    });
    const attempt = (execute: () => Promise<string>) =>
      governor
        .run({ agent: 'a' }, run => run.tool('crm.read', { n: Math.random() }, execute))
        .then(r => (r.status === 'ok' ? 'ok' : r.stopReason));
    expect(
      await attempt(async () => {
        throw new Error('503');
      }),
    ).toBe('error');
    expect(await attempt(async () => 'ok')).toBe('circuit_open:crm.read');
    await sleep(60);
    expect(
      await attempt(async () => {
        throw new ToolInputError('crm.read', 'id: expected a number');
      }),
    ).toBe('error');
    // The trial said nothing of the tool: the next call is the trial, and closes the circuit.
    expect(await attempt(async () => 'ok')).toBe('ok');
    expect(await attempt(async () => 'ok')).toBe('ok');
  });

  it('a half-open trial refused before it runs (over budget, say) gives the trial to the next call', async () => {
    const governor = createGovernor({
      policy: { circuit_breaker: { failure_threshold: 1, cooldown_seconds: 0.05 }, tools: { on_refusal: 'continue' } },
    });
    await governor.run({ agent: 'a' }, run =>
      run.tool('crm.read', {}, async () => {
        throw new Error('503');
      }),
    );
    await sleep(60);
    let ran = 0;
    const overBudget = await governor.run({ agent: 'a', budgets: { max_tool_calls: 1 } }, async run => {
      await run.tool('kb.read', {}, async () => 'fine');
      return run.tool('crm.read', {}, async () => ++ran);
    });
    expect(overBudget).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    const healthy = await governor.run({ agent: 'a' }, run => run.tool('crm.read', {}, async () => ++ran));
    expect(healthy).toMatchObject({ status: 'ok', output: 1 });
  });

  it('a trial refused late leaves alone the trial handed out after it (the circuit stays shut meanwhile)', async () => {
    const governor = createGovernor({
      policy: {
        circuit_breaker: { failure_threshold: 1, cooldown_seconds: 0.1 },
        writes: { tools: ['crm.*'], require_approval: true },
        tools: { on_refusal: 'continue' },
      },
      // A is rejected after a long look; the others are approved at once.
      approver: {
        request: async request =>
          (request.args as { who: string }).who === 'A'
            ? sleep(160).then(() => ({ approved: false, by: 'bob' }))
            : { approved: true, by: 'bob' },
      },
    });
    const started: string[] = [];
    const write = (who: string, ms: number) =>
      governor.run({ agent: 'a' }, run =>
        run.tool('crm.write', { who }, async () => {
          started.push(who);
          await sleep(ms);
          if (who === 'first') throw new Error('503');
          return who;
        }),
      );
    await write('first', 0);
    await sleep(110);
    const a = write('A', 0); // the trial, waiting on a person
    await sleep(130);
    const b = write('B', 200); // A's trial outlived the cool-down: B is the next trial, and runs
    expect(await a).toMatchObject({ status: 'stopped', stopReason: 'approval_rejected:crm.write' });
    const c = await write('C', 0);
    expect(c).toMatchObject({ status: 'stopped', stopReason: 'circuit_open:crm.write' });
    expect(await b).toMatchObject({ status: 'ok', output: 'B' });
    expect(started).toEqual(['first', 'B']);
  });

  it('a store that does not say which call is the trial is still told of a call whose input was at fault', async () => {
    const inner = new MemoryCircuitStore();
    const released: unknown[][] = [];
    const governor = createGovernor({
      policy: { circuit_breaker: { failure_threshold: 1, cooldown_seconds: 60 } },
      stores: {
        circuits: {
          openUntil: tool => Math.max(0, inner.openUntil(tool)),
          recordSuccess: tool => inner.recordSuccess(tool),
          recordFailure: (...args) => inner.recordFailure(...args),
          releaseTrial: (...args) => void released.push(args),
        },
      },
    });
    await governor.run({ agent: 'a' }, run =>
      run.tool('crm.read', {}, async () => {
        throw new ToolInputError('crm.read', 'id: expected a number');
      }),
    );
    expect(released).toEqual([['crm.read', undefined]]);
  });

  it('half-open, lets one trial call through, not every call waiting for the cool-down to end', async () => {
    const governor = createGovernor({
      policy: { circuit_breaker: { failure_threshold: 1, cooldown_seconds: 0.05 }, tools: { on_refusal: 'continue' } },
    });
    let calls = 0;
    const api = async () => {
      calls++;
      await sleep(20);
      return 'ok';
    };
    await governor.run({ agent: 'a' }, run =>
      run.tool('crm.read', {}, async () => {
        throw new Error('503');
      }),
    );
    await sleep(60);
    const results = await Promise.all(
      [1, 2, 3].map(n =>
        governor
          .run({ agent: 'a' }, run => run.tool('crm.read', { n }, api))
          .then(r => (r.status === 'ok' ? 'ok' : r.stopReason)),
      ),
    );
    expect(results).toEqual(['ok', 'circuit_open:crm.read', 'circuit_open:crm.read']);
    expect(calls).toBe(1);
    // The trial succeeded: closed for everyone.
    expect(await governor.run({ agent: 'a' }, run => run.tool('crm.read', { n: 4 }, api))).toMatchObject({
      status: 'ok',
    });
  });

  it('counts only consecutive failures, and not aborts caused by the run stopping', async () => {
    const governor = createGovernor({ policy: { circuit_breaker: { failure_threshold: 2, cooldown_seconds: 60 } } });
    const fail = async () => {
      throw new Error('boom');
    };
    await governor.run({ agent: 'a' }, run => run.tool('t', { i: 1 }, fail));
    await governor.run({ agent: 'a' }, run => run.tool('t', { i: 2 }, async () => 'ok'));
    await governor.run({ agent: 'a' }, run => run.tool('t', { i: 3 }, fail));
    await governor.run({ agent: 'a', budgets: { max_seconds: 0.02 } }, run =>
      run.tool('t', { i: 4 }, () => new Promise(() => {})),
    );
    const result = await governor.run({ agent: 'a' }, run => run.tool('t', { i: 5 }, async () => 'still closed'));
    expect(result).toMatchObject({ status: 'ok', output: 'still closed' });
  });
});
