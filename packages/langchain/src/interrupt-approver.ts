import type { ApprovalDecision, ApprovalRequest, Approver } from '@bounded/core';
import { getConfig, interrupt } from '@langchain/langgraph';

/**
 * The value an interrupt carries: the shape of LangChain's `humanInTheLoopMiddleware` request (so a UI made for
 * it works unchanged), plus who asks and until when.
 */
export interface ApprovalInterrupt {
  readonly actionRequests: ReadonlyArray<{
    readonly name: string;
    readonly args: Record<string, unknown>;
    readonly description: string;
  }>;
  readonly reviewConfigs: ReadonlyArray<{
    readonly actionName: string;
    readonly allowedDecisions: ReadonlyArray<'approve' | 'reject'>;
  }>;
  readonly bounded: {
    readonly approvalId: string;
    readonly runId: string;
    readonly agent: string;
    readonly tenant: string | undefined;
    readonly tool: string;
    readonly callId: string;
    readonly requestedAt: number;
    /** Epoch milliseconds: past this, a resume is refused as expired. */
    readonly expiresAt: number;
  };
}

/**
 * What to resume with: LangChain's human-in-the-loop response (`{ decisions: [{ type: 'approve' }] }`,
 * `{ type: 'reject', message }`), a boolean, or a decision with who decided.
 */
export type ApprovalResume =
  | boolean
  | { readonly decisions: ReadonlyArray<{ readonly type: string; readonly message?: string }> }
  | { readonly type: string; readonly message?: string }
  | { readonly approved: boolean; readonly by?: string; readonly reason?: string };

export interface InterruptApproverOptions {
  /** Recorded as who decided when the resume value does not say. Default `human`. */
  readonly name?: string;
  /** The text a reviewer reads. */
  readonly description?: (request: ApprovalRequest) => string;
  /**
   * Refuse a resume that comes after the request's `expiresAt` (`writes.approval_timeout_seconds`). Default true.
   * The interrupted invocation has ended by then, so the check is made when the resumed one asks again.
   */
  readonly expire?: boolean;
}

/**
 * Approvals through LangGraph's interrupt and resume (human in the loop, with a checkpointer): a write that needs
 * approval pauses the invocation with an interrupt; `agent.invoke(new Command({ resume: { decisions: [{ type:
 * 'approve' }] } }), sameConfig)` runs it, a reject refuses it (`approval_rejected:<tool>`).
 *
 * ```ts
 * const governor = createGovernor({ policy, approver: interruptApprover() });
 * ```
 */
export function interruptApprover(options: InterruptApproverOptions = {}): Approver {
  const name = options.name ?? 'human';
  const expire = options.expire ?? true;
  // The first ask of a call, by (run-independent) call id: a resumed invocation asks again with a new request,
  // and the deadline runs from the first.
  const firstAsked = new Map<string, number>();
  return {
    name: 'interrupt',
    async request(request) {
      // Per thread: threads paused at once share agents, tools and (for calls without an id) call numbers.
      const key = `${threadOf()}\u0000${request.agent}\u0000${request.tool}\u0000${request.callId}`;
      const asked = firstAsked.get(key) ?? request.requestedAt;
      const timeoutMs = request.expiresAt - request.requestedAt;
      const value: ApprovalInterrupt = {
        actionRequests: [
          {
            name: request.tool,
            args: (request.args ?? {}) as Record<string, unknown>,
            description: options.description?.(request) ?? describe(request),
          },
        ],
        reviewConfigs: [{ actionName: request.tool, allowedDecisions: ['approve', 'reject'] }],
        bounded: {
          approvalId: request.id,
          runId: request.runId,
          agent: request.agent,
          tenant: request.tenant,
          tool: request.tool,
          callId: request.callId,
          requestedAt: asked,
          expiresAt: asked + timeoutMs,
        },
      };
      let resume: unknown;
      try {
        resume = interrupt(value);
      } catch (error) {
        if (isInterrupt(error)) {
          // Interrupts never resumed must not pile up.
          if (firstAsked.size >= 10_000) firstAsked.delete(firstAsked.keys().next().value as string);
          firstAsked.set(key, asked);
        }
        throw error;
      }
      firstAsked.delete(key);
      if (expire && Date.now() > asked + timeoutMs) {
        return { approved: false, by: 'timeout', reason: `resumed after the approval expired (${timeoutMs / 1000}s)` };
      }
      return decisionOf(resume, name);
    },
    rethrows: isInterrupt,
  };
}

/** The LangGraph thread the approval is asked on ('' outside one). */
function threadOf(): string {
  const threadId = (getConfig() as { configurable?: { thread_id?: unknown } } | undefined)?.configurable?.thread_id;
  return typeof threadId === 'string' || typeof threadId === 'number' ? String(threadId) : '';
}

function describe(request: ApprovalRequest): string {
  return `${request.tool} changes the world and needs approval (agent ${request.agent}, run ${request.runId})`;
}

function isInterrupt(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { is_bubble_up?: unknown }).is_bubble_up === true;
}

/** Reads the resume value; anything it cannot read is a refusal, never an approval. */
export function decisionOf(resume: unknown, by: string): ApprovalDecision {
  if (typeof resume === 'boolean') return { approved: resume, by };
  if (resume !== null && typeof resume === 'object') {
    const record = resume as Record<string, unknown>;
    if (typeof record.approved === 'boolean') {
      return {
        approved: record.approved,
        by: typeof record.by === 'string' ? record.by : by,
        ...(typeof record.reason === 'string' ? { reason: record.reason } : {}),
      };
    }
    const decision = Array.isArray(record.decisions) ? record.decisions[0] : record;
    if (decision !== null && typeof decision === 'object') {
      const { type, message } = decision as { type?: unknown; message?: unknown };
      if (type === 'approve') return { approved: true, by };
      if (type === 'reject')
        return { approved: false, by, ...(typeof message === 'string' ? { reason: message } : {}) };
      if (type === 'edit') {
        return { approved: false, by, reason: 'edits are not supported: approve or reject the call as asked' };
      }
    }
  }
  return { approved: false, by, reason: `unreadable resume value ${JSON.stringify(resume)}` };
}
