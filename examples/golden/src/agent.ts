import type { GoldenContext } from '@bounded/cli';
import type { Run } from '@bounded/core';

/** A ticket of the suite: a question, and either a topic to look up or a status page to check. */
export interface Ticket {
  readonly ticket: string;
  readonly topic?: string;
  readonly url?: string;
}

const ARTICLES: Record<string, { title: string; body: string }> = {
  shipping: { title: 'Replacement parts', body: 'Damaged parts are replaced at cost; we ship within two days.' },
  billing: { title: 'Understand your invoice', body: 'Invoices are issued on the 1st; line items list each seat.' },
};

const tools = {
  'search.read': async (args: { q: string }) =>
    args.q.includes('shipping') || args.q.includes('billing') ? [args.q.split(' ')[0]] : [],
  'kb.read': async (args: { topic: string }) => ARTICLES[args.topic],
  'http.get': async (args: { url: string }) => `${args.url}: all systems operational`,
};

type Action =
  | { readonly tool: 'search.read'; readonly args: { q: string } }
  | { readonly tool: 'kb.read'; readonly args: { topic: string } }
  | { readonly tool: 'http.get'; readonly args: { url: string } }
  | { readonly answer: string };

/** A scripted model: given the ticket, the turn and the last result, what it does next. */
type Model = (ticket: Ticket, turn: number, last: unknown) => Action;

/** v1: one search, one read, an answer (or one status check). */
const v1: Model = (ticket, turn, last) => {
  if (ticket.url)
    return turn === 1 ? { tool: 'http.get', args: { url: ticket.url } } : { answer: `Status: ${String(last)}` };
  if (turn === 1) return { tool: 'search.read', args: { q: `${ticket.topic} ${ticket.ticket}` } };
  if (turn === 2) return { tool: 'kb.read', args: { topic: ticket.topic ?? '' } };
  const article = last as { title: string; body: string } | undefined;
  return { answer: article ? `${article.title}: ${article.body}` : 'Sorry, I found nothing.' };
};

/** v2: a new prompt that made the model doubt every search: it rephrases and searches again, forever. */
const v2: Model = (ticket, turn, last) => {
  if (ticket.url) return v1(ticket, turn, last);
  return { tool: 'search.read', args: { q: `${ticket.ticket} (rephrased ${turn})` } };
};

const MODELS: Record<string, Model> = { 'scripted-v1': v1, 'scripted-v2': v2 };

/**
 * The agent module `bounded golden run` loads: one task in one governed run. The model is scripted (no key, no
 * network); `context.options.model` picks it, so the baseline and the candidate configs differ only there.
 */
export async function agent(run: Run, input: unknown, context: GoldenContext): Promise<string> {
  const ticket = input as Ticket;
  const modelId = String(context.options.model ?? 'scripted-v1');
  const model = MODELS[modelId];
  if (!model) throw new Error(`unknown model "${modelId}" (options.model): ${Object.keys(MODELS).join(', ')}`);
  let last: unknown;
  for (let turn = 1; ; turn++) {
    await run.step({ name: `model turn ${turn}` });
    run.usage({ inputTokens: 600 + 150 * turn, outputTokens: 40, model: modelId });
    const action = model(ticket, turn, last);
    if ('answer' in action) return action.answer;
    const execute = tools[action.tool] as (args: unknown) => Promise<unknown>;
    last = await run.tool(action.tool, action.args, execute);
  }
}
