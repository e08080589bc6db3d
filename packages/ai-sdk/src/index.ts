export { boundedAI } from './bounded-ai.js';
export { sdkApprover } from './sdk-approvals.js';
export type {
  BoundedMiddleware,
  BoundedStopCondition,
  BoundedToolApproval,
  CallOptionsLike,
  GenerateResultLike,
  GovernedModel,
  GovernedSettings,
  LanguageModelLike,
  SettingsLike,
  StreamingResultLike,
  StreamResultLike,
  ToolApprovalAnswer,
  ToolCallLike,
  ToolExecutionOptionsLike,
  ToolLike,
} from './sdk-types.js';
export type { AIResult, AIRun, AIStream, BoundedAI, BoundedAIOptions } from './types.js';
