export type { BoundedCallbackHandlerOptions } from './callback-handler.js';
export { BoundedCallbackHandler } from './callback-handler.js';
export { AgentStoppedError } from './errors.js';
export type {
  ApprovalInterrupt,
  ApprovalResume,
  InterruptApproverOptions,
} from './interrupt-approver.js';
export { interruptApprover } from './interrupt-approver.js';
export { boundedRun } from './messages.js';
export { boundedMiddleware } from './middleware.js';
export type { NamedTool, ToolDefinitionsOptions } from './tool-definitions.js';
export { toolDefinitions } from './tool-definitions.js';
export type {
  BoundedMiddlewareOptions,
  BoundedRunState,
  InvocationInfo,
  InvocationRunOptions,
  RunUsageSummary,
  ThreadBudgets,
  ThreadUsage,
} from './types.js';
