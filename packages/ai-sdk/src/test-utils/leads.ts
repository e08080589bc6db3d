/** Lead-enrichment tools and a driver that runs one scripted model through each SDK entry point. */
import type { Governor, RunOptions, RunResult } from '@bounded/core';
import type { ToolSet } from 'ai';
import { z } from 'zod';
import type { BoundedAI } from '../types.js';
import type { MockModel, Sdk } from './sdks.js';

/** Policy names for the SDK's tool keys (providers refuse dots in tool names). */
export const TOOL_NAMES = {
  searchCompanies: 'search.companies',
  updateLead: 'crm.update',
  deleteLead: 'crm.delete',
  slowLookup: 'search.slow',
  enrichCompany: 'enrich.company',
} as const;

export type ToolKey = keyof typeof TOOL_NAMES;
export type Ran = Record<ToolKey, number>;

/** The tools, each counting how often its body ran: the count a refused call must never move. */
export function leadTools(
  sdk: Sdk,
  options: { killOnLookup?: { governor: Governor; agent: string } } = {},
): { tools: ToolSet; ran: Ran } {
  const { tool } = sdk.ai;
  const ran: Ran = { searchCompanies: 0, updateLead: 0, deleteLead: 0, slowLookup: 0, enrichCompany: 0 };
  const tools = {
    searchCompanies: tool({
      description: 'Search companies by name',
      inputSchema: z.object({ q: z.string(), page: z.number().optional() }),
      execute: async ({ q }) => {
        ran.searchCompanies++;
        return [{ id: 'co_1', name: `${q} Inc.` }];
      },
    }),
    updateLead: tool({
      description: 'Update a lead in the CRM',
      inputSchema: z.object({ id: z.string(), plan: z.string() }),
      execute: async ({ id, plan }) => {
        ran.updateLead++;
        return { id, plan, updated: true };
      },
    }),
    deleteLead: tool({
      description: 'Delete a lead',
      inputSchema: z.object({ id: z.string() }),
      execute: async () => {
        ran.deleteLead++;
        return 'deleted';
      },
    }),
    slowLookup: tool({
      description: 'A lookup that hangs until it is aborted',
      inputSchema: z.object({ q: z.string() }),
      execute: async (_input, { abortSignal }) => {
        ran.slowLookup++;
        const kill = options.killOnLookup;
        // An operator throws the kill switch while the tool hangs.
        if (kill) setTimeout(() => void kill.governor.kill({ scope: 'agent', agent: kill.agent }), 5);
        return new Promise<string>((_resolve, reject) => {
          abortSignal?.addEventListener('abort', () => reject(abortSignal.reason), { once: true });
        });
      },
    }),
    enrichCompany: tool({
      description: 'Enrich a company from a flaky upstream',
      inputSchema: z.object({ id: z.string() }),
      execute: async (): Promise<string> => {
        ran.enrichCompany++;
        throw new Error('upstream 503');
      },
    }),
  };
  return { tools, ran };
}

export type Path = 'generateText' | 'streamText' | 'ToolLoopAgent';
export const PATHS: readonly Path[] = ['generateText', 'streamText', 'ToolLoopAgent'];

export interface Driven {
  readonly bounded: RunResult<unknown>;
  readonly result: unknown;
  /** Text the caller read (for streams: from `textStream`, which must end without throwing). */
  readonly text: string | undefined;
}

/** Runs one governed call through `path`; nothing but the model and the tools differs between paths. */
export async function drive(
  sdk: Sdk,
  path: Path,
  ai: BoundedAI,
  runOptions: RunOptions,
  model: MockModel,
  tools: ToolSet,
): Promise<Driven> {
  const { generateText, streamText, ToolLoopAgent } = sdk.ai;
  const prompt = 'Enrich lead 42 (Acme).';
  switch (path) {
    case 'generateText': {
      const out = await ai.run(runOptions, run => generateText({ ...run.settings({ model, tools }), prompt }));
      return { ...out, text: out.result?.text };
    }
    case 'streamText': {
      const out = await ai.stream(runOptions, run =>
        streamText({ ...run.settings({ model, tools }), prompt, onError: () => undefined }),
      );
      let text: string | undefined;
      if (out.result) {
        text = '';
        for await (const delta of out.result.textStream) text += delta;
      }
      return { result: out.result, bounded: await out.bounded, text };
    }
    case 'ToolLoopAgent': {
      const out = await ai.run(runOptions, run =>
        new ToolLoopAgent({ ...run.settings({ model, tools }), instructions: 'You enrich leads.' }).generate({
          prompt,
        }),
      );
      return { ...out, text: out.result?.text };
    }
  }
}
