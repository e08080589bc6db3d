import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { IdempotencyCrashedError, ToolRefusedError } from './errors.js';
import type { BoundedEvent, KillRecord } from './events.js';
import { createGovernor } from './governor.js';
import { MemoryIdempotencyStore, MemoryLimitsStore } from './stores/memory.js';
import type { AdmissionRequest, AdmissionStore, IdempotencyOptions, LimitsStore } from './stores/types.js';

// What core offers stores shared by processes (see @bounded/redis): one-round-trip admission, fail modes when the
// store is down, settling reserved prices, and the crash outcome of an idempotency record.

const down = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
const downLimits: LimitsStore = { take: down, add: down, used: down, acquire: down, releaseSlot: down };

/** An admission store over the in-memory stores that counts its calls, like a Redis script would be one call. */
function countingAdmission(killedAtSource?: KillRecord) {
  const limits = new MemoryLimitsStore();
  const idempotency = new MemoryIdempotencyStore();
  const requests: AdmissionRequest[] = [];
  const separate = { take: 0, begin: 0 };
  const admission: AdmissionStore = {
    async admit(request) {
      requests.push(request);
      if (request.checkKill && killedAtSource) return { status: 'killed', record: killedAtSource };
      if (request.limits.length > 0) {
        const taken = limits.take(request.limits, request.now);
        if (!taken.ok) return { status: 'limited', index: taken.index, used: taken.used };
      }
      const { idempotency: idem } = request;
      return {
        status: 'admitted',
        idempotency: idem ? idempotency.begin(idem.key, idem.fingerprint, idem.ttlMs) : undefined,
      };
    },
  };
  const stores = {
    admission,
    limits: {
      take: (...args: Parameters<LimitsStore['take']>) => {
        separate.take++;
        return limits.take(...args);
      },
      add: (...args: Parameters<LimitsStore['add']>) => limits.add(...args),
      used: (...args: Parameters<LimitsStore['used']>) => limits.used(...args),
      acquire: (key: string, limit: number) => limits.acquire(key, limit),
      releaseSlot: (key: string) => limits.releaseSlot(key),
    },
    idempotency: {
      begin: (key: string, fingerprint: string, ttlMs: number) => {
        separate.begin++;
        return idempotency.begin(key, fingerprint, ttlMs);
      },
      complete: (key: string, value: unknown, ttlMs: number) => idempotency.complete(key, value, ttlMs),
      release: (key: string) => idempotency.release(key),
    },
  };
  return { stores, requests, separate, limits };
}

const writePolicy = {
  writes: { tools: ['payments.*'], require_approval: false },
  limits: { per_agent: { tool_calls_per_hour: 3 } },
};

describe('admission in one call (stores.admission)', () => {
  it('takes the limits and begins the idempotency record in one call per tool call', async () => {
    const { stores, requests, separate } = countingAdmission();
    const governor = createGovernor({ policy: writePolicy, stores });
    let executions = 0;
    const charge = async () => ({ charge: ++executions });
    const result = await governor.run({ agent: 'billing' }, async run => {
      const first = await run.tool('payments.charge', { cents: 5 }, charge);
      const replay = await run.tool('payments.charge', { cents: 5 }, charge);
      await run.tool('kb.read', { id: 1 }, async () => 'article');
      return [first, replay];
    });
    expect(result).toMatchObject({ status: 'ok', output: [{ charge: 1 }, { charge: 1 }] });
    expect(executions).toBe(1);
    expect(requests).toHaveLength(3);
    expect(separate).toEqual({ take: 0, begin: 0 });
    expect(requests[0]).toMatchObject({
      agent: 'billing',
      tool: 'payments.charge',
      checkKill: true,
      limits: [{ key: 'agent:billing:tool_calls:3600000', amount: 1, limit: 3 }],
      idempotency: { key: expect.stringMatching(/^billing:payments\.charge:[0-9a-f]{64}$/), onCrash: 'block' },
    });
    expect(requests[2]).toMatchObject({ tool: 'kb.read', idempotency: undefined });
    // The fourth call of the hour is refused by the admission's answer.
    const limited = await governor.run({ agent: 'billing' }, run => run.tool('kb.read', { id: 2 }, async () => 1));
    expect(limited).toMatchObject({ stopReason: 'rate_limited:agent:billing' });
  });

  it('a call with neither limits nor idempotency does not touch the store', async () => {
    const { stores, requests } = countingAdmission();
    const governor = createGovernor({ policy: {}, stores });
    await governor.run({ agent: 'a' }, run => run.tool('kb.read', {}, async () => 1));
    expect(requests).toHaveLength(0);
  });

  it('a kill the store reports (not yet seen locally) stops the run before the tool runs', async () => {
    const record: KillRecord = { target: { scope: 'agent', agent: 'a' }, reason: 'incident', by: 'ops', at: 1 };
    const { stores } = countingAdmission(record);
    const governor = createGovernor({ policy: writePolicy, stores });
    let ran = false;
    const result = await governor.run({ agent: 'a' }, run =>
      run.tool('kb.read', {}, async () => {
        ran = true;
      }),
    );
    expect(result).toMatchObject({ stopReason: 'killed', detail: 'killed for agent a by ops: incident' });
    expect(ran).toBe(false);
  });

  it('a call stopped while it waited for admission leaves alone the lease another call holds', async () => {
    const { stores } = countingAdmission();
    const admit = stores.admission.admit;
    const slow = {
      ...stores,
      admission: { admit: (request: AdmissionRequest) => sleep(5).then(() => admit(request)) },
    };
    const governor = createGovernor({
      policy: { writes: { tools: ['payments.*'], require_approval: false } },
      stores: slow,
    });
    let ran = 0;
    const refund = () => sleep(80).then(() => ++ran);
    const first = governor.run({ agent: 'billing' }, run => run.tool('payments.refund', { id: 1 }, refund));
    await sleep(20);
    // The same refund from another request, whose caller gives up while the store answers "in flight".
    const caller = new AbortController();
    const second = governor.run({ agent: 'billing', signal: caller.signal }, run =>
      run.tool('payments.refund', { id: 1 }, refund),
    );
    await sleep(1);
    caller.abort();
    expect(await second).toMatchObject({ status: 'stopped', stopReason: 'killed' });
    // A third attempt still finds the first one's lease: it waits and gets its result, the refund runs once.
    const third = governor.run({ agent: 'billing' }, run => run.tool('payments.refund', { id: 1 }, refund));
    expect(await first).toMatchObject({ status: 'ok', output: 1 });
    expect(await third).toMatchObject({ status: 'ok', output: 1 });
    expect(ran).toBe(1);
  });

  it('passes the tool onCrash choice: code definitions, then idempotency.retry_on_crash, else block', async () => {
    const seen: Array<[string, IdempotencyOptions | undefined]> = [];
    const idempotency = new MemoryIdempotencyStore();
    const governor = createGovernor({
      policy: {
        writes: { tools: ['a.*', 'b.*', 'c.*'], require_approval: false },
        idempotency: { retry_on_crash: ['b.*'] },
      },
      tools: { 'c.write': { onCrash: 'retry' } },
      stores: {
        idempotency: {
          begin: (key, fingerprint, ttl, options) => {
            seen.push([key.split(':')[1]!, options]);
            return idempotency.begin(key, fingerprint, ttl);
          },
          complete: (key, value, ttl) => idempotency.complete(key, value, ttl),
          release: key => idempotency.release(key),
        },
      },
    });
    await governor.run({ agent: 'x' }, async run => {
      for (const tool of ['a.write', 'b.write', 'c.write']) await run.tool(tool, {}, async () => 1);
    });
    expect(seen).toEqual([
      ['a.write', { onCrash: 'block' }],
      ['b.write', { onCrash: 'retry' }],
      ['c.write', { onCrash: 'retry' }],
    ]);
  });

  it('a record whose holder crashed is refused with IdempotencyCrashedError, the tool unrun', async () => {
    const governor = createGovernor({
      policy: { writes: { tools: ['payments.*'], require_approval: false } },
      stores: { idempotency: { begin: () => ({ status: 'crashed' }), complete: () => {}, release: () => {} } },
    });
    let ran = false;
    const result = await governor.run({ agent: 'a' }, run =>
      run.tool('payments.charge', {}, async () => {
        ran = true;
      }),
    );
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'error' });
    expect(result.status === 'stopped' && result.error).toBeInstanceOf(IdempotencyCrashedError);
    expect(ran).toBe(false);
  });
});

describe('fail_mode: a shared store that cannot be reached', () => {
  const failingAdmission: AdmissionStore = { admit: down };

  it('refuses writes with store_unavailable, without running them', async () => {
    const governor = createGovernor({ policy: writePolicy, stores: { admission: failingAdmission } });
    let ran = false;
    const result = await governor.run({ agent: 'a' }, run =>
      run.tool('payments.charge', { cents: 1 }, async () => {
        ran = true;
      }),
    );
    expect(result).toMatchObject({
      stopReason: 'store_unavailable',
      detail:
        'shared store unavailable, cannot check cross-run limits and idempotency: Error: connect ECONNREFUSED 127.0.0.1:6379',
    });
    expect(ran).toBe(false);
  });

  it('refuses reads too by default, and only that call under on_refusal: continue', async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({
      policy: { ...writePolicy, tools: { on_refusal: 'continue' } },
      stores: { limits: downLimits },
      observers: [{ onEvent: e => void events.push(e) }],
    });
    const result = await governor.run({ agent: 'a' }, async run => {
      const error = await run.tool('kb.read', {}, async () => 1).catch(e => e);
      return error instanceof ToolRefusedError ? error.reason : 'ran';
    });
    expect(result).toMatchObject({ status: 'ok', output: 'store_unavailable' });
    expect(events.find(e => e.type === 'tool.decision')).toMatchObject({
      decision: 'deny',
      reason: 'store_unavailable',
      rule: 'fail_mode.reads',
    });
  });

  it('with fail_mode.reads: open, reads run unchecked with one warning; writes are still refused', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code === 'BOUNDED_STORE_UNAVAILABLE') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    const events: BoundedEvent[] = [];
    const governor = createGovernor({
      policy: {
        ...writePolicy,
        fail_mode: { reads: 'open' },
        limits: { per_agent: { tool_calls_per_hour: 3, runs_in_flight: 2 } },
      },
      stores: { admission: failingAdmission, limits: downLimits },
      observers: [{ onEvent: e => void events.push(e) }],
    });
    const reads = await governor.run({ agent: 'a' }, async run => [
      await run.tool('kb.read', { id: 1 }, async () => 'one'),
      await run.tool('kb.read', { id: 2 }, async () => 'two'),
    ]);
    const write = await governor.run({ agent: 'a' }, run => run.tool('payments.charge', {}, async () => 'charged'));
    await new Promise(resolve => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(reads).toMatchObject({ status: 'ok', output: ['one', 'two'] });
    expect(write).toMatchObject({ status: 'stopped', stopReason: 'store_unavailable' });
    expect(events.filter(e => e.type === 'tool.decision').map(e => [e.decision, e.rule])).toEqual([
      ['allow', 'fail_mode.reads'],
      ['allow', 'fail_mode.reads'],
      ['deny', 'fail_mode.writes'],
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Shared store unavailable \(connect ECONNREFUSED 127\.0\.0\.1:6379\); /);
  });

  it('a run whose runs_in_flight slot cannot be counted does not start (fail closed)', async () => {
    const governor = createGovernor({
      policy: { limits: { per_tenant: { runs_in_flight: 1 } } },
      stores: { limits: downLimits },
    });
    let ran = false;
    const result = await governor.run({ agent: 'a', tenant: 't' }, () => {
      ran = true;
    });
    expect(result).toMatchObject({
      stopReason: 'store_unavailable',
      detail: expect.stringContaining('runs_in_flight'),
    });
    expect(ran).toBe(false);
  });
});

describe('reserved prices are settled with what a call cost', () => {
  const policy = {
    writes: { tools: ['payments.*'], require_approval: false },
    limits: { per_agent: { usd_per_day: 1 } },
    pricing: { tools: { 'payments.*': 0.1, 'search.*': 0.1 } },
  };

  it('a reported cost replaces the reservation in the run and across runs; a replay costs nothing', async () => {
    const limits = new MemoryLimitsStore();
    const governor = createGovernor({ policy, stores: { limits } });
    const events: BoundedEvent[] = [];
    governor.observe({ onEvent: e => void events.push(e) });
    const result = await governor.run({ agent: 'a' }, async run => {
      await run.tool('search.read', { q: 1 }, async (_args, ctx) => ctx.reportCost(0.04));
      await run.tool('payments.charge', { cents: 1 }, async () => 'ch_1');
      await run.tool('payments.charge', { cents: 1 }, async () => 'ch_2'); // replayed
    });
    expect(result.usage.costUsd).toBeCloseTo(0.14, 9);
    const now = Date.now();
    expect(limits.used('agent:a:usd:86400000', 86_400_000, true, now)).toBeCloseTo(0.14, 9);
    expect(events.filter(e => e.type === 'tool.end').map(e => [e.outcome, e.costUsd])).toEqual([
      ['ok', 0.04],
      ['ok', 0.1],
      ['dedup', 0],
    ]);
  });

  it('a write refused by its approver gets its reservation back', async () => {
    const limits = new MemoryLimitsStore();
    const governor = createGovernor({
      policy: {
        ...policy,
        writes: { tools: ['payments.*'], require_approval: true },
        tools: { on_refusal: 'continue' },
      },
      stores: { limits },
      approver: { request: async () => ({ approved: false, by: 'alice' }) },
    });
    const result = await governor.run({ agent: 'a' }, run =>
      run.tool('payments.charge', {}, async () => 1).catch(() => 0),
    );
    expect(result).toMatchObject({ status: 'ok', output: 0, usage: { costUsd: 0 } });
    expect(limits.used('agent:a:usd:86400000', 86_400_000, true, Date.now())).toBe(0);
  });

  it('rejects a cost that is not a finite number >= 0', async () => {
    const governor = createGovernor({ policy });
    const result = await governor.run({ agent: 'a' }, run =>
      run.tool('search.read', {}, async (_args, ctx) => ctx.reportCost(-1)),
    );
    expect(result).toMatchObject({ stopReason: 'error', detail: expect.stringContaining('ctx.reportCost()') });
  });
});
