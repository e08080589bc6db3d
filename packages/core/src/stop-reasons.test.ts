import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApprovalQueue, callbackApprover } from './approvals.js';
import type { BoundedEvent } from './events.js';
import { createGovernor } from './governor.js';
import { STOP_REASONS, type StopKind, type StopReason, stopKind } from './stop-reason.js';
import type { LimitsStore } from './stores/types.js';
import type { GovernorOptions, Run, RunResult } from './types.js';

/** A scenario drives a run through the public API until it stops with the expected reason. */
interface Scenario {
  readonly expected: StopReason;
  readonly options: GovernorOptions;
  readonly body: (run: Run, governor: ReturnType<typeof createGovernor>) => Promise<unknown>;
  /** How many times tool bodies may run before the stop. */
  readonly executions: number;
}

let executions = 0;
const ok = async (args: unknown) => {
  executions++;
  return { ok: true, args };
};

/** A shared limits store that cannot be reached (Redis down). */
const unreachable = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
const unreachableLimits: LimitsStore = {
  take: unreachable,
  add: unreachable,
  used: unreachable,
  acquire: unreachable,
  releaseSlot: unreachable,
};

const SCENARIOS: Record<StopKind, Scenario[]> = {
  max_steps: [
    {
      expected: 'max_steps',
      options: { policy: { budgets: { max_steps: 2 } } },
      body: async run => {
        for (;;) await run.step();
      },
      executions: 0,
    },
  ],
  max_tool_calls: [
    {
      expected: 'max_tool_calls',
      options: { policy: { budgets: { max_tool_calls: 3 } } },
      body: async run => {
        for (let i = 0; ; i++) await run.tool('search.read', { q: `q${i}` }, ok);
      },
      executions: 3,
    },
    {
      expected: 'max_tool_calls:search.read',
      options: { policy: { budgets: { max_tool_calls: 10, per_tool: { 'search.*': 2 } } } },
      body: async run => {
        await run.tool('kb.read', { id: 1 }, ok);
        for (let i = 0; ; i++) await run.tool('search.read', { q: `q${i}` }, ok);
      },
      executions: 3,
    },
  ],
  max_seconds: [
    {
      expected: 'max_seconds',
      options: { policy: { budgets: { max_seconds: 0.15 } } },
      body: run => run.tool('http.get', { url: 'slow' }, () => new Promise(() => {})),
      executions: 0,
    },
  ],
  max_tokens: [
    {
      expected: 'max_tokens',
      options: { policy: { budgets: { max_tokens: 100 } } },
      body: async run => {
        for (;;) {
          await run.step();
          run.usage({ inputTokens: 40, outputTokens: 20, model: 'm' });
        }
      },
      executions: 0,
    },
  ],
  max_input_tokens: [
    {
      expected: 'max_input_tokens',
      options: { policy: { budgets: { max_input_tokens: 50 } } },
      body: async run => {
        for (;;) {
          await run.step();
          run.usage({ inputTokens: 30, outputTokens: 1 });
        }
      },
      executions: 0,
    },
  ],
  max_output_tokens: [
    {
      expected: 'max_output_tokens',
      options: { policy: { budgets: { max_output_tokens: 10 } } },
      body: async run => {
        for (;;) {
          await run.step();
          run.usage({ inputTokens: 1, outputTokens: 6 });
        }
      },
      executions: 0,
    },
  ],
  max_usd: [
    {
      expected: 'max_usd',
      options: {
        policy: {
          budgets: { max_usd: 0.05 },
          pricing: { models: { 'gpt-x': { input_per_1m: 10_000, output_per_1m: 20_000 } } },
        },
      },
      body: async run => {
        for (;;) {
          await run.step();
          run.usage({ inputTokens: 2, outputTokens: 1, model: 'gpt-x' }); // $0.04 per call
        }
      },
      executions: 0,
    },
    {
      expected: 'max_usd',
      options: { policy: { budgets: { max_usd: 0.25 }, pricing: { tools: { 'search.*': 0.1 } } } },
      body: async run => {
        for (let i = 0; ; i++) await run.tool('search.read', { q: i }, ok);
      },
      executions: 2,
    },
  ],
  tool_denied: [
    {
      expected: 'tool_denied:payments.refund',
      options: { policy: { tools: { allow: ['kb.read'] } } },
      body: async run => {
        await run.tool('kb.read', { id: 1 }, ok);
        await run.tool('payments.refund', { amount: 100 }, ok);
      },
      executions: 1,
    },
    {
      expected: 'tool_denied:shell.exec',
      options: { policy: { tools: { deny: ['shell.*'] } } },
      body: run => run.tool('shell.exec', { cmd: 'rm -rf /' }, ok),
      executions: 0,
    },
    {
      expected: 'tool_denied:crm.update',
      options: { policy: { tools: { read_only: true }, writes: { tools: ['crm.*'] } } },
      body: run => run.tool('crm.update', { id: 1 }, ok),
      executions: 0,
    },
  ],
  invalid_args: [
    {
      expected: 'invalid_args:kb.read',
      options: { policy: {}, tools: { 'kb.read': { schema: z.object({ id: z.number() }) } } },
      body: run => run.tool('kb.read', { id: 'not-a-number' }, ok),
      executions: 0,
    },
  ],
  approval_rejected: [
    {
      expected: 'approval_rejected:crm.update',
      options: {
        policy: { writes: { tools: ['crm.*'] } },
        approver: callbackApprover(() => ({ approved: false, by: 'alice', reason: 'not today' })),
      },
      body: run => run.tool('crm.update', { id: 1 }, ok),
      executions: 0,
    },
  ],
  approval_timeout: [
    {
      expected: 'approval_timeout:crm.update',
      options: {
        policy: { writes: { tools: ['crm.*'], approval_timeout_seconds: 0.1 } },
        approver: new ApprovalQueue(),
      },
      body: run => run.tool('crm.update', { id: 1 }, ok),
      executions: 0,
    },
  ],
  loop_detected: [
    {
      expected: 'loop_detected:search.read',
      options: { policy: { loop_detection: { max_repeats: 2 } } },
      body: async run => {
        for (;;) await run.tool('search.read', { q: 'same', page: 1 }, ok);
      },
      executions: 2,
    },
  ],
  circuit_open: [
    {
      expected: 'circuit_open:http.get',
      options: { policy: { circuit_breaker: { failure_threshold: 3, cooldown_seconds: 60 } } },
      body: async run => {
        for (let i = 0; ; i++) {
          await run
            .tool('http.get', { url: `u${i}` }, async () => {
              executions++;
              throw new Error('503 Service Unavailable');
            })
            .catch(error => {
              if ((error as Error).message !== '503 Service Unavailable') throw error;
            });
        }
      },
      executions: 3,
    },
  ],
  rate_limited: [
    {
      expected: 'rate_limited:agent:tester',
      options: { policy: { limits: { per_agent: { tool_calls_per_minute: 2 } } } },
      body: async run => {
        for (let i = 0; ; i++) await run.tool('kb.read', { id: i }, ok);
      },
      executions: 2,
    },
  ],
  store_unavailable: [
    {
      expected: 'store_unavailable',
      options: {
        policy: {
          writes: { tools: ['crm.*'], require_approval: false },
          limits: { per_agent: { tool_calls_per_hour: 100 } },
        },
        stores: { limits: unreachableLimits },
      },
      body: run => run.tool('crm.update', { id: 1 }, ok),
      executions: 0,
    },
  ],
  killed: [
    {
      expected: 'killed',
      options: { policy: {} },
      body: async (run, governor) => {
        await run.tool('kb.read', { id: 1 }, ok);
        setTimeout(() => void governor.kill({ scope: 'agent', agent: 'tester' }, { reason: 'runaway', by: 'ops' }), 20);
        await run.tool('http.get', { url: 'hangs' }, () => new Promise(() => {}));
      },
      executions: 1,
    },
  ],
  error: [
    {
      expected: 'error',
      options: { policy: {} },
      body: async run => {
        await run.tool('kb.read', { id: 1 }, ok);
        throw new TypeError('the agent code has a bug');
      },
      executions: 1,
    },
  ],
};

describe('every stop reason is reachable through the public API', () => {
  it('has a scenario for every documented stop reason', () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual(STOP_REASONS.map(info => info.kind).sort());
  });

  for (const [kind, scenarios] of Object.entries(SCENARIOS)) {
    for (const scenario of scenarios) {
      it(`${kind}: ${scenario.expected}`, async () => {
        executions = 0;
        const events: BoundedEvent[] = [];
        const governor = createGovernor({ ...scenario.options, observers: [{ onEvent: e => void events.push(e) }] });
        const result: RunResult<unknown> = await governor.run({ agent: 'tester' }, run => scenario.body(run, governor));
        expect(result.status).toBe('stopped');
        if (result.status !== 'stopped') return;
        expect(result.stopReason).toBe(scenario.expected);
        expect(stopKind(result.stopReason)).toBe(kind);
        expect(result.detail.length).toBeGreaterThan(0);
        expect(executions).toBe(scenario.executions);
        // The stop is an event at the moment it happens, and the run's end carries it.
        expect(events.find(e => e.type === 'run.stop')).toMatchObject({ reason: scenario.expected });
        expect(events.at(-1)).toMatchObject({ type: 'run.end', status: 'stopped', stopReason: scenario.expected });
        governor.close();
      });
    }
  }
});
