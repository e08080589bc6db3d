import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { PolicyError, StopError, ToolRefusedError, UsageError } from './errors.js';
import type { BoundedEvent, Observer } from './events.js';
import { createGovernor } from './governor.js';
import type { ToolContext } from './types.js';

function recorder(): Observer & { events: BoundedEvent[]; types(): string[] } {
  const events: BoundedEvent[] = [];
  return {
    events,
    onEvent: event => void events.push(event),
    types: () => events.map(e => e.type),
  };
}

const read = async (args: { id: number }) => ({ id: args.id, title: `article ${args.id}` });

describe('a run that stays within its budgets', () => {
  it('returns ok with the output, usage and budgets', async () => {
    const governor = createGovernor({
      policy: {
        budgets: { max_steps: 5, max_tool_calls: 4, max_tokens: 1000, max_usd: 1 },
        pricing: { models: { 'gpt-4o*': { input_per_1m: 2.5, output_per_1m: 10 } }, tools: { 'kb.read': 0.001 } },
      },
    });
    const result = await governor.run({ agent: 'support', runId: 'run-1' }, async run => {
      await run.step();
      run.usage({ inputTokens: 100, outputTokens: 20, model: 'gpt-4o-mini' });
      const article = await run.tool('kb.read', { id: 7 }, read);
      await run.step();
      run.usage({ inputTokens: 200, outputTokens: 50, model: 'gpt-4o-mini' });
      return article.title;
    });
    expect(result.status).toBe('ok');
    if (result.status !== 'ok') return;
    expect(result.output).toBe('article 7');
    expect(result.runId).toBe('run-1');
    expect(result.mode).toBe('agent');
    expect(result.usage).toMatchObject({
      steps: 2,
      toolCalls: 1,
      toolCallsByTool: { 'kb.read': 1 },
      inputTokens: 300,
      outputTokens: 70,
      totalTokens: 370,
      // 300 * 2.5/1M + 70 * 10/1M + 0.001
      costUsd: 0.00245,
      decisions: { allow: 1, deny: 0, dedup: 0, approved: 0, rejected: 0, shadow_deny: 0 },
    });
    expect(result.budgets).toEqual([
      { kind: 'steps', limit: 5, used: 2, remaining: 3 },
      { kind: 'tool_calls', limit: 4, used: 1, remaining: 3 },
      { kind: 'tokens', limit: 1000, used: 370, remaining: 630 },
      { kind: 'usd', limit: 1, used: 0.00245, remaining: 0.99755 },
    ]);
  });

  it('emits start, decision and end for each tool call, in order, with budgets', async () => {
    const events = recorder();
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 3 } }, observers: [events] });
    await governor.run({ agent: 'support', tenant: 'acme', metadata: { ticket: 'T-1' } }, async run => {
      await run.tool('kb.read', { id: 1 }, read, { callId: 'call_a' });
    });
    expect(events.types()).toEqual(['run.start', 'tool.start', 'tool.decision', 'tool.end', 'run.end']);
    expect(events.events[0]).toMatchObject({ tenant: 'acme', metadata: { ticket: 'T-1' }, enforcement: 'enforce' });
    expect(events.events[2]).toMatchObject({
      callId: 'call_a',
      decision: 'allow',
      rule: 'no allow list',
      enforced: true,
    });
    expect(events.events[3]).toMatchObject({
      outcome: 'ok',
      result: { id: 1, title: 'article 1' },
      budgets: [{ kind: 'tool_calls', limit: 3, used: 1, remaining: 2 }],
      toolCallsOfTool: 1,
    });
  });

  it('names the allow rule that let a call through', async () => {
    const events = recorder();
    const governor = createGovernor({ policy: { tools: { allow: ['search.*', 'kb.read'] } }, observers: [events] });
    await governor.run({ agent: 'a' }, run => run.tool('kb.read', { id: 1 }, read));
    expect(events.events.find(e => e.type === 'tool.decision')).toMatchObject({ rule: 'tools.allow[1] "kb.read"' });
  });
});

describe('stops', () => {
  it('a body that swallows a StopError still ends stopped: stops are never silent', async () => {
    const governor = createGovernor({ policy: { tools: { allow: ['kb.read'] } } });
    const result = await governor.run({ agent: 'a' }, async run => {
      try {
        await run.tool('payments.refund', {}, read as never);
      } catch {
        // an agent loop that catches everything
      }
      return 'pretending all is well';
    });
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'tool_denied:payments.refund' });
  });

  it('max_seconds fires while a tool hangs: the run returns at the deadline and the tool is aborted', async () => {
    const governor = createGovernor({ policy: { budgets: { max_seconds: 0.2 } } });
    let seen: AbortSignal | undefined;
    const started = performance.now();
    const result = await governor.run({ agent: 'a' }, run =>
      run.tool('http.get', { url: 'https://slow.example' }, (_args, ctx: ToolContext) => {
        seen = ctx.signal;
        return new Promise(() => {});
      }),
    );
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'max_seconds' });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(seen?.aborted).toBe(true);
    const reason: unknown = seen?.reason;
    expect(StopError.is(reason) && reason.reason).toBe('max_seconds');
  });

  it('a stop aborts the calls still running oldest first, and a tool that stops the run and then fails is no crash', async () => {
    const ends: string[] = [];
    const observer: Observer = {
      name: 'ends',
      onEvent: (event: BoundedEvent) => {
        if (event.type === 'tool.end') ends.push(`${event.tool}:${event.outcome}`);
      },
    };
    const governor = createGovernor({ policy: { budgets: { max_seconds: 0.05 } }, observers: [observer] });
    const hang = () => new Promise(() => {});
    const result = await governor.run({ agent: 'a' }, run =>
      Promise.all(['t1', 't2', 't3'].map(tool => run.tool(tool, {}, hang))),
    );
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'max_seconds' });
    expect(ends).toEqual(['t1:aborted', 't2:aborted', 't3:aborted']);

    // The tool throws the kill switch, then its promise rejects: nobody waits for it, and nothing goes unhandled.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const killed = await governor.run({ agent: 'b' }, run =>
        run.tool('kb.read', {}, () => {
          void governor.kill({ scope: 'global' }, { reason: 'test' });
          return Promise.reject(new Error('failed after the kill'));
        }),
      );
      expect(killed).toMatchObject({ status: 'stopped', stopReason: 'killed' });
      await new Promise(resolve => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await governor.revive({ scope: 'global' });
    }
  });

  it('a budget stop lets the calls already admitted finish: parallel writes that ran are not reported as failed', async () => {
    const ends: string[] = [];
    const observer: Observer = {
      onEvent: (event: BoundedEvent) => {
        if (event.type === 'tool.end') ends.push(`${event.callId}:${event.outcome}`);
      },
    };
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 2 } }, observers: [observer] });
    const written: string[] = [];
    const charge = async (args: { id: string }) => {
      written.push(args.id);
      return `charged ${args.id}`;
    };
    // One model step asks for three charges at once; the budget has room for two.
    const run = await governor.start({ agent: 'billing' });
    const settled = await Promise.allSettled(
      ['A', 'B', 'C'].map(id => run.tool('payments.charge', { id }, charge, { callId: id })),
    );
    expect(written).toEqual(['A', 'B']);
    expect(settled.map(s => (s.status === 'fulfilled' ? s.value : (s.reason as StopError).reason))).toEqual([
      'charged A',
      'charged B',
      'max_tool_calls',
    ]);
    expect(ends).toEqual(['C:refused', 'A:ok', 'B:ok']);
    expect(run.signal.aborted).toBe(false);
    await expect(run.end()).resolves.toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    expect(run.signal.aborted).toBe(true);
  });

  it('after a budget stop, a call still running finishes, unless the run ends or a hard stop comes first', async () => {
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 1 } } });
    const slow = (_args: unknown, ctx: ToolContext) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => resolve('done'), 30);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        });
      });

    const finishing = await governor.start({ agent: 'a' });
    const first = finishing.tool('slow.read', {}, slow);
    await expect(finishing.tool('slow.read', {}, slow)).rejects.toMatchObject({ reason: 'max_tool_calls' });
    await expect(first).resolves.toBe('done');
    await finishing.end();

    const killed = await governor.start({ agent: 'b' });
    const running = killed.tool('slow.read', {}, slow);
    await expect(killed.tool('slow.read', {}, slow)).rejects.toMatchObject({ reason: 'max_tool_calls' });
    await governor.kill({ scope: 'agent', agent: 'b' }, { reason: 'test' });
    await expect(running).rejects.toMatchObject({ reason: 'max_tool_calls' });
    await expect(killed.end()).resolves.toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    await governor.revive({ scope: 'agent', agent: 'b' });

    const ended = await governor.start({ agent: 'c' });
    const orphan = ended.tool('slow.read', {}, slow);
    await expect(ended.tool('slow.read', {}, slow)).rejects.toMatchObject({ reason: 'max_tool_calls' });
    await ended.end();
    await expect(orphan).rejects.toMatchObject({ reason: 'max_tool_calls' });
  });

  it('max_seconds stops a loop of calls to tools that answer at once, which never lets the timer fire', async () => {
    const governor = createGovernor({ policy: { budgets: { max_seconds: 0.05 } } });
    let calls = 0;
    const started = performance.now();
    const result = await governor.run({ agent: 'a' }, async run => {
      for (;;) await run.tool('kb.read', { n: calls }, () => ++calls);
    });
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'max_seconds' });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('a deadline beyond what a timer holds (24.8 days) does not fire at once; shadow mode records an overrun', async () => {
    const month = createGovernor({ policy: { budgets: { max_seconds: 30 * 24 * 3600 } } });
    await expect(
      month.run({ agent: 'a' }, () => new Promise(resolve => setTimeout(() => resolve('done'), 20))),
    ).resolves.toMatchObject({ status: 'ok', output: 'done' });

    const shadow = createGovernor({ policy: { enforcement: 'shadow', budgets: { max_seconds: 0.02 } } });
    const result = await shadow.run({ agent: 'a' }, () => new Promise(resolve => setTimeout(resolve, 60)));
    expect(result).toMatchObject({
      status: 'ok',
      wouldHaveStopped: { reason: 'max_seconds', detail: 'ran for 0.02s (budgets.max_seconds)' },
    });
  });

  it('max_seconds fires even when the body hangs outside any tool', async () => {
    const governor = createGovernor({ policy: { budgets: { max_seconds: 0.1 } } });
    const result = await governor.run({ agent: 'a' }, () => new Promise(() => {}));
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'max_seconds' });
  });

  it("a caller's abort signal stops the run as killed", async () => {
    const governor = createGovernor({ policy: {} });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const result = await governor.run({ agent: 'a', signal: controller.signal }, async run => {
      await run.tool('http.get', {}, () => new Promise(() => {}));
    });
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'killed', detail: 'aborted by the caller' });
  });

  it('an error in the body is a stop with reason error, carrying the error', async () => {
    const governor = createGovernor({ policy: {} });
    const boom = new RangeError('bad index');
    const result = await governor.run({ agent: 'a' }, () => {
      throw boom;
    });
    expect(result).toMatchObject({
      status: 'stopped',
      stopReason: 'error',
      detail: 'RangeError: bad index',
      error: boom,
    });
  });

  it('later calls on a stopped run throw the same StopError, even after governor.run() returned', async () => {
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 1 } } });
    const errors: unknown[] = [];
    let bodyDone!: () => void;
    const bodyFinished = new Promise<void>(resolve => {
      bodyDone = resolve;
    });
    await governor.run({ agent: 'a' }, async run => {
      await run.tool('kb.read', { id: 1 }, read);
      for (const attempt of [() => run.tool('kb.read', { id: 2 }, read), () => run.step(), async () => run.check()]) {
        await attempt().catch(error => errors.push(error));
      }
      bodyDone();
    });
    // governor.run() returns at the stop; the body may still be winding down.
    await bodyFinished;
    expect(errors).toHaveLength(3);
    expect(new Set(errors).size).toBe(1);
    expect((errors[0] as StopError).reason).toBe('max_tool_calls');
  });

  it('run budgets can tighten the policy but never loosen it', async () => {
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 2 } } });
    const loose = await governor.run({ agent: 'a', budgets: { max_tool_calls: 50 } }, async run => {
      for (let i = 0; i < 10; i++) await run.tool('kb.read', { id: i }, read);
    });
    expect(loose).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls', usage: { toolCalls: 2 } });
    const tight = await governor.run({ agent: 'a', budgets: { max_tool_calls: 1 } }, async run => {
      for (let i = 0; i < 10; i++) await run.tool('kb.read', { id: i }, read);
    });
    expect(tight).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls', usage: { toolCalls: 1 } });
  });

  it('usage reported after a stop is recorded but does not throw', async () => {
    const governor = createGovernor({ policy: { budgets: { max_tokens: 10 } } });
    const result = await governor.run({ agent: 'a' }, async run => {
      await run.step();
      expect(() => run.usage({ inputTokens: 20 })).toThrow(StopError);
      run.usage({ outputTokens: 5 });
    });
    expect(result).toMatchObject({ stopReason: 'max_tokens', usage: { inputTokens: 20, outputTokens: 5 } });
  });
});

describe('on_refusal: continue', () => {
  it('refuses just the call with ToolRefusedError; the run goes on and ends ok', async () => {
    const governor = createGovernor({ policy: { tools: { allow: ['kb.read'], on_refusal: 'continue' } } });
    const result = await governor.run({ agent: 'a' }, async run => {
      const refused = await run.tool('shell.exec', { cmd: 'ls' }, read as never).catch(error => error);
      expect(ToolRefusedError.is(refused)).toBe(true);
      expect(refused).toMatchObject({ reason: 'tool_denied:shell.exec', tool: 'shell.exec' });
      return (await run.tool('kb.read', { id: 3 }, read)).title;
    });
    expect(result).toMatchObject({ status: 'ok', output: 'article 3', usage: { decisions: { allow: 1, deny: 1 } } });
  });

  it('budget refusals still stop the run', async () => {
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 1 }, tools: { on_refusal: 'continue' } } });
    const result = await governor.run({ agent: 'a' }, async run => {
      await run.tool('kb.read', { id: 1 }, read);
      await run.tool('kb.read', { id: 2 }, read).catch(() => undefined);
      return 'kept going';
    });
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
  });

  it('an unhandled refusal ends the run with its reason', async () => {
    const governor = createGovernor({ policy: { tools: { deny: ['x.*'], on_refusal: 'continue' } } });
    const result = await governor.run({ agent: 'a' }, run => run.tool('x.y', {}, read as never));
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'tool_denied:x.y' });
  });
});

describe('shadow mode', () => {
  it('records what would have been refused and lets everything run', async () => {
    const events = recorder();
    let ran = 0;
    const governor = createGovernor({
      policy: { enforcement: 'shadow', budgets: { max_tool_calls: 1 }, tools: { allow: ['kb.read'] } },
      observers: [events],
    });
    const result = await governor.run({ agent: 'a' }, async run => {
      await run.tool('kb.read', { id: 1 }, read);
      await run.tool('kb.read', { id: 2 }, read);
      await run.tool('evil.tool', {}, async () => ++ran);
      return 'done';
    });
    expect(result).toMatchObject({
      status: 'ok',
      output: 'done',
      wouldHaveStopped: { reason: 'max_tool_calls' },
      usage: { toolCalls: 3, decisions: { allow: 1, shadow_deny: 2 } },
    });
    expect(ran).toBe(1);
    const decisions = events.events.filter(e => e.type === 'tool.decision');
    expect(decisions.map(d => [d.decision, d.reason, d.enforced])).toEqual([
      ['allow', undefined, true],
      ['shadow_deny', 'max_tool_calls', false],
      ['shadow_deny', 'tool_denied:evil.tool', false],
    ]);
    expect(events.types()).toContain('run.shadow_stop');
  });

  it('a governor option can put an enforcing policy into shadow mode', async () => {
    const governor = createGovernor({ policy: { tools: { allow: ['kb.read'] } }, enforcement: 'shadow' });
    const result = await governor.run({ agent: 'a' }, run => run.tool('other', {}, async () => 'ran'));
    expect(result).toMatchObject({ status: 'ok', output: 'ran', wouldHaveStopped: { reason: 'tool_denied:other' } });
  });

  it('the kill switch still acts in shadow mode', async () => {
    const governor = createGovernor({ policy: { enforcement: 'shadow' } });
    await governor.kill({ scope: 'global' }, { reason: 'incident', by: 'ops' });
    const result = await governor.run({ agent: 'a' }, async () => 'should not run');
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'killed' });
  });
});

describe('observers', () => {
  it('an observer that throws is caught and counted; the run is unaffected', async () => {
    const seen: unknown[] = [];
    const governor = createGovernor({
      policy: {},
      observers: [
        {
          onEvent: () => {
            throw new Error('exporter down');
          },
        },
        { onEvent: async () => Promise.reject(new Error('async exporter down')) },
      ],
      onObserverError: error => seen.push((error as Error).message),
    });
    const result = await governor.run({ agent: 'a' }, run => run.tool('kb.read', { id: 1 }, read));
    await new Promise(resolve => setImmediate(resolve));
    expect(result.status).toBe('ok');
    expect(governor.stats().observerErrors).toBe(10);
    expect(seen).toContain('exporter down');
    expect(seen).toContain('async exporter down');
  });

  it('wrap runs the body and each tool inside the observer context', async () => {
    const store = new AsyncLocalStorage<string>();
    const contextObserver: Observer = {
      wrap: (scope, fn) => store.run(scope.type === 'run.start' ? `run:${scope.runId}` : `tool:${scope.tool}`, fn),
    };
    const governor = createGovernor({ policy: {}, observers: [contextObserver] });
    const seen: Array<string | undefined> = [];
    await governor.run({ agent: 'a', runId: 'r1' }, async run => {
      seen.push(store.getStore());
      await run.tool('kb.read', { id: 1 }, async () => seen.push(store.getStore()));
      seen.push(store.getStore());
    });
    expect(seen).toEqual(['run:r1', 'tool:kb.read', 'run:r1']);
  });

  it('a wrapper that throws is bypassed and the work still runs once', async () => {
    let runs = 0;
    const governor = createGovernor({
      policy: {},
      observers: [
        {
          wrap: () => {
            throw new Error('broken wrapper');
          },
        },
      ],
    });
    const result = await governor.run({ agent: 'a' }, () => ++runs);
    expect(result).toMatchObject({ status: 'ok', output: 1 });
    expect(governor.stats().observerErrors).toBe(1);
  });

  it("errors from the work pass through a wrapper unchanged, not counted as the observer's", async () => {
    const governor = createGovernor({ policy: {}, observers: [{ wrap: (_scope, fn) => fn() }] });
    const result = await governor.run({ agent: 'a' }, () => {
      throw new Error('real bug');
    });
    expect(result).toMatchObject({ stopReason: 'error', detail: 'Error: real bug' });
    expect(governor.stats().observerErrors).toBe(0);
  });
});

describe('pricing', () => {
  it('prices cached input at its own rate and warns once about unpriced models under a USD budget', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code === 'BOUNDED_UNPRICED_MODEL') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    const governor = createGovernor({
      policy: {
        budgets: { max_usd: 10 },
        pricing: { models: { m: { input_per_1m: 1, output_per_1m: 4, cached_input_per_1m: 0.1 } } },
      },
    });
    const result = await governor.run({ agent: 'a' }, async run => {
      run.usage({ inputTokens: 1_000_000, cachedInputTokens: 500_000, outputTokens: 250_000, model: 'm' });
      run.usage({ inputTokens: 10, model: 'unknown-model' });
      run.usage({ inputTokens: 10, model: 'unknown-model' });
      run.usage({ inputTokens: 10, outputTokens: 10, costUsd: 0.5 });
    });
    await new Promise(resolve => setImmediate(resolve));
    process.off('warning', onWarning);
    // 500k uncached * $1 + 500k cached * $0.1 + 250k * $4, per million; plus a reported $0.5
    expect(result.usage.costUsd).toBeCloseTo(0.5 + 0.05 + 1 + 0.5, 9);
    expect(warnings).toEqual([
      'Model "unknown-model" has no price in pricing.models; its calls count as $0 against USD budgets.',
    ]);
  });

  it('checks prices given in code as it checks the policy file, naming each mistake', () => {
    const misspelt = () =>
      createGovernor({
        policy: { budgets: { max_usd: 1 } },
        pricing: { models: { m: { input_per_mtok: 1 } as never }, tools: { 'search.*': -1 } },
      });
    expect(misspelt).toThrow(PolicyError);
    expect(misspelt).toThrow(
      'createGovernor({ pricing })  pricing.models.m.input_per_mtok: unknown key "input_per_mtok" in pricing.models.m; did you mean "input_per_1m"?',
    );
    expect(misspelt).toThrow('pricing.tools["search.*"]: must be 0 or more, got number -1');
  });

  it('rejects nonsense usage with a clear error', async () => {
    const governor = createGovernor({ policy: {} });
    const result = await governor.run({ agent: 'a' }, run => run.usage({ inputTokens: -5 }));
    expect(result).toMatchObject({
      stopReason: 'error',
      detail: expect.stringContaining('inputTokens must be a finite number >= 0'),
    });
    const odd = await governor.run({ agent: 'a' }, run =>
      run.usage({ inputTokens: 5, provider: 42 as unknown as string }),
    );
    expect(odd).toMatchObject({ stopReason: 'error', detail: expect.stringContaining('provider must be a string') });
  });

  it("passes the model's provider on to observers with the usage", async () => {
    const usage: unknown[] = [];
    const governor = createGovernor({
      policy: {},
      observers: [{ onEvent: event => void (event.type === 'usage' && usage.push(event)) }],
    });
    await governor.run({ agent: 'a' }, run => {
      run.usage({ inputTokens: 10, outputTokens: 2, model: 'gpt-4o-mini', provider: 'openai.chat' });
      run.usage({ inputTokens: 1 });
    });
    expect(usage).toMatchObject([
      { model: 'gpt-4o-mini', provider: 'openai.chat', inputTokens: 10, outputTokens: 2 },
      { model: undefined, provider: undefined, inputTokens: 1 },
    ]);
  });
});

describe('misuse', () => {
  it('refuses a second run under the id of one still running, and takes the id again once it has ended', async () => {
    const governor = createGovernor({ policy: {} });
    const first = await governor.start({ agent: 'a', runId: 'req-42' });
    await expect(governor.run({ agent: 'a', runId: 'req-42' }, () => 1)).rejects.toThrow(
      'a run with id "req-42" is already running',
    );
    await first.end();
    await expect(governor.run({ agent: 'a', runId: 'req-42' }, () => 1)).resolves.toMatchObject({ status: 'ok' });
    expect(governor.stats().runsActive).toBe(0);
  });

  it('names what is wrong', async () => {
    expect(() => createGovernor({ policy: undefined as never })).toThrow(/`policy` is required/);
    const governor = createGovernor({ policy: {} });
    await expect(governor.run({ agent: '' }, () => 1)).rejects.toThrow(UsageError);
    await expect(governor.run({ agent: 'a', budgets: { max_steps: -1 } }, () => 1)).rejects.toThrow(
      'governor.run() budgets.max_steps must be a number >= 0, got -1',
    );
    let escaped: { tool: (...args: never[]) => Promise<unknown> } | undefined;
    await governor.run({ agent: 'a' }, run => {
      escaped = run as never;
    });
    await expect(escaped!.tool('kb.read' as never, {} as never, read as never)).rejects.toThrow(
      /was called after run .* ended/,
    );
    await expect(governor.kill({ scope: 'agent' } as never)).rejects.toThrow(/kill target must be/);
  });
});

describe('explain', () => {
  it('says what the policy decides for a tool, and which rule decides', async () => {
    const governor = createGovernor({
      policy: {
        tools: { allow: ['kb.*', 'crm.update', 'payments.refund'], deny: ['kb.admin'] },
        writes: {
          tools: ['crm.*', 'payments.*'],
          auto_approve: [{ tool: 'payments.refund', when: { amount: { lte: 50 } }, name: 'small refunds' }],
        },
        budgets: { per_tool: { 'kb.*': 5 } },
      },
    });
    expect(await governor.explain('kb.read')).toMatchObject({
      decision: 'allow',
      rule: 'tools.allow[0] "kb.*"',
      perToolLimit: 5,
      write: false,
    });
    expect(await governor.explain('kb.admin')).toMatchObject({
      decision: 'deny',
      rule: 'tools.deny[0] "kb.admin"',
      reason: 'tool_denied:kb.admin',
    });
    expect(await governor.explain('shell.exec')).toMatchObject({ decision: 'deny', rule: 'tools.allow' });
    expect(await governor.explain('crm.update')).toMatchObject({
      decision: 'approval_required',
      rule: 'writes.require_approval',
      write: true,
      idempotent: true,
    });
    expect(await governor.explain('payments.refund', { amount: 20 })).toMatchObject({
      decision: 'auto_approved',
      rule: 'writes.auto_approve[0] "small refunds"',
    });
    expect(await governor.explain('payments.refund', { amount: 500 })).toMatchObject({ decision: 'approval_required' });
  });
});
