/**
 * The GenAI conventions' `gen_ai.provider.name` for a provider as a framework names it: the AI SDK says
 * `openai.chat` or `amazon-bedrock`, LangChain says `openai` or `google-genai`. The same values as the AI SDK's own
 * telemetry, so its spans and ours group under one provider.
 */
const WELL_KNOWN: readonly (readonly [prefix: string, name: string])[] = [
  // Longer prefixes first: `google.vertex` before `google`, `azure-openai` before `azure`.
  ['google.vertex', 'gcp.vertex_ai'],
  ['google-vertexai', 'gcp.vertex_ai'],
  ['google-vertex', 'gcp.vertex_ai'],
  ['google.generative-ai', 'gcp.gemini'],
  ['google-genai', 'gcp.gemini'],
  ['google', 'gcp.gemini'],
  ['amazon-bedrock', 'aws.bedrock'],
  ['bedrock', 'aws.bedrock'],
  ['azure-openai', 'azure.ai.openai'],
  ['azure_openai', 'azure.ai.openai'],
  ['azure', 'azure.ai.inference'],
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

/** Other providers keep their own name when it looks like one; anything else is `_OTHER`, as the conventions say. */
const PLAIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function genAiProviderName(provider: string): string {
  const lower = provider.toLowerCase();
  for (const [prefix, name] of WELL_KNOWN) {
    if (lower.startsWith(prefix)) {
      const next = lower.charAt(prefix.length);
      if (next === '' || next === '.' || next === '-' || next === '_') return name;
    }
  }
  return PLAIN_NAME.test(lower) ? lower : '_OTHER';
}
