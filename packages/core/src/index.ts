export type {
  ApprovalDecision,
  ApprovalRequest,
  ApprovalRule,
  Approver,
  PendingApproval,
} from './approvals.js';
export { ApprovalQueue, callbackApprover, rulesApprover } from './approvals.js';
export type {
  AuditLog,
  AuditLogOptions,
  AuditProblem,
  AuditProblemKind,
  AuditRecord,
  AuditVerification,
} from './audit.js';
export { auditLog, verifyAuditLog } from './audit.js';
export { stricterBudgets } from './budgets.js';
export type {
  Canary,
  CanaryOptions,
  CanaryRunOptions,
  CanaryRunResult,
  CanaryStats,
  CanaryVariant,
  CanaryWorkflowOptions,
  CanaryWorkflowResult,
} from './canary.js';
export { canaryBucket, createCanary } from './canary.js';
export { canonicalHash, canonicalJson } from './canonical.js';
export type { PolicyIssue } from './errors.js';
export {
  BoundedError,
  IdempotencyConflictError,
  IdempotencyCrashedError,
  PolicyError,
  StopError,
  ToolInputError,
  ToolRefusedError,
  UsageError,
} from './errors.js';
export type {
  ApprovalDecidedEvent,
  ApprovalRequestedEvent,
  BoundedEvent,
  BoundedEventType,
  BudgetKind,
  BudgetSnapshot,
  Decision,
  KillEvent,
  KillRecord,
  KillTarget,
  Observer,
  RunEndEvent,
  RunShadowStopEvent,
  RunStartEvent,
  RunStopEvent,
  RunUsage,
  StepEvent,
  ToolDecisionEvent,
  ToolEndEvent,
  ToolOutcome,
  ToolStartEvent,
  UsageEvent,
  WorkflowStepEvent,
} from './events.js';
export type { GlobMatcher } from './glob.js';
export { compileGlob } from './glob.js';
export { createGovernor } from './governor.js';
export type { ObserverErrorHandler } from './observers.js';
export { definePolicy, didYouMean, loadPolicy, parsePolicy } from './policy/load.js';
export { policySchema } from './policy/schema.js';
export type {
  AutoApproveRule,
  Budgets,
  CircuitBreakerPolicy,
  Comparison,
  CrossRunLimits,
  CrossRunLimitsPolicy,
  FailModePolicy,
  IdempotencyPolicy,
  KillSwitchPolicy,
  LoopDetectionPolicy,
  ModelPrice,
  ModePolicy,
  MonitoringPolicy,
  Policy,
  PolicyInput,
  PricingPolicy,
  RunMode,
  ToolsPolicy,
  TrackedSignal,
  WritesPolicy,
} from './policy/types.js';
export type { StandardIssue, StandardResult, StandardSchemaV1 } from './standard-schema.js';
export type { StopKind, StopReason, StopReasonInfo } from './stop-reason.js';
export { STOP_REASONS, stopKind, stopSubject } from './stop-reason.js';
export {
  MemoryCircuitStore,
  MemoryIdempotencyStore,
  MemoryKillSwitchStore,
  MemoryLimitsStore,
  memoryStores,
} from './stores/memory.js';
export type {
  AdmissionOutcome,
  AdmissionRequest,
  AdmissionStore,
  CircuitStore,
  IdempotencyBegin,
  IdempotencyOptions,
  IdempotencyStore,
  KillSwitchStore,
  LimitOutcome,
  LimitRequest,
  LimitsStore,
  MaybePromise,
  OnCrash,
  Stores,
} from './stores/types.js';
export type { ToolDefinition } from './tool-rules.js';
export { PriceTable } from './tool-rules.js';
export type {
  ActiveRun,
  Governor,
  GovernorOptions,
  GovernorStats,
  Run,
  RunOk,
  RunOptions,
  RunResult,
  RunStopped,
  ToolCallOptions,
  ToolContext,
  ToolExecute,
  ToolVerdict,
  UsageInput,
  WorkflowRunOptions,
} from './types.js';
export type {
  EscalationDefinition,
  RetryOptions,
  StepOptions,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowException,
  WorkflowResult,
} from './workflow.js';
export { defineWorkflow, EscalationSignal, StepFailedError } from './workflow.js';
