import { ApprovalQueue, auditLog, createGovernor, defineWorkflow } from '@bounded/core';
import { scriptedAgent } from './traces.js';

/**
 * Writes an audit log of five runs: a workflow that handles its input, a workflow that escalates to an agent whose
 * write is approved, an agent stopped at its tool-call budget, an agent denied a tool, and an agent that answers.
 */
export async function writeAuditLog(path: string, key?: string): Promise<void> {
  const audit = auditLog({ path, ...(key ? { key } : {}) });
  const approvals = new ApprovalQueue();
  approvals.onRequest(pending => setTimeout(() => approvals.approve(pending.id, { by: 'alice' }), 15));
  const governor = createGovernor({
    policy: {
      mode: { default: 'agent', agent_for_exceptions: true },
      budgets: { max_tool_calls: 4 },
      tools: { allow: ['kb.read', 'search.read', 'crm.update'] },
      writes: { tools: ['crm.*'], require_approval: true },
      loop_detection: { enabled: false },
    },
    observers: [audit],
    approver: approvals,
  });
  const desk = defineWorkflow<string, string>({
    name: 'desk',
    run: async (wf, ticket) => {
      const article = await wf.step('lookup', run =>
        run.tool('kb.read', { ticket }, async () => `article for ${ticket}`),
      );
      if (ticket.includes('upgrade')) return wf.escalate('a write: the agent handles it');
      return article;
    },
    escalate: {
      agent: 'desk-agent',
      run: run => scriptedAgent(run, [{ tool: 'crm.update', args: { plan: 'priority' } }, { answer: 'upgraded' }]),
    },
  });
  await governor.workflow(desk, 'password reset');
  await governor.workflow(desk, 'please upgrade us');
  await governor.run({ agent: 'researcher' }, run => scriptedAgent(run, [{ tool: 'search.read' }]));
  await governor.run({ agent: 'researcher' }, run => scriptedAgent(run, [{ tool: 'admin.delete_user' }]));
  await governor.run({ agent: 'researcher' }, run => scriptedAgent(run, [{ tool: 'kb.read' }, { answer: 'done' }]));
  governor.close();
  await audit.close();
}
