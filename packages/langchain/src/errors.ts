import { BoundedError, type RunStopped, type StopReason } from '@bounded/core';

/**
 * Thrown out of an agent invocation when a stop ends the run under `exitBehavior: 'error'`. LangChain wraps
 * middleware errors, so find it with `AgentStoppedError.find(error)`.
 */
export class AgentStoppedError extends BoundedError {
  declare readonly code: 'AGENT_STOPPED';
  readonly reason: StopReason;
  readonly detail: string;
  readonly result: RunStopped;

  constructor(result: RunStopped) {
    super('AGENT_STOPPED', `Agent run stopped: ${result.stopReason} (${result.detail})`);
    this.name = 'AgentStoppedError';
    this.reason = result.stopReason;
    this.detail = result.detail;
    this.result = result;
  }

  static is(error: unknown): error is AgentStoppedError {
    return BoundedError.isInstance(error) && error.code === 'AGENT_STOPPED';
  }

  /** The AgentStoppedError in `error` or its chain of causes (LangChain's MiddlewareError wraps it). */
  static find(error: unknown): AgentStoppedError | undefined {
    let current = error;
    for (let depth = 0; depth < 8 && current !== null && typeof current === 'object'; depth++) {
      if (AgentStoppedError.is(current)) return current;
      current = (current as { cause?: unknown }).cause;
    }
    return undefined;
  }
}
