import { ChatOpenAI } from '@langchain/openai';

/** A real chat model, only loaded when OPENAI_API_KEY is set. */
export async function liveModel(): Promise<ChatOpenAI> {
  return new ChatOpenAI({ model: process.env.OPENAI_MODEL ?? 'gpt-4o-mini', temperature: 0 });
}
