import { defineWorkflow, type WorkflowDefinition } from '@bounded/core';
import { runAgent, type ScriptedModel } from './agent.js';
import type { World } from './world.js';

export interface Ticket {
  readonly id: string;
  readonly customer: string;
  readonly text: string;
  /** What the scripted model will do if the ticket reaches the agent (a real model would decide this itself). */
  readonly model: ScriptedModel;
}

const TOPICS: Array<[RegExp, string]> = [
  [/password|log ?in|sign ?in/i, 'password'],
  [/invoice|bill(ed|ing)?\b/i, 'billing'],
];

/** The deterministic classifier of the known path: keywords, not a model. */
export function classify(text: string): string | undefined {
  return TOPICS.find(([pattern]) => pattern.test(text))?.[1];
}

/**
 * The support desk as a hybrid run: the known path (classify, look up the article, reply) is a workflow; anything it
 * cannot handle escalates to a bounded agent, under the policy's stricter `mode.agent_budgets`.
 */
export function supportDesk(world: World): WorkflowDefinition<Ticket, string> {
  return defineWorkflow<Ticket, string>({
    name: 'support-ticket',
    run: async (wf, ticket) => {
      const topic = await wf.step('classify', () => classify(ticket.text));
      if (!topic) return wf.escalate('no known topic for this ticket');
      const article = await wf.step('lookup', run => run.tool('kb.read', { topic }, world.tools['kb.read']), {
        retry: { attempts: 3, backoffMs: 20 },
      });
      if (!article) return wf.escalate(`no article for topic ${topic}`);
      return `${article.title}: ${article.body}`;
    },
    escalate: {
      agent: 'support-agent',
      run: (run, exception) => runAgent(run, world, exception.input.model),
    },
  });
}
