import { describe, expect, it } from 'vitest';
import { genAiProviderName } from './provider-name.js';

describe('genAiProviderName', () => {
  it("maps the AI SDK's and LangChain's provider names to the GenAI conventions' names", () => {
    const cases: Record<string, string> = {
      // AI SDK `model.provider`
      'openai.chat': 'openai',
      'openai.responses': 'openai',
      'anthropic.messages': 'anthropic',
      'google.generative-ai': 'gcp.gemini',
      'google.vertex.chat': 'gcp.vertex_ai',
      'amazon-bedrock': 'aws.bedrock',
      'azure.chat': 'azure.ai.openai',
      'azure.responses': 'azure.ai.openai',
      'vertex.anthropic.messages': 'gcp.vertex_ai',
      'mistral.chat': 'mistral_ai',
      'xai.chat': 'x_ai',
      'groq.chat': 'groq',
      // LangChain `response_metadata.model_provider`
      openai: 'openai',
      anthropic: 'anthropic',
      'google-genai': 'gcp.gemini',
      'google-vertexai': 'gcp.vertex_ai',
      bedrock: 'aws.bedrock',
      'bedrock-converse': 'aws.bedrock',
      google: 'gcp.gen_ai',
      azure_openai: 'azure.ai.openai',
      mistralai: 'mistral_ai',
      deepseek: 'deepseek',
    };
    for (const [given, expected] of Object.entries(cases))
      expect([given, genAiProviderName(given)]).toEqual([given, expected]);
  });

  it('keeps an unknown name that looks like one, lowercased and without an API suffix; anything else is _OTHER', () => {
    expect(genAiProviderName('Ollama')).toBe('ollama');
    // The AI SDK's `ollama.chat` and LangChain's `ollama` are one provider.
    expect(genAiProviderName('ollama.chat')).toBe('ollama');
    expect(genAiProviderName('mock-provider')).toBe('mock-provider');
    // A prefix alone is not a match: `openaiish` is not OpenAI.
    expect(genAiProviderName('openaiish')).toBe('openaiish');
    expect(genAiProviderName('my provider / eu')).toBe('_OTHER');
    expect(genAiProviderName('x'.repeat(100))).toBe('_OTHER');
  });
});
