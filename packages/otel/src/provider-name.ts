/**
 * The GenAI conventions' `gen_ai.provider.name` for a provider as a framework names it: the AI SDK says
 * `openai.chat` or `amazon-bedrock`, LangChain says `openai` or `google-genai`. Well-known providers get the names
 * `@ai-sdk/otel` gives them too, so the SDK's spans and ours group under one provider.
 */
const WELL_KNOWN: readonly (readonly [prefix: string, name: string])[] = [
  // Longer prefixes first: `google.vertex` before `google`, `azure-ai-inference` before `azure`.
  ['google.vertex', 'gcp.vertex_ai'],
  ['google-vertexai', 'gcp.vertex_ai'],
  ['google-vertex', 'gcp.vertex_ai'],
  // Claude served by Vertex (`@ai-sdk/google-vertex/anthropic`).
  ['vertex', 'gcp.vertex_ai'],
  ['google.generative-ai', 'gcp.gemini'],
  ['google-genai', 'gcp.gemini'],
  ['google', 'gcp.gemini'],
  ['amazon-bedrock', 'aws.bedrock'],
  ['bedrock', 'aws.bedrock'],
  ['azure-ai-inference', 'azure.ai.inference'],
  // `@ai-sdk/azure` (`azure.chat`, `azure.responses`) and LangChain's Azure OpenAI both talk to Azure OpenAI.
  ['azure-openai', 'azure.ai.openai'],
  ['azure_openai', 'azure.ai.openai'],
  ['azure', 'azure.ai.openai'],
  ['anthropic', 'anthropic'],
  ['openai', 'openai'],
  ['mistralai', 'mistral_ai'],
  ['mistral', 'mistral_ai'],
  ['cohere', 'cohere'],
  ['groq', 'groq'],
  ['deepseek', 'deepseek'],
  ['perplexity', 'perplexity'],
  ['xai', 'x_ai'],
  ['watsonx', 'ibm.watsonx.ai'],
];

/** Other providers keep their own name, without an API suffix (`ollama.chat` is `ollama`), when it looks like one. */
const PLAIN_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function genAiProviderName(provider: string): string {
  const lower = provider.toLowerCase();
  // LangChain's `@langchain/google` says just `google` for both AI Studio and Vertex: the conventions' name for any
  // Google generative AI endpoint. The AI SDK's `google.generative-ai` is the Gemini API.
  if (lower === 'google') return 'gcp.gen_ai';
  for (const [prefix, name] of WELL_KNOWN) if (matches(lower, prefix)) return name;
  const dot = lower.indexOf('.');
  const own = dot === -1 ? lower : lower.slice(0, dot);
  return PLAIN_NAME.test(own) ? own : '_OTHER';
}

function matches(name: string, prefix: string): boolean {
  if (!name.startsWith(prefix)) return false;
  const next = name.charAt(prefix.length);
  return next === '' || next === '.' || next === '-' || next === '_';
}
