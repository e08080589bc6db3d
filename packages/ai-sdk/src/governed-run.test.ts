import { APICallError } from '@ai-sdk/provider';
import { type BoundedEvent, callbackApprover, createGovernor, UsageError } from '@bounded/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { boundedAI } from './bounded-ai.js';
import { sdkApprover } from './sdk-approvals.js';
import { leadTools, TOOL_NAMES } from './test-utils/leads.js';
import { SDKS } from './test-utils/sdks.js';
import type { AIRun } from './types.js';

const AGENT = 'lead-enricher';
const prompt = 'Enrich lead 42 (Acme).';
const done = { text: 'Lead 42 enriched.' };
const thrash = (call: number) => ({ calls: [['searchCompanies', { q: 'acme', page: call }]] as const });

describe.each(SDKS)('$name', sdk => {
  const { generateText, streamText, wrapLanguageModel, ToolLoopAgent } = sdk.ai;

  it('refuses a tool off the allow list before it runs, and tells the model why', async () => {
    const governor = createGovernor({ policy: { tools: { allow: ['search.*'], on_refusal: 'continue' } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const model = sdk.model([{ calls: [['deleteLead', { id: '42' }]] }, done]);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, tools }), prompt }),
    );
    expect(ran.deleteLead).toBe(0);
    expect(bounded).toMatchObject({ status: 'ok', usage: { decisions: { deny: 1 } } });
    const told = JSON.stringify(model.doGenerateCalls[1]!.prompt.at(-1));
    expect(told).toContain('tool_denied:crm.delete');
    const parts = result!.steps[0]!.content.map(part => part.type);
    if (sdk.major === 7) {
      // ai@7: through toolApproval, so the SDK records an automatic denial and the model gets `execution-denied`.
      expect(parts).toEqual(['tool-call', 'tool-approval-request', 'tool-approval-response']);
      expect(told).toContain('execution-denied');
    } else {
      expect(parts).toEqual(['tool-call', 'tool-error']);
    }
  });

  it('ends the loop cleanly through the middleware alone: the refused step gets an empty answer', async () => {
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 2 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const model = sdk.model(thrash);
    // No Bounded stopWhen here: only the user's own cap, the middleware and the governed tools.
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({
        model: wrapLanguageModel({ model, middleware: run.middleware }),
        tools: run.tools(tools),
        stopWhen: sdk.ai.stepCountIs(50),
        prompt,
      }),
    );
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    expect(ran.searchCompanies).toBe(2);
    expect(model.doGenerateCalls).toHaveLength(3);
    const last = result!.steps.at(-1)!;
    expect(last.finishReason).toBe('other');
    expect(last.content).toEqual([]);
    expect(bounded.usage.steps).toBe(3);
  });

  it('ends a stream cleanly when the kill switch is thrown mid-stream', async () => {
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor);
    let cancelled = false;
    const model = new sdk.Mock({
      provider: 'mock',
      modelId: 'mock-model',
      doStream: async () => ({
        stream: new ReadableStream({
          start(controller) {
            controller.enqueue({ type: 'stream-start', warnings: [] });
            controller.enqueue({ type: 'text-start', id: 't' });
            controller.enqueue({ type: 'text-delta', id: 't', delta: 'Looking up Acme' });
            // ... and nothing more: a provider that hangs.
          },
          cancel() {
            cancelled = true;
          },
        }),
      }),
    });
    const out = await ai.stream({ agent: AGENT }, run => streamText({ ...run.settings({ model }), prompt }));
    setTimeout(() => void governor.kill({ scope: 'agent', agent: AGENT }, { by: 'oncall', reason: 'runaway' }), 10);
    let text = '';
    for await (const delta of out.result!.textStream) text += delta;
    expect(text).toBe('Looking up Acme');
    expect(await out.bounded).toMatchObject({ status: 'stopped', stopReason: 'killed' });
    expect(await out.result!.finishReason).toBe('other');
    expect(cancelled).toBe(true);
  });

  it('ends a generate call cleanly when the kill switch is thrown while the model hangs', async () => {
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor);
    let aborted = false;
    const model = sdk.model([done]);
    model.doGenerate = options =>
      new Promise((_resolve, reject) => {
        model.doGenerateCalls.push(options);
        options.abortSignal?.addEventListener('abort', () => {
          aborted = true;
          reject(options.abortSignal!.reason);
        });
      });
    setTimeout(() => void governor.kill({ scope: 'global' }), 10);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model }), prompt }),
    );
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'killed' });
    expect(aborted).toBe(true);
    expect(result!.finishReason).toBe('other');
  });

  it('keeps the answer whose tokens spend the budget: it was paid for', async () => {
    const governor = createGovernor({ policy: { budgets: { max_output_tokens: 8 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools } = leadTools(sdk);
    const model = sdk.model([thrash(0), { text: 'Acme: 240 employees.', usage: { input: 10, output: 20 } }]);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, tools }), prompt }),
    );
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'max_output_tokens' });
    expect(result!.text).toBe('Acme: 240 employees.');
  });

  it('returns at the kill even from a provider that ignores its abort signal and never answers', async () => {
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor);
    const model = sdk.model([done]);
    model.doGenerate = () => new Promise(() => undefined);
    setTimeout(() => void governor.kill({ scope: 'agent', agent: AGENT }), 10);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model }), prompt }),
    );
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'killed' });
    expect(result!.text).toBe('');
  });

  it('records every model call’s tokens and cost, as the SDK counts them', async () => {
    const usageEvents: BoundedEvent[] = [];
    const governor = createGovernor({
      policy: { pricing: { models: { 'mock-model': { input_per_1m: 2.5, output_per_1m: 10 } } } },
      observers: [{ onEvent: e => void (e.type === 'usage' && usageEvents.push(e)) }],
    });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools } = leadTools(sdk);
    const model = sdk.model([
      { calls: [['searchCompanies', { q: 'acme' }]], usage: { input: 1200, output: 40 } },
      { text: 'done', usage: { input: 1500, output: 90 } },
    ]);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, tools }), prompt }),
    );
    const r = result!;
    // ai@7's `usage` is the sum over steps; ai@6 calls that `totalUsage` (its `usage` is the last step's).
    const total = sdk.major === 7 ? r.usage : (r as unknown as { totalUsage: typeof r.usage }).totalUsage;
    expect(bounded.usage).toMatchObject({
      steps: 2,
      toolCalls: 1,
      inputTokens: total.inputTokens,
      outputTokens: total.outputTokens,
      costUsd: (2700 * 2.5 + 130 * 10) / 1e6,
    });
    // The model and who serves it, for telemetry's gen_ai.request.model and gen_ai.provider.name.
    expect(usageEvents).toMatchObject([
      { model: 'mock-model', provider: 'mock', inputTokens: 1200 },
      { model: 'mock-model', provider: 'mock', inputTokens: 1500 },
    ]);
  });

  it("has the stop reason when the stream finishes, in the SDK's own onFinish too", async () => {
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 2 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const model = sdk.model(thrash);
    let seenInOnFinish: string | undefined;
    const out = await ai.stream({ agent: AGENT }, run =>
      streamText({
        ...run.settings({ model, tools }),
        prompt,
        onFinish: () => {
          seenInOnFinish = run.stopped?.reason;
        },
      }),
    );
    const parts: string[] = [];
    for await (const part of out.result!.fullStream) parts.push(part.type);
    expect(parts).not.toContain('error');
    expect(parts.at(-1)).toBe('finish');
    expect(seenInOnFinish).toBe('max_tool_calls');
    expect(await out.bounded).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    expect(ran.searchCompanies).toBe(2);
  });

  it('counts streamed usage from the finish part', async () => {
    const usageEvents: BoundedEvent[] = [];
    const governor = createGovernor({
      policy: {},
      observers: [{ onEvent: e => void (e.type === 'usage' && usageEvents.push(e)) }],
    });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools } = leadTools(sdk);
    const model = sdk.model([{ calls: [['searchCompanies', { q: 'acme' }]], usage: { input: 7, output: 3 } }, done]);
    const out = await ai.stream({ agent: AGENT }, run => streamText({ ...run.settings({ model, tools }), prompt }));
    await out.result!.consumeStream();
    expect((await out.bounded).usage).toMatchObject({ steps: 2, inputTokens: 17, outputTokens: 8 });
    expect(usageEvents).toMatchObject([
      { model: 'mock-model', provider: 'mock', inputTokens: 7 },
      { model: 'mock-model', provider: 'mock' },
    ]);
  });

  it("uses the SDK's own approval flow for writes, across two calls of one run", async () => {
    const events: BoundedEvent[] = [];
    const governor = createGovernor({
      policy: { writes: { tools: ['crm.update'] } },
      approver: sdkApprover(),
      observers: [{ onEvent: e => void events.push(e) }],
    });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES, approvals: 'sdk' });
    const { tools, ran } = leadTools(sdk);
    const model = sdk.model([{ calls: [['updateLead', { id: 'lead_42', plan: 'pro' }]] }, done]);
    const run = await ai.start({ agent: AGENT });
    const messages: Parameters<typeof generateText>[0]['messages'] & object = [{ role: 'user', content: prompt }];
    const first = await run.within(() => generateText({ ...run.settings({ model, tools }), messages }));
    const request = first.content.find(part => part.type === 'tool-approval-request');
    expect(request).toMatchObject({ toolCall: { toolName: 'updateLead' } });
    expect(ran.updateLead).toBe(0);

    // A person approves in the app; the answer goes back as a tool message.
    messages.push(...first.response.messages, {
      role: 'tool',
      content: [{ type: 'tool-approval-response', approvalId: request!.approvalId, approved: true, reason: 'ok' }],
    });
    const second = await run.within(() => generateText({ ...run.settings({ model, tools }), messages }));
    expect(second.text).toBe(done.text);
    expect(ran.updateLead).toBe(1);
    const bounded = await run.end({ output: second.text });
    expect(bounded).toMatchObject({ status: 'ok', usage: { toolCalls: 1, decisions: { approved: 1 } } });
    expect(events.find(e => e.type === 'approval.decided')).toMatchObject({ approved: true, by: 'ai-sdk' });
  });

  it('rejects, through the SDK approver, a write the SDK flow never approved', async () => {
    const governor = createGovernor({ policy: { writes: { tools: ['crm.update'] } }, approver: sdkApprover() });
    // Bounded's own approvals here, so no approval request reaches the SDK and nobody answers one.
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const model = sdk.model([{ calls: [['updateLead', { id: 'lead_42', plan: 'pro' }]] }, done]);
    const { bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, tools }), prompt }),
    );
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'approval_rejected:crm.update' });
    expect(bounded.status === 'stopped' && bounded.detail).toContain('not approved through the AI SDK approval flow');
    expect(ran.updateLead).toBe(0);
  });

  it('reports the writes that ran when one step asks for more calls than the budget has left', async () => {
    for (const stream of [false, true]) {
      const governor = createGovernor({ policy: { budgets: { max_tool_calls: 2 } } });
      const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
      const { tools, ran } = leadTools(sdk);
      const update = (id: string) => ['updateLead', { id, plan: 'pro' }] as const;
      const model = sdk.model([{ calls: [update('A'), update('B'), update('C')] }, done]);
      const settings = (run: AIRun) => run.settings({ model, tools });
      const { result, bounded } = stream
        ? await ai
            .stream({ agent: AGENT }, run => streamText({ ...settings(run), prompt }))
            .then(async out => ({
              result: { steps: await out.result!.steps },
              bounded: await out.bounded,
            }))
        : await ai.run({ agent: AGENT }, run => generateText({ ...settings(run), prompt }));
      expect(ran.updateLead, stream ? 'streamText' : 'generateText').toBe(2);
      expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
      const outcomes = result!.steps[0]!.content.flatMap(part =>
        part.type === 'tool-result' || part.type === 'tool-error' ? [`${part.type}:${part.toolCallId}`] : [],
      );
      expect(outcomes.sort(), stream ? 'streamText' : 'generateText').toEqual([
        'tool-error:call-0-2',
        'tool-result:call-0-0',
        'tool-result:call-0-1',
      ]);
    }
  });

  const rateLimited = (retryAfterMs: number) =>
    new APICallError({
      message: 'rate limited',
      url: 'http://127.0.0.1/v1/chat',
      requestBodyValues: {},
      statusCode: 429,
      responseHeaders: { 'retry-after-ms': String(retryAfterMs) },
      isRetryable: true,
    });

  /** `scripted`, but its first call (generate or stream) is refused with a 429 the SDK retries. */
  const rateLimitedOnce = (scripted: ReturnType<typeof sdk.model>) => {
    let failed = false;
    const once = () => {
      if (failed) return;
      failed = true;
      throw rateLimited(1);
    };
    return new sdk.Mock({
      doGenerate: async options => {
        once();
        return scripted.doGenerate(options);
      },
      doStream: async options => {
        once();
        return scripted.doStream(options);
      },
    });
  };

  it('ends a stream stopped with the provider error when the SDK gives up on it, not ok', async () => {
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools } = leadTools(sdk);
    const scripted = sdk.model([thrash(1), done]);
    const model = new sdk.Mock({
      doStream: async options => {
        if (scripted.doStreamCalls.length === 1) throw new Error('provider 500: overloaded');
        return scripted.doStream(options);
      },
    });
    const out = await ai.stream({ agent: AGENT }, run =>
      streamText({ ...run.settings({ model, tools }), prompt, maxRetries: 0, onError: () => undefined }),
    );
    await out.result!.consumeStream();
    await expect(out.bounded).resolves.toMatchObject({
      status: 'stopped',
      stopReason: 'error',
      detail: expect.stringContaining('provider 500: overloaded'),
    });
    expect(governor.stats().runsActive).toBe(0);
  });

  it('returns at the kill switch even while the SDK waits to retry a rate-limited call', async () => {
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor);
    const model = new sdk.Mock({
      doGenerate: async () => {
        throw rateLimited(10_000);
      },
    });
    setTimeout(() => void governor.kill({ scope: 'agent', agent: AGENT }), 30);
    const started = performance.now();
    const { bounded } = await ai.run({ agent: AGENT }, run => generateText({ ...run.settings({ model }), prompt }));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'killed' });
    await governor.revive({ scope: 'agent', agent: AGENT });
  });

  it("counts the caller's abort through the SDK's abortSignal as killed", async () => {
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor);
    const controller = new AbortController();
    const model = sdk.model([done]);
    model.doGenerate = options =>
      new Promise((_resolve, reject) => {
        options.abortSignal?.addEventListener('abort', () => reject(options.abortSignal!.reason));
      });
    setTimeout(() => controller.abort(), 10);
    const { bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, abortSignal: controller.signal }), prompt }),
    );
    expect(bounded).toMatchObject({
      status: 'stopped',
      stopReason: 'killed',
      detail: expect.stringContaining('caller'),
    });
  });

  it('does not spend a step on a call the SDK retries', async () => {
    const governor = createGovernor({ policy: { budgets: { max_steps: 3 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools } = leadTools(sdk);
    const scripted = sdk.model([thrash(1), thrash(2), done]);
    const model = rateLimitedOnce(scripted);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, tools, stopWhen: sdk.ai.stepCountIs(5) }), prompt }),
    );
    expect(bounded).toMatchObject({ status: 'ok', usage: { steps: 3 } });
    expect(result!.text).toBe(done.text);
  });

  it('counts the next model call after one that failed for good as a step: only a retry of it is free', async () => {
    const governor = createGovernor({ policy: { budgets: { max_steps: 3 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools } = leadTools(sdk);
    const broken = new sdk.Mock({
      doGenerate: async () => {
        throw new Error('provider 400: bad request');
      },
    });
    const scripted = sdk.model([thrash(1), thrash(2), thrash(3), done]);
    const run = await ai.start({ agent: AGENT });
    await expect(
      run.within(() => generateText({ ...run.settings({ model: broken }), prompt, maxRetries: 0 })),
    ).rejects.toThrow('provider 400');
    // The same run goes on with a new request, the same words: two more steps fit max_steps 3, not three.
    await run.within(() =>
      generateText({ ...run.settings({ model: scripted, tools, stopWhen: sdk.ai.stepCountIs(5) }), prompt }),
    );
    const bounded = await run.end();
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'max_steps', usage: { steps: 3 } });
    expect(scripted.doGenerateCalls).toHaveLength(2);
  });

  it("does not spend a step on the SDK's retry of a stream either (ai@7 sends new messages arrays)", async () => {
    const governor = createGovernor({ policy: { budgets: { max_steps: 1 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const scripted = sdk.model([done]);
    const model = rateLimitedOnce(scripted);
    const out = await ai.stream({ agent: AGENT }, run =>
      streamText({ ...run.settings({ model }), prompt, maxRetries: 2 }),
    );
    expect(await out.result!.text).toBe(done.text);
    expect(await out.bounded).toMatchObject({ status: 'ok', usage: { steps: 1 } });
  });

  // `streamRetries` (retrying after the stream has started) exists only in ai@7.
  it.skipIf(sdk.major !== 7)("does not spend a step on ai@7's retry of a stream that failed midway", async () => {
    const governor = createGovernor({ policy: { budgets: { max_steps: 1 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const scripted = sdk.model([done]);
    let calls = 0;
    const model = new sdk.Mock({
      doStream: async options => {
        if (calls++ > 0) return scripted.doStream(options);
        return {
          stream: new ReadableStream({
            start(controller) {
              controller.enqueue({ type: 'stream-start', warnings: [] });
              // As providers report it: a plain object, not marked retryable. ai@7 retries it all the same.
              controller.enqueue({ type: 'error', error: { message: 'server_error' } });
              controller.close();
            },
          }),
        } as never;
      },
    });
    const out = await ai.stream({ agent: AGENT }, run =>
      streamText({
        ...run.settings({ model }),
        prompt,
        streamRetries: 1,
        onError: () => undefined,
      } as Parameters<typeof streamText>[0]),
    );
    expect(await out.result!.text).toBe(done.text);
    expect(calls).toBe(2);
    expect(await out.bounded).toMatchObject({ status: 'ok', usage: { steps: 1 } });
  });

  it('still spends steps on an application that retries one failing prompt in a loop', async () => {
    const governor = createGovernor({ policy: { budgets: { max_steps: 3 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    let generateCalls = 0;
    let streamCalls = 0;
    const broken = new sdk.Mock({
      doGenerate: async () => {
        generateCalls++;
        throw new Error('provider 400: bad request');
      },
      doStream: async () => {
        streamCalls++;
        throw rateLimited(1);
      },
    });
    const loop = async (call: (run: AIRun) => PromiseLike<unknown>) => {
      const run = await ai.start({ agent: AGENT });
      for (let attempt = 0; attempt < 20; attempt++) await Promise.resolve(call(run)).catch(() => undefined);
      return run.end();
    };
    // Errors the SDK does not retry: every attempt is a step.
    const generated = await loop(run =>
      run.within(() => generateText({ ...run.settings({ model: broken }), prompt, maxRetries: 0 })),
    );
    expect(generated).toMatchObject({ status: 'stopped', stopReason: 'max_steps' });
    expect(generateCalls).toBe(3);
    // A rate-limited stream, retried by the application itself: on ai@7, whose own retries send new arrays of the
    // same messages, eight attempts pass for such retries, then the budget holds; ai@6 tells retries by the array.
    const streamed = await loop(run =>
      run.within(() =>
        streamText({
          ...run.settings({ model: broken }),
          prompt,
          maxRetries: 0,
          onError: () => undefined,
        }).consumeStream(),
      ),
    );
    expect(streamed).toMatchObject({ status: 'stopped', stopReason: 'max_steps' });
    expect(streamCalls).toBe(sdk.major === 7 ? 1 + 8 + 2 : 3);
  });

  it("governs a parent run's tools again in a child run, under the child's budgets", async () => {
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const parent = await ai.start({ agent: 'parent' });
    const model = sdk.model(thrash);
    const { bounded } = await ai.run({ agent: 'child', budgets: { max_tool_calls: 1 } }, run =>
      generateText({ ...run.settings({ model, tools: parent.tools(tools), stopWhen: sdk.ai.stepCountIs(5) }), prompt }),
    );
    await parent.end();
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls', usage: { toolCalls: 1 } });
    expect(ran.searchCompanies).toBe(1);
  });

  it('runs a retried write once: the second call gets the recorded result', async () => {
    const governor = createGovernor({
      policy: { writes: { tools: ['crm.update'] } },
      approver: callbackApprover(() => true),
    });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const write = { calls: [['updateLead', { id: 'lead_42', plan: 'pro' }]] as const };
    const model = sdk.model([write, write, done]);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, tools }), prompt }),
    );
    expect(ran.updateLead).toBe(1);
    expect(bounded).toMatchObject({ status: 'ok', usage: { decisions: { dedup: 1, approved: 1 } } });
    const outputs = result!.steps.flatMap(step => step.toolResults.map(r => r.output));
    expect(outputs).toEqual([
      { id: 'lead_42', plan: 'pro', updated: true },
      { id: 'lead_42', plan: 'pro', updated: true },
    ]);
  });

  it("keeps the user's own stopWhen and toolApproval beside Bounded's", async () => {
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const model = sdk.model(thrash);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({
        ...run.settings({
          model,
          tools,
          stopWhen: sdk.ai.stepCountIs(2),
          toolApproval: { searchCompanies: { type: 'denied', reason: 'searching is paused' } },
        }),
        prompt,
      }),
    );
    expect(bounded.status).toBe('ok');
    expect(result!.steps).toHaveLength(2);
    // ai@6 has no toolApproval: the user's denial only applies on ai@7.
    expect(ran.searchCompanies).toBe(sdk.major === 7 ? 0 : 2);
  });

  it('passes a streaming tool’s preliminary results through, and runs it once', async () => {
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor);
    let ran = 0;
    const progress = sdk.ai.tool({
      inputSchema: z.object({ q: z.string() }),
      async *execute({ q }) {
        ran++;
        yield { status: 'searching', q };
        yield { status: 'done', hits: 3 };
      },
    });
    const model = sdk.model([{ calls: [['progress', { q: 'acme' }]] }, done]);
    const seen: unknown[] = [];
    const out = await ai.stream({ agent: AGENT }, run =>
      streamText({ ...run.settings({ model, tools: { progress } }), prompt }),
    );
    for await (const part of out.result!.fullStream) if (part.type === 'tool-result') seen.push(part.output);
    expect(ran).toBe(1);
    expect(seen.at(-1)).toEqual({ status: 'done', hits: 3 });
    expect(await out.bounded).toMatchObject({ status: 'ok', usage: { toolCalls: 1 } });
  });

  it('does not call the model when the run is refused at its start', async () => {
    const governor = createGovernor({ policy: {} });
    await governor.kill({ scope: 'agent', agent: AGENT });
    const ai = boundedAI(governor);
    const model = sdk.model([done]);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model }), prompt }),
    );
    expect(result).toBeUndefined();
    expect(bounded).toMatchObject({ status: 'stopped', stopReason: 'killed' });
    expect(model.doGenerateCalls).toHaveLength(0);
  });

  it('lets refused calls run in shadow mode and says what would have stopped the run', async () => {
    const governor = createGovernor({ policy: { enforcement: 'shadow', tools: { allow: ['search.*'] } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const model = sdk.model([{ calls: [['deleteLead', { id: '42' }]] }, done]);
    const { bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, tools }), prompt }),
    );
    expect(ran.deleteLead).toBe(1);
    expect(bounded).toMatchObject({ status: 'ok', wouldHaveStopped: { reason: 'tool_denied:crm.delete' } });
  });

  it('counts a step once in shadow mode when stopWhen finds the step budget spent', async () => {
    const governor = createGovernor({ policy: { enforcement: 'shadow', budgets: { max_steps: 2 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools } = leadTools(sdk);
    const model = sdk.model([thrash(0), thrash(1), thrash(2), done]);
    const { bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, tools }), prompt }),
    );
    expect(bounded).toMatchObject({ status: 'ok', usage: { steps: 4 }, wouldHaveStopped: { reason: 'max_steps' } });
    expect(model.doGenerateCalls).toHaveLength(4);
  });

  it("counts as many steps as model calls in shadow mode when the user's own stopWhen ends the loop", async () => {
    const governor = createGovernor({ policy: { enforcement: 'shadow', budgets: { max_steps: 2 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools } = leadTools(sdk);
    const model = sdk.model(thrash);
    const { bounded } = await ai.run({ agent: AGENT }, run =>
      generateText({ ...run.settings({ model, tools, stopWhen: sdk.ai.stepCountIs(3) }), prompt }),
    );
    expect(model.doGenerateCalls).toHaveLength(3);
    expect(bounded).toMatchObject({ status: 'ok', usage: { steps: 3 }, wouldHaveStopped: { reason: 'max_steps' } });
  });

  it('keeps separate budgets for runs in parallel', async () => {
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 2 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const results = await Promise.all(
      [1, 2, 3].map(async () => {
        const { tools, ran } = leadTools(sdk);
        const model = sdk.model(thrash);
        const { bounded } = await ai.run({ agent: AGENT }, run =>
          generateText({ ...run.settings({ model, tools }), prompt }),
        );
        return { stop: bounded.status === 'stopped' && bounded.stopReason, ran: ran.searchCompanies };
      }),
    );
    expect(results).toEqual([1, 2, 3].map(() => ({ stop: 'max_tool_calls', ran: 2 })));
  });

  it('governs a ToolLoopAgent stream', async () => {
    const governor = createGovernor({ policy: { budgets: { max_tool_calls: 1 } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const model = sdk.model(thrash);
    const out = await ai.stream({ agent: AGENT }, run =>
      new ToolLoopAgent({ ...run.settings({ model, tools }) }).stream({ prompt }),
    );
    await out.result!.consumeStream();
    expect(await out.bounded).toMatchObject({ status: 'stopped', stopReason: 'max_tool_calls' });
    expect(ran.searchCompanies).toBe(1);
  });
});

describe('misuse', () => {
  it('says to use ai.stream() when ai.run() is given a stream result, and leaves nothing unhandled', async () => {
    const sdk = SDKS[0]!;
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const model = new sdk.Mock({
        doStream: async () => {
          throw new Error('provider down');
        },
      });
      await expect(
        ai.run({ agent: AGENT }, run => sdk.ai.streamText({ ...run.settings({ model }), prompt })),
      ).rejects.toThrow('use ai.stream() for streams');
      await new Promise(resolve => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(governor.stats().runsActive).toBe(0);
  });

  it('applies deny rules to tools the application runs itself (no execute), through toolApproval on ai@7', async () => {
    const sdk = SDKS[0]!;
    const governor = createGovernor({ policy: { tools: { allow: ['search.*'], on_refusal: 'continue' } } });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const clientSide = {
      deleteLead: sdk.ai.tool({ description: 'Delete a lead', inputSchema: z.object({ id: z.string() }) }),
    };
    const model = sdk.model([{ calls: [['deleteLead', { id: '42' }]] }, { text: 'done' }]);
    const { result, bounded } = await ai.run({ agent: AGENT }, run =>
      sdk.ai.generateText({ ...run.settings({ model, tools: clientSide }), prompt }),
    );
    expect(bounded).toMatchObject({ status: 'ok', usage: { decisions: { deny: 1 } } });
    expect(result!.steps[0]!.content.map(part => part.type)).toEqual([
      'tool-call',
      'tool-approval-request',
      'tool-approval-response',
    ]);
  });

  it('says what to pass', async () => {
    expect(() => boundedAI(undefined as never)).toThrow(UsageError);
    expect(() => boundedAI(createGovernor({ policy: {} }), { approvals: 'human' as never })).toThrow(/approvals must/);
    const run = await boundedAI(createGovernor({ policy: {} })).start({ agent: AGENT });
    expect(() => run.model('openai/gpt-4o-mini' as never)).toThrow(/model object/);
    expect(() => run.settings({ model: 'openai/gpt-4o-mini' as never })).toThrow(/model object/);
    await run.end();
    await expect(boundedAI(createGovernor({ policy: {} })).run({ agent: AGENT }, 'x' as never)).rejects.toThrow(
      UsageError,
    );
  });

  it("takes run.model()'s model spread, behind a proxy, or with its methods taken off it, as a provider's", async () => {
    for (const sdk of SDKS) {
      const governor = createGovernor({ policy: {} });
      const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
      const { tools, ran } = leadTools(sdk);
      const base = sdk.model([{ calls: [['searchCompanies', { q: 'acme' }]] }, done]);
      const { bounded } = await ai.run({ agent: AGENT }, run => {
        const governed = run.model(base);
        const { doGenerate, doStream } = governed;
        const model = new Proxy({ ...governed, doGenerate, doStream }, { get: (t, p, r) => Reflect.get(t, p, r) });
        expect(model.supportedUrls).toEqual(base.supportedUrls);
        return sdk.ai.generateText({ ...run.settings({ tools, stopWhen: sdk.ai.stepCountIs(5) }), model, prompt });
      });
      expect(ran.searchCompanies, sdk.name).toBe(1);
      // Governed through the copy: the model calls were steps of the run, their tokens its usage.
      expect(bounded, sdk.name).toMatchObject({ status: 'ok', usage: { steps: 2, toolCalls: 1 } });
      expect(bounded.usage.inputTokens, sdk.name).toBeGreaterThan(0);
    }
  });

  it('does not govern a tool twice when its tools are wrapped again', async () => {
    const sdk = SDKS[0]!;
    const governor = createGovernor({ policy: {} });
    const ai = boundedAI(governor, { toolNames: TOOL_NAMES });
    const { tools, ran } = leadTools(sdk);
    const model = sdk.model([{ calls: [['searchCompanies', { q: 'acme' }]] }, done]);
    const { bounded } = await ai.run({ agent: AGENT }, run =>
      sdk.ai.generateText({ ...run.settings({ model, tools: run.tools(tools) }), prompt }),
    );
    expect(ran.searchCompanies).toBe(1);
    expect(bounded.usage.toolCalls).toBe(1);
  });
});
