/**
 * Every stop reason that applies to an AI SDK run, reached through generateText, streamText and ToolLoopAgent on
 * ai@6 and ai@7 with the SDK's own mock models: the returned stop reason, and how often each tool body ran.
 */
import {
  type Approver,
  callbackApprover,
  createGovernor,
  type GovernorOptions,
  type LimitsStore,
  type PolicyInput,
  STOP_REASONS,
} from '@bounded/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { boundedAI } from './bounded-ai.js';
import { drive, leadTools, PATHS, type Ran, TOOL_NAMES } from './test-utils/leads.js';
import { type Script, SDKS } from './test-utils/sdks.js';

interface Case {
  readonly name: string;
  readonly policy: PolicyInput;
  readonly governor?: Omit<Partial<GovernorOptions>, 'policy'>;
  readonly script: Script;
  /** `ok`, or the stop reason. */
  readonly ends: string;
  /** Tool bodies that must have run this often; the others must not have run at all. */
  readonly ran: Partial<Ran>;
  readonly modelFails?: boolean;
  /** The slow lookup throws the kill switch while it hangs. */
  readonly kill?: boolean;
}

const AGENT = 'lead-enricher';
const thrash: Script = call => ({ calls: [['searchCompanies', { q: 'acme', page: call }]] });
const search = (page: number) => ({ calls: [['searchCompanies', { q: 'acme', page }]] as const });
const done = { text: 'Lead 42 enriched: Acme Inc., 200 employees.' };
const down = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
const unreachableLimits: LimitsStore = { take: down, add: down, used: down, acquire: down, releaseSlot: down };
const never: Approver = { name: 'nobody', request: () => new Promise(() => undefined) };

const CASES: readonly Case[] = [
  { name: 'a normal run', policy: {}, script: [search(1), done], ends: 'ok', ran: { searchCompanies: 1 } },
  {
    name: 'steps',
    policy: { budgets: { max_steps: 3 } },
    script: thrash,
    ends: 'max_steps',
    ran: { searchCompanies: 3 },
  },
  {
    name: 'tool calls',
    policy: { budgets: { max_tool_calls: 2 } },
    script: thrash,
    ends: 'max_tool_calls',
    ran: { searchCompanies: 2 },
  },
  {
    name: 'calls of one tool',
    policy: { budgets: { per_tool: { 'search.*': 2 } } },
    script: thrash,
    ends: 'max_tool_calls:search.companies',
    ran: { searchCompanies: 2 },
  },
  {
    name: 'seconds',
    policy: { budgets: { max_seconds: 0.3 } }, // long enough for a loaded machine to reach the tool
    script: [{ calls: [['slowLookup', { q: 'acme' }]] }],
    ends: 'max_seconds',
    ran: { slowLookup: 1 },
  },
  {
    name: 'tokens (spent: the loop ends before the next model call)',
    policy: { budgets: { max_tokens: 30 } },
    script: thrash,
    ends: 'max_tokens',
    ran: { searchCompanies: 2 },
  },
  {
    name: 'input tokens (exceeded by the final answer)',
    policy: { budgets: { max_input_tokens: 25 } },
    script: [search(1), search(2), done],
    ends: 'max_input_tokens',
    ran: { searchCompanies: 2 },
  },
  {
    name: 'output tokens',
    policy: { budgets: { max_output_tokens: 10 } },
    script: thrash,
    ends: 'max_output_tokens',
    ran: { searchCompanies: 2 },
  },
  {
    name: 'dollars',
    // $0.10 an input token and $0.20 an output token: each call (10 in, 5 out) costs $2.
    policy: {
      budgets: { max_usd: 4 },
      pricing: { models: { 'mock-*': { input_per_1m: 100_000, output_per_1m: 200_000 } } },
    },
    script: thrash,
    ends: 'max_usd',
    ran: { searchCompanies: 2 },
  },
  {
    name: 'a tool off the allow list',
    policy: { tools: { allow: ['search.*', 'crm.update'] } },
    script: [search(1), { calls: [['deleteLead', { id: '42' }]] }, done],
    ends: 'tool_denied:crm.delete',
    ran: { searchCompanies: 1 },
  },
  {
    name: 'arguments the policy schema refuses',
    policy: {},
    governor: {
      tools: { 'crm.update': { schema: z.object({ id: z.string().startsWith('lead_'), plan: z.string() }) } },
    },
    script: [{ calls: [['updateLead', { id: '42', plan: 'pro' }]] }, done],
    ends: 'invalid_args:crm.update',
    ran: {},
  },
  {
    name: 'a write its approver rejects',
    policy: { writes: { tools: ['crm.update'] } },
    governor: { approver: callbackApprover(() => false, { name: 'sales-lead' }) },
    script: [{ calls: [['updateLead', { id: 'lead_42', plan: 'pro' }]] }, done],
    ends: 'approval_rejected:crm.update',
    ran: {},
  },
  {
    name: 'a write nobody approves in time',
    policy: { writes: { tools: ['crm.update'], approval_timeout_seconds: 0.05 } },
    governor: { approver: never },
    script: [{ calls: [['updateLead', { id: 'lead_42', plan: 'pro' }]] }, done],
    ends: 'approval_timeout:crm.update',
    ran: {},
  },
  {
    name: 'a write its approver approves',
    policy: { writes: { tools: ['crm.update'] } },
    governor: { approver: callbackApprover(() => true) },
    script: [{ calls: [['updateLead', { id: 'lead_42', plan: 'pro' }]] }, done],
    ends: 'ok',
    ran: { updateLead: 1 },
  },
  {
    name: 'the same call over and over',
    policy: { loop_detection: { max_repeats: 3 } },
    script: [{ calls: [['searchCompanies', { q: 'acme' }]] }],
    ends: 'loop_detected:search.companies',
    ran: { searchCompanies: 3 },
  },
  {
    name: 'a tool that keeps failing',
    policy: { circuit_breaker: { failure_threshold: 2, cooldown_seconds: 60 } },
    script: call => ({ calls: [['enrichCompany', { id: `co_${call}` }]] }),
    ends: 'circuit_open:enrich.company',
    ran: { enrichCompany: 2 },
  },
  {
    name: 'a cross-run rate limit',
    policy: { limits: { per_agent: { tool_calls_per_minute: 2 } } },
    script: thrash,
    ends: `rate_limited:agent:${AGENT}`,
    ran: { searchCompanies: 2 },
  },
  {
    name: 'the kill switch, thrown while a tool hangs',
    policy: {},
    script: [search(1), { calls: [['slowLookup', { q: 'acme' }]] }, done],
    ends: 'killed',
    ran: { searchCompanies: 1, slowLookup: 1 },
    kill: true,
  },
  {
    name: 'a shared store that cannot be reached (a write fails closed)',
    policy: {
      writes: { tools: ['crm.update'], require_approval: false },
      limits: { per_agent: { tool_calls_per_hour: 100 } },
    },
    governor: { stores: { limits: unreachableLimits } },
    script: [{ calls: [['updateLead', { id: 'lead_42', plan: 'pro' }]] }, done],
    ends: 'store_unavailable',
    ran: {},
  },
  { name: 'a provider error', policy: {}, script: [done], ends: 'error', ran: {}, modelFails: true },
  {
    name: 'a denied call under on_refusal: continue (only that call fails)',
    policy: { tools: { allow: ['search.*'], on_refusal: 'continue' } },
    script: [{ calls: [['deleteLead', { id: '42' }]] }, search(1), done],
    ends: 'ok',
    ran: { searchCompanies: 1 },
  },
];

describe.each(SDKS)('$name', sdk => {
  describe.each(PATHS)('%s', path => {
    it.each(CASES)('$name -> $ends', async c => {
      const governor = createGovernor({ policy: c.policy, ...c.governor });
      const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
      const { tools, ran } = leadTools(sdk, c.kill ? { killOnLookup: { governor, agent: AGENT } } : {});
      const model = sdk.model(c.script, c.modelFails ? { fail: new Error('provider down') } : {});
      const out = await drive(sdk, path, ai, { agent: AGENT }, model, tools);
      const ends = out.bounded.status === 'ok' ? 'ok' : out.bounded.stopReason;
      expect(ends, out.bounded.status === 'stopped' ? out.bounded.detail : '').toBe(c.ends);
      const expected = { searchCompanies: 0, updateLead: 0, deleteLead: 0, slowLookup: 0, enrichCompany: 0, ...c.ran };
      expect(ran).toEqual(expected);
      if (c.modelFails) {
        // generateText throws; streamText returns a stream that carries the error.
        if (path !== 'streamText') expect(out.result).toBeUndefined();
        expect(out.bounded).toMatchObject({ error: expect.any(Error) });
      } else {
        // The SDK's own result is there, whatever stopped the run, and a stream was read to its end.
        expect(out.result).toBeDefined();
        expect(typeof out.text).toBe('string');
      }
    });
  });
});

describe('coverage of the stop reasons', () => {
  it('reaches every stop reason core documents', () => {
    const reached = new Set(CASES.map(c => c.ends.split(':')[0]));
    for (const { kind } of STOP_REASONS) expect(reached, `no case ends with ${kind}`).toContain(kind);
  });
});
