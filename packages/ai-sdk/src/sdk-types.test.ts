/**
 * The package is typed against neither major: its hand-written shapes must be accepted by both. `tsc` checks this
 * file against ai@7's and ai@6's own declarations; the test runs it too.
 */
import { createGovernor } from '@bounded/core';
import * as ai7 from 'ai';
import { convertArrayToReadableStream, MockLanguageModelV4 } from 'ai/test';
import * as ai6 from 'ai-v6';
import { MockLanguageModelV3 } from 'ai-v6/test';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { boundedAI } from './bounded-ai.js';

const usage = {
  inputTokens: { total: 3, noCache: 3, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 2, text: 2, reasoning: 0 },
};
const call = {
  content: [{ type: 'tool-call' as const, toolCallId: 'c1', toolName: 'lookup', input: '{"domain":"acme.com"}' }],
  finishReason: { unified: 'tool-calls' as const, raw: undefined },
  usage,
  warnings: [],
};
const answer = {
  content: [{ type: 'text' as const, text: 'Acme: 200 employees' }],
  finishReason: { unified: 'stop' as const, raw: undefined },
  usage,
  warnings: [],
};
const streamed = () => ({
  stream: convertArrayToReadableStream([
    { type: 'stream-start' as const, warnings: [] },
    { type: 'text-start' as const, id: 't' },
    { type: 'text-delta' as const, id: 't', delta: 'Acme' },
    { type: 'text-end' as const, id: 't' },
    { type: 'finish' as const, finishReason: { unified: 'stop' as const, raw: undefined }, usage },
  ]),
});

describe('the types of both majors accept what the run hands out', () => {
  it('ai@7', async () => {
    const ai = boundedAI(createGovernor({ policy: { budgets: { max_steps: 5 } } }));
    const lookup = ai7.tool({
      inputSchema: z.object({ domain: z.string() }),
      execute: async ({ domain }) => ({ domain, employees: 200 }),
    });
    const model = new MockLanguageModelV4({ doGenerate: [call, answer], doStream: [streamed()] });
    const { result } = await ai.run({ agent: 'types' }, async run => {
      const generated = await ai7.generateText({
        ...run.settings({ model, tools: { lookup }, stopWhen: ai7.isStepCount(5) }),
        prompt: 'x',
      });
      // The tools keep their own type through settings() and tools().
      const kept: { lookup: typeof lookup } = run.settings({ tools: { lookup } }).tools;
      const alsoKept: { lookup: typeof lookup } = run.tools({ lookup });
      void [kept, alsoKept];
      const employees = (generated.steps[0]!.toolResults[0]!.output as { employees: number }).employees;
      const wrapped = ai7.wrapLanguageModel({ model, middleware: run.middleware });
      const streamedText = await ai7.streamText({
        model: wrapped,
        tools: run.tools({ lookup }),
        stopWhen: run.stopWhen,
        toolApproval: run.toolApproval,
        prompt: 'x',
      }).text;
      const agent = new ai7.ToolLoopAgent({ ...run.settings({ model: run.model(model), tools: { lookup } }) });
      return { employees, streamedText, agentTools: Object.keys(agent.tools) };
    });
    expect(result).toEqual({ employees: 200, streamedText: 'Acme', agentTools: ['lookup'] });
  });

  it('ai@6', async () => {
    const ai = boundedAI(createGovernor({ policy: { budgets: { max_steps: 5 } } }));
    const lookup = ai6.tool({
      inputSchema: z.object({ domain: z.string() }),
      execute: async ({ domain }) => ({ domain, employees: 200 }),
    });
    const model = new MockLanguageModelV3({ doGenerate: [call, answer], doStream: [streamed()] });
    const { result } = await ai.run({ agent: 'types' }, async run => {
      const generated = await ai6.generateText({
        ...run.settings({ model, tools: { lookup }, stopWhen: ai6.stepCountIs(5) }),
        prompt: 'x',
      });
      const employees = (generated.steps[0]!.toolResults[0]!.output as { employees: number }).employees;
      const wrapped = ai6.wrapLanguageModel({ model, middleware: run.middleware });
      const streamedText = await ai6.streamText({
        model: wrapped,
        tools: run.tools({ lookup }),
        stopWhen: run.stopWhen,
        prompt: 'x',
      }).text;
      const agent = new ai6.ToolLoopAgent({ ...run.settings({ model, tools: { lookup } }) });
      return { employees, streamedText, agentTools: Object.keys(agent.tools) };
    });
    expect(result).toEqual({ employees: 200, streamedText: 'Acme', agentTools: ['lookup'] });
  });
});
