import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, type BaseMessage, HumanMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import { fakeModel, tool } from 'langchain';
import { z } from 'zod';

/** A model turn that calls tools, with the tokens it spent. */
export function calls(
  toolCalls: Array<[name: string, args: Record<string, unknown>, id?: string]>,
  tokens: { input: number; output: number } = { input: 100, output: 20 },
): AIMessage {
  return new AIMessage({
    content: '',
    tool_calls: toolCalls.map(([name, args, id], index) => ({
      name,
      args,
      id: id ?? `call_${nextId()}_${index}`,
      type: 'tool_call' as const,
    })),
    usage_metadata: usage(tokens),
  });
}

export function call(name: string, args: Record<string, unknown>, id?: string): AIMessage {
  return calls([[name, args, ...(id === undefined ? [] : [id])] as [string, Record<string, unknown>, string?]]);
}

export function answer(
  text: string,
  tokens: { input: number; output: number } = { input: 120, output: 30 },
): AIMessage {
  return new AIMessage({ content: text, usage_metadata: usage(tokens) });
}

function usage(tokens: { input: number; output: number }) {
  return { input_tokens: tokens.input, output_tokens: tokens.output, total_tokens: tokens.input + tokens.output };
}

let ids = 0;
function nextId(): number {
  return ++ids;
}

/** A fake chat model that answers with these messages in order. */
export function scripted(...messages: AIMessage[]) {
  const model = fakeModel();
  for (const message of messages) model.respond(message);
  return model;
}

/** The support desk's tools, counting how often their bodies ran. */
export function deskTools(options: { slowMs?: number } = {}) {
  const ran = { kb_search: 0, kb_read: 0, crm_update: 0, admin_delete_user: 0, slow_lookup: 0 };
  const kbSearch = tool(
    async ({ query }) => {
      ran.kb_search++;
      return `3 articles match "${query}"`;
    },
    { name: 'kb_search', description: 'Search the knowledge base', schema: z.object({ query: z.string() }) },
  );
  const kbRead = tool(
    async ({ id }) => {
      ran.kb_read++;
      return `Article ${id}: reset your password from the login page.`;
    },
    { name: 'kb_read', description: 'Read one article', schema: z.object({ id: z.number() }) },
  );
  const crmUpdate = tool(
    async ({ customer, plan }) => {
      ran.crm_update++;
      return `${customer} is now on ${plan}`;
    },
    {
      name: 'crm_update',
      description: "Change a customer's plan",
      schema: z.object({ customer: z.string(), plan: z.string() }),
    },
  );
  const adminDeleteUser = tool(
    async ({ user }) => {
      ran.admin_delete_user++;
      return `deleted ${user}`;
    },
    { name: 'admin_delete_user', description: 'Delete a user account', schema: z.object({ user: z.string() }) },
  );
  const slowLookup = tool(
    async ({ id }) => {
      ran.slow_lookup++;
      await new Promise(resolve => setTimeout(resolve, options.slowMs ?? 5_000));
      return `order ${id} shipped`;
    },
    { name: 'slow_lookup', description: 'Look up an order (slow)', schema: z.object({ id: z.string() }) },
  );
  return { ran, tools: [kbSearch, kbRead, crmUpdate, adminDeleteUser, slowLookup] };
}

export const question = (text = 'How do I reset my password?') => ({ messages: [new HumanMessage(text)] });

export type Mode = 'invoke' | 'stream';

interface Invocable<S> {
  invoke(input: unknown, config?: Record<string, unknown>): Promise<S>;
  stream(input: unknown, config?: Record<string, unknown>): Promise<AsyncIterable<unknown>>;
}

/** Runs the agent by `invoke`, or by `stream` (values mode) returning the last state it streamed. */
export async function runAgent<S>(
  agent: Invocable<S>,
  mode: Mode,
  input: unknown,
  config: Record<string, unknown> = {},
): Promise<S> {
  if (mode === 'invoke') return agent.invoke(input, config);
  const stream = await agent.stream(input, { ...config, streamMode: 'values' });
  let last: unknown;
  for await (const chunk of stream) last = chunk;
  return last as S;
}

/** A chat model that takes `delayMs` to answer (what a hung provider looks like), then answers as `inner` does. */
export class SlowModel extends BaseChatModel {
  readonly #inner: ReturnType<typeof scripted>;
  readonly #delayMs: number;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(inner: ReturnType<typeof scripted>, delayMs: number) {
    super({});
    this.#inner = inner;
    this.#delayMs = delayMs;
  }

  _llmType(): string {
    return 'slow';
  }

  override bindTools(): this {
    return this;
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    await new Promise<void>(resolve => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, this.#delayMs);
      this.#timers.add(timer);
    });
    const message = await this.#inner.invoke(messages);
    return { generations: [{ text: '', message }] };
  }

  /** Lets the test end without waiting for the hung call. */
  release(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
