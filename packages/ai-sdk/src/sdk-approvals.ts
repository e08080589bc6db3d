import type { ApprovalDecision, ApprovalRequest, Approver } from '@bounded/core';

/**
 * Tool calls the AI SDK's approval flow approved, by run and tool-call id, until the gateway asks about them.
 * Module-wide because the approver is given to `createGovernor` while the calls are seen by each run's tools.
 */
const approvedBySdk = new Map<string, { readonly reason: string | undefined }>();

const keyOf = (runId: string, toolCallId: string) => `${runId}\u0000${toolCallId}`;

/**
 * Finds the user's answer to this call's approval request in the messages the SDK hands to `execute`: the
 * assistant's `tool-approval-request` names the call, the tool message's `tool-approval-response` answers it.
 */
export function approvalResponseFor(
  messages: readonly unknown[] | undefined,
  toolCallId: string,
): { readonly approved: boolean; readonly reason: string | undefined } | undefined {
  if (!messages) return undefined;
  let approvalId: string | undefined;
  for (const message of messages) {
    for (const part of partsOf(message)) {
      if (part.type === 'tool-approval-request' && part.toolCallId === toolCallId) approvalId = String(part.approvalId);
    }
  }
  if (approvalId === undefined) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    for (const part of partsOf(messages[i])) {
      if (part.type === 'tool-approval-response' && part.approvalId === approvalId) {
        return { approved: part.approved === true, reason: typeof part.reason === 'string' ? part.reason : undefined };
      }
    }
  }
  return undefined;
}

function partsOf(message: unknown): ReadonlyArray<Record<string, unknown>> {
  const content = (message as { content?: unknown } | null)?.content;
  return Array.isArray(content) ? (content as Array<Record<string, unknown>>) : [];
}

/** Called by a governed tool just before the gateway sees a call the SDK's flow approved. */
export function noteSdkApproval(runId: string, toolCallId: string, reason: string | undefined): void {
  approvedBySdk.set(keyOf(runId, toolCallId), { reason });
}

export function forgetSdkApproval(runId: string, toolCallId: string): void {
  approvedBySdk.delete(keyOf(runId, toolCallId));
}

/**
 * The approver for `approvals: 'sdk'`: approves the writes a person approved through the AI SDK's own
 * `tool-approval-request` / `tool-approval-response` flow (recorded as `by: 'ai-sdk'`), and hands anything else to
 * `otherwise`, or rejects it.
 *
 * ```ts
 * const governor = createGovernor({ policy, approver: sdkApprover() });
 * ```
 */
export function sdkApprover(options: { readonly otherwise?: Approver; readonly name?: string } = {}): Approver {
  const name = options.name ?? 'ai-sdk';
  return {
    name,
    async request(request: ApprovalRequest): Promise<ApprovalDecision> {
      const key = keyOf(request.runId, request.callId);
      const approved = approvedBySdk.get(key);
      if (approved) {
        approvedBySdk.delete(key);
        return { approved: true, by: name, ...(approved.reason ? { reason: approved.reason } : {}) };
      }
      if (options.otherwise) return options.otherwise.request(request);
      return { approved: false, by: name, reason: 'not approved through the AI SDK approval flow' };
    },
  };
}
