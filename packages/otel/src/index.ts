export type { RedactOptions, Redactor } from './redact.js';
export { createRedactor } from './redact.js';
export type { MetricInfo } from './semconv.js';
export {
  ATTR_APPROVED_BY,
  ATTR_COST_USD,
  ATTR_DECISION,
  ATTR_DECISION_REASON,
  ATTR_DECISION_RULE,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_MODE,
  ATTR_RUN_ID,
  ATTR_STOP_REASON,
  budgetAttribute,
  METRIC_APPROVALS_DECIDED,
  METRIC_APPROVALS_PENDING,
  METRIC_COST,
  METRIC_DECISIONS,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
  METRIC_KILL_SWITCH,
  METRIC_RUN_DURATION,
  METRIC_RUN_TOOL_CALLS,
  METRIC_RUNS,
  METRIC_TOOL_DURATION,
  METRICS,
} from './semconv.js';
export type { BoundedTelemetry, BoundedTelemetryOptions } from './telemetry.js';
export { boundedTelemetry } from './telemetry.js';
