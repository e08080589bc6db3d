import type { ToolContext } from '@bounded/core';

/**
 * The support desk's world: a knowledge base, a search index, a CRM and a payments service, all in memory, so the
 * demo runs with no services. Each tool counts how often its body really ran, which the demo prints.
 */
export interface World {
  readonly executions: Record<string, number>;
  readonly crm: Map<string, { plan: string }>;
  readonly charges: Array<{ id: string; customer: string; amount_usd: number }>;
  readonly tools: Tools;
}

export interface Tools {
  'kb.read': (args: { topic: string }) => Promise<{ title: string; body: string } | undefined>;
  'search.read': (args: { q: string }) => Promise<string[]>;
  'http.get': (args: { url: string }, ctx: ToolContext) => Promise<string>;
  'crm.update': (args: { customer: string; plan: string }) => Promise<{ customer: string; plan: string }>;
  'payments.charge': (args: { customer: string; amount_usd: number; reason: string }) => Promise<{ chargeId: string }>;
  /** Not on the allow list: the tool a prompt injection tries to reach. */
  'admin.delete_user': (args: { customer: string }) => Promise<string>;
}

const ARTICLES: Record<string, { title: string; body: string }> = {
  password: {
    title: 'Reset your password',
    body: 'Open Settings > Security > Reset password and follow the email link.',
  },
  billing: { title: 'Understand your invoice', body: 'Invoices are issued on the 1st; line items list each seat.' },
  shipping: { title: 'Replacement parts', body: 'Damaged parts are replaced at cost; we ship within two days.' },
};

export function createWorld(): World {
  const executions: Record<string, number> = {};
  const ran = (tool: string) => {
    executions[tool] = (executions[tool] ?? 0) + 1;
  };
  const crm = new Map([
    ['cus_1042', { plan: 'standard' }],
    ['cus_2001', { plan: 'standard' }],
  ]);
  const charges: World['charges'] = [];
  const tools: Tools = {
    'kb.read': async ({ topic }) => {
      ran('kb.read');
      return ARTICLES[topic];
    },
    'search.read': async ({ q }) => {
      ran('search.read');
      // The index never has what this agent looks for: the shape of a thrash loop.
      return q.length > 0 ? [] : [];
    },
    'http.get': ({ url }, ctx) => {
      ran('http.get');
      // A status page that never answers; the tool honours the abort signal, as a real fetch would.
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () =>
          reject(new Error(`GET ${url} aborted: ${String(ctx.signal.reason)}`)),
        );
      });
    },
    'crm.update': async ({ customer, plan }) => {
      ran('crm.update');
      crm.set(customer, { plan });
      return { customer, plan };
    },
    'payments.charge': async ({ customer, amount_usd }) => {
      ran('payments.charge');
      const charge = { id: `ch_${charges.length + 1}`, customer, amount_usd };
      charges.push(charge);
      return { chargeId: charge.id };
    },
    'admin.delete_user': async ({ customer }) => {
      ran('admin.delete_user');
      crm.delete(customer);
      return `deleted ${customer}`;
    },
  };
  return { executions, crm, charges, tools };
}
