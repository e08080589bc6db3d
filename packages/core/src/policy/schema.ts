import { z } from 'zod';
import type { Policy } from './types.js';

// The single source of truth for the policy file. The JSON Schema shipped for editors is generated from it
// (scripts/json-schema.mjs), and the hand-written `Policy` type is checked against it below.

const count = z.int().min(0, 'must be 0 or more');
const positiveCount = z.int().min(1, 'must be at least 1');
const seconds = z.number().positive('must be greater than 0');
const usd = z.number().min(0, 'must be 0 or more');
const toolPattern = z.string().min(1, 'must not be empty');
const globList = z.array(toolPattern);

export const budgetsSchema = z
  .strictObject({
    max_steps: count.optional().describe('Model calls (steps) per run.'),
    max_tool_calls: count.optional().describe('Tool calls per run, all tools together.'),
    max_seconds: seconds
      .optional()
      .describe('Wall-clock seconds per run; in-flight tools are aborted at the deadline.'),
    max_tokens: count.optional().describe('Input + output tokens per run.'),
    max_input_tokens: count.optional().describe('Input tokens per run.'),
    max_output_tokens: count.optional().describe('Output tokens per run.'),
    max_usd: usd.optional().describe('Model and tool spend per run, in USD.'),
    per_tool: z
      .record(toolPattern, count)
      .optional()
      .describe('Calls per tool (name or glob) per run; each matching tool has its own count.'),
  })
  .describe('Per-run budgets. A missing key means no limit of that kind.');

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const comparisonSchema = z.strictObject({
  eq: scalar.optional(),
  ne: scalar.optional(),
  lt: z.number().optional(),
  lte: z.number().optional(),
  gt: z.number().optional(),
  gte: z.number().optional(),
  in: z.array(scalar).optional(),
});

const crossRunLimitsSchema = z.strictObject({
  tool_calls_per_minute: count.optional(),
  tool_calls_per_hour: count.optional(),
  tool_calls_per_day: count.optional(),
  usd_per_hour: usd.optional(),
  usd_per_day: usd.optional(),
  runs_in_flight: positiveCount.optional(),
  window: z.enum(['fixed', 'sliding']).default('sliding'),
});

export const policySchema = z
  .strictObject({
    version: z.literal(1).default(1).describe('Policy format version.'),
    mode: z
      .strictObject({
        default: z.enum(['workflow', 'agent']).default('agent').describe('Mode of a run that does not name one.'),
        agent_for_exceptions: z
          .boolean()
          .default(false)
          .describe('Whether a workflow may hand an exception to a bounded agent.'),
        agent_budgets: budgetsSchema
          .default({})
          .describe('Budgets of that agent; each is the stricter of these and what the workflow has left of its own.'),
      })
      .prefault({}),
    enforcement: z
      .enum(['enforce', 'shadow'])
      .default('enforce')
      .describe('`shadow` records what would have been refused but lets it run. The kill switch always acts.'),
    budgets: budgetsSchema.default({}),
    tools: z
      .strictObject({
        allow: globList.default([]).describe('Once non-empty, tools it does not match are denied.'),
        deny: globList.default([]).describe('Deny wins over allow.'),
        read_only: z.boolean().default(false).describe('Deny every write tool.'),
        on_refusal: z
          .enum(['stop', 'continue'])
          .default('stop')
          .describe('A refused call ends the run (`stop`) or fails just that call (`continue`).'),
      })
      .prefault({}),
    writes: z
      .strictObject({
        tools: globList.default([]).describe('Tools that change the world (globs).'),
        require_approval: z.boolean().default(true),
        approval_timeout_seconds: seconds.default(300),
        auto_approve: z
          .array(
            z.strictObject({
              tool: toolPattern,
              when: z.record(z.string().min(1), comparisonSchema).optional(),
              name: z.string().optional(),
            }),
          )
          .default([])
          .describe('Writes approved without asking anyone when a rule matches.'),
      })
      .prefault({}),
    idempotency: z
      .strictObject({
        enabled: z.boolean().default(true),
        tools: globList.optional().describe('Tools whose calls are deduplicated. Default: the write tools.'),
        ttl_seconds: seconds.default(86_400),
        retry_on_crash: globList
          .default([])
          .describe(
            'Tools whose call may run again when the process running it died before recording a result (at least once). Others are blocked until cleared (at most once). Shared stores only.',
          ),
      })
      .prefault({}),
    loop_detection: z
      .strictObject({
        enabled: z.boolean().default(true),
        max_repeats: positiveCount.default(3).describe('Same tool + same arguments more than this often is a loop.'),
      })
      .prefault({}),
    circuit_breaker: z
      .strictObject({
        enabled: z.boolean().default(true),
        failure_threshold: positiveCount.default(5),
        cooldown_seconds: seconds.default(30),
      })
      .prefault({}),
    kill_switch: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
    limits: z
      .strictObject({
        global: crossRunLimitsSchema.optional(),
        per_agent: crossRunLimitsSchema.optional(),
        per_tenant: crossRunLimitsSchema.optional(),
      })
      .prefault({})
      .describe('Limits across runs (this process, or every process with shared stores).'),
    fail_mode: z
      .strictObject({
        reads: z
          .enum(['closed', 'open'])
          .default('closed')
          .describe(
            'When a shared store cannot be reached: `closed` refuses calls that are not writes (and run starts, steps) with `store_unavailable`; `open` lets them run unchecked, with a warning.',
          ),
        writes: z
          .enum(['closed'])
          .default('closed')
          .describe(
            'Writes always fail closed: a write whose limits or idempotency record cannot be checked does not run.',
          ),
      })
      .prefault({})
      .describe('What a call does when a shared store (Redis) is unavailable, per tool class.'),
    pricing: z
      .strictObject({
        models: z
          .record(
            toolPattern,
            z.strictObject({
              input_per_1m: usd,
              output_per_1m: usd,
              cached_input_per_1m: usd.optional(),
            }),
          )
          .default({})
          .describe('USD per million tokens by model id or glob.'),
        tools: z.record(toolPattern, usd).default({}).describe('USD per call by tool name or glob.'),
      })
      .prefault({}),
    monitoring: z
      .strictObject({
        track: z
          .array(
            z.enum([
              'tool_calls_per_run',
              'tokens_per_request',
              'latency_p95',
              'stop_reason',
              'cost',
              'decisions',
              'approvals',
            ]),
          )
          .default(['tool_calls_per_run', 'tokens_per_request', 'latency_p95', 'stop_reason']),
        record_content: globList
          .default([])
          .describe('Tools whose arguments and results may go into telemetry, redacted. Off by default.'),
      })
      .prefault({}),
  })
  .describe('A Bounded policy: budgets, tool permissions, approvals and limits for agent and workflow runs.');

// Compile-time check that the schema's output is the hand-written Policy type, both ways.
type SchemaOutput = z.output<typeof policySchema>;
type Assert<T extends true> = T;
type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
export type PolicySchemaCheck = [
  Assert<SchemaOutput extends Policy ? true : false>,
  Assert<Policy extends DeepReadonly<SchemaOutput> ? true : false>,
];
