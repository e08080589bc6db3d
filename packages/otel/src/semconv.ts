/**
 * Attribute and metric names. The GenAI ones follow the OpenTelemetry GenAI semantic conventions; they are still
 * "development" in the spec (and deprecated in @opentelemetry/semantic-conventions 1.45, "moved to the GenAI
 * conventions repository"), so the strings are copied here rather than imported from the incubating entry.
 */

// GenAI semantic conventions
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
export const ATTR_GEN_AI_AGENT_ID = 'gen_ai.agent.id';
export const ATTR_GEN_AI_WORKFLOW_NAME = 'gen_ai.workflow.name';
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
export const ATTR_GEN_AI_TOOL_CALL_ID = 'gen_ai.tool.call.id';
export const ATTR_GEN_AI_TOOL_TYPE = 'gen_ai.tool.type';
export const ATTR_GEN_AI_TOOL_CALL_ARGUMENTS = 'gen_ai.tool.call.arguments';
export const ATTR_GEN_AI_TOOL_CALL_RESULT = 'gen_ai.tool.call.result';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
export const ATTR_ERROR_TYPE = 'error.type';

export const GEN_AI_OPERATION_INVOKE_AGENT = 'invoke_agent';
export const GEN_AI_OPERATION_INVOKE_WORKFLOW = 'invoke_workflow';
export const GEN_AI_OPERATION_EXECUTE_TOOL = 'execute_tool';
export const GEN_AI_OPERATION_CHAT = 'chat';
export const GEN_AI_TOKEN_TYPE_INPUT = 'input';
export const GEN_AI_TOKEN_TYPE_OUTPUT = 'output';

export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';

// Bounded's own attributes
export const ATTR_RUN_ID = 'bounded.run.id';
export const ATTR_PARENT_RUN_ID = 'bounded.run.parent_id';
export const ATTR_MODE = 'bounded.mode';
export const ATTR_TENANT = 'bounded.tenant';
export const ATTR_ENFORCEMENT = 'bounded.enforcement';
export const ATTR_STATUS = 'bounded.status';
export const ATTR_STOP_REASON = 'bounded.stop_reason';
export const ATTR_STOP_KIND = 'bounded.stop_kind';
export const ATTR_STOP_DETAIL = 'bounded.stop.detail';
export const ATTR_STOP_RULE = 'bounded.stop.rule';
export const ATTR_HANDLED_BY = 'bounded.handled_by';
export const ATTR_STEPS = 'bounded.steps';
export const ATTR_TOOL_CALLS = 'bounded.tool_calls';
export const ATTR_COST_USD = 'bounded.cost.usd';
export const ATTR_DECISION = 'bounded.decision';
export const ATTR_DECISION_REASON = 'bounded.decision.reason';
export const ATTR_DECISION_RULE = 'bounded.decision.rule';
export const ATTR_DECISION_DETAIL = 'bounded.decision.detail';
export const ATTR_DECISION_ENFORCED = 'bounded.decision.enforced';
export const ATTR_APPROVED_BY = 'bounded.approved_by';
export const ATTR_IDEMPOTENCY_KEY = 'bounded.idempotency.key';
export const ATTR_TOOL_WRITE = 'bounded.tool.write';
export const ATTR_TOOL_OUTCOME = 'bounded.tool.outcome';
export const ATTR_TOOL_CALLS_OF_TOOL = 'bounded.tool.calls';
export const ATTR_APPROVED = 'bounded.approval.approved';
export const ATTR_TIMED_OUT = 'bounded.approval.timed_out';
export const ATTR_KILL_SCOPE = 'bounded.kill.scope';
export const ATTR_EVENT = 'bounded.event';
export const ATTR_WORKFLOW_STEP = 'bounded.workflow.step';
export const ATTR_ATTEMPT = 'bounded.workflow.attempt';
export const ATTR_OUTCOME = 'bounded.outcome';
export const ATTR_METADATA_PREFIX = 'bounded.metadata.';
/** The canary side of a run (`metadata.canary` set by core's `createCanary`): `baseline` or `candidate`. */
export const ATTR_CANARY = 'bounded.canary';
const BUDGET_KEYS = new Map<string, string>();
/** `bounded.budget.<kind>.limit | used | remaining`, e.g. `bounded.budget.tool_calls.remaining`. */
export function budgetAttribute(kind: string, field: 'limit' | 'used' | 'remaining'): string {
  const id = `${kind}.${field}`;
  let key = BUDGET_KEYS.get(id);
  if (key === undefined) {
    key = `bounded.budget.${id}`;
    BUDGET_KEYS.set(id, key);
  }
  return key;
}
export const ATTR_BUDGET_TOOL_CALLS_USED = budgetAttribute('tool_calls', 'used');
export const ATTR_BUDGET_TOOL_CALLS_REMAINING = budgetAttribute('tool_calls', 'remaining');

// Span events
export const EVENT_STOP = 'bounded.stop';
export const EVENT_SHADOW_STOP = 'bounded.shadow_stop';
export const EVENT_STEP = 'bounded.step';
export const EVENT_USAGE = 'bounded.usage';
export const EVENT_WORKFLOW_STEP = 'bounded.workflow_step';
export const EVENT_APPROVAL_REQUESTED = 'bounded.approval.requested';
export const EVENT_APPROVAL_DECIDED = 'bounded.approval.decided';

// Metrics
export const METRIC_RUN_TOOL_CALLS = 'bounded.run.tool_calls';
export const METRIC_RUN_DURATION = 'bounded.run.duration';
export const METRIC_RUNS = 'bounded.runs';
export const METRIC_TOOL_DURATION = 'bounded.tool.duration';
export const METRIC_DECISIONS = 'bounded.decisions';
export const METRIC_APPROVALS_PENDING = 'bounded.approvals.pending';
export const METRIC_APPROVALS_DECIDED = 'bounded.approvals.decided';
export const METRIC_COST = 'bounded.cost.usd';
export const METRIC_KILL_SWITCH = 'bounded.kill_switch.events';

export interface MetricInfo {
  /** The OpenTelemetry instrument name. */
  readonly name: string;
  /** What Prometheus stores (histograms add `_bucket`, `_sum` and `_count`). */
  readonly prometheus: string;
  readonly instrument: 'histogram' | 'counter' | 'updowncounter';
  readonly unit: string;
  readonly description: string;
  /** The attributes it is recorded with (Prometheus labels, dots as underscores). */
  readonly attributes: readonly string[];
}

/** Every metric @bounded/otel records: the documentation and the instruments both come from this list. */
export const METRICS: readonly MetricInfo[] = [
  {
    name: METRIC_RUN_TOOL_CALLS,
    prometheus: 'bounded_run_tool_calls',
    instrument: 'histogram',
    unit: '{call}',
    description: 'Tool calls admitted per run',
    attributes: [ATTR_GEN_AI_AGENT_NAME, ATTR_MODE, ATTR_STATUS, ATTR_STOP_KIND, ATTR_CANARY],
  },
  {
    name: METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
    prometheus: 'gen_ai_client_token_usage',
    instrument: 'histogram',
    unit: '{token}',
    description: 'Tokens per model request, by token type (input, output)',
    attributes: [
      ATTR_GEN_AI_TOKEN_TYPE,
      ATTR_GEN_AI_OPERATION_NAME,
      ATTR_GEN_AI_AGENT_NAME,
      ATTR_GEN_AI_REQUEST_MODEL,
      ATTR_CANARY,
    ],
  },
  {
    name: METRIC_RUN_DURATION,
    prometheus: 'bounded_run_duration',
    instrument: 'histogram',
    unit: 's',
    description: 'Duration of a governed run',
    attributes: [ATTR_GEN_AI_AGENT_NAME, ATTR_MODE, ATTR_STATUS, ATTR_STOP_KIND, ATTR_CANARY],
  },
  {
    name: METRIC_TOOL_DURATION,
    prometheus: 'bounded_tool_duration',
    instrument: 'histogram',
    unit: 's',
    description: 'Duration of a governed tool call, from request to result (approval waits included)',
    attributes: [ATTR_GEN_AI_TOOL_NAME, ATTR_TOOL_OUTCOME],
  },
  {
    name: METRIC_RUNS,
    prometheus: 'bounded_runs_total',
    instrument: 'counter',
    unit: '{run}',
    description: 'Runs ended, by status and stop reason',
    attributes: [ATTR_GEN_AI_AGENT_NAME, ATTR_MODE, ATTR_STATUS, ATTR_STOP_KIND, ATTR_STOP_REASON, ATTR_CANARY],
  },
  {
    name: METRIC_DECISIONS,
    prometheus: 'bounded_decisions_total',
    instrument: 'counter',
    unit: '{decision}',
    description: 'Gateway decisions on tool calls, by decision and tool',
    attributes: [ATTR_DECISION, ATTR_GEN_AI_TOOL_NAME, ATTR_GEN_AI_AGENT_NAME, ATTR_STOP_KIND],
  },
  {
    name: METRIC_APPROVALS_PENDING,
    prometheus: 'bounded_approvals_pending',
    instrument: 'updowncounter',
    unit: '{approval}',
    description: 'Writes waiting for an approval decision',
    attributes: [ATTR_GEN_AI_TOOL_NAME],
  },
  {
    name: METRIC_APPROVALS_DECIDED,
    prometheus: 'bounded_approvals_decided_total',
    instrument: 'counter',
    unit: '{approval}',
    description: 'Approval decisions, by outcome (approved, rejected, timeout)',
    attributes: [ATTR_GEN_AI_TOOL_NAME, ATTR_OUTCOME],
  },
  {
    name: METRIC_COST,
    prometheus: 'bounded_cost_usd_total',
    instrument: 'counter',
    unit: '{USD}',
    description: 'Spend on models and tools, in US dollars',
    attributes: [ATTR_GEN_AI_AGENT_NAME, 'bounded.cost.source'],
  },
  {
    name: METRIC_KILL_SWITCH,
    prometheus: 'bounded_kill_switch_events_total',
    instrument: 'counter',
    unit: '{event}',
    description: 'Kill-switch throws and revivals, by scope',
    attributes: [ATTR_KILL_SCOPE, ATTR_EVENT],
  },
];
