/**
 * What boundedMiddleware costs per agent step, beside a plain createAgent and beside LangChain's own two limit
 * middlewares (toolCallLimitMiddleware + modelCallLimitMiddleware), all in this process, in interleaved rounds.
 * A step is one model call and the tool call it asks for. Target: Bounded adds at most 10% over plain.
 */
import { createGovernor } from '@bounded/core';
import { boundedMiddleware } from '@bounded/langchain';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { BaseMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import {
  AIMessage,
  type AnyAgentMiddleware,
  createAgent,
  HumanMessage,
  modelCallLimitMiddleware,
  ToolMessage,
  tool,
  toolCallLimitMiddleware,
} from 'langchain';
import { z } from 'zod';
import { type BenchCase, type BenchResult, environment, formatNs, printTable } from './harness.js';

const STEPS = 10;
/** One invocation per sample, the cases alternating: load that comes and goes on a shared machine hits all alike. */
const INVOCATIONS_PER_BATCH = 1;

/**
 * A model that asks for a tool until the conversation holds STEPS tool results, then answers; every response
 * reports usage, as a provider's does. It keeps no state, so one agent serves every invocation.
 */
class StepModel extends BaseChatModel {
  _llmType(): string {
    return 'bench-steps';
  }

  override bindTools(): this {
    return this;
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    let done = 0;
    for (const message of messages) if (ToolMessage.isInstance(message)) done++;
    const usage_metadata = { input_tokens: 200 + done * 40, output_tokens: 20, total_tokens: 220 + done * 40 };
    const message =
      done < STEPS
        ? new AIMessage({
            content: '',
            tool_calls: [{ name: 'search', args: { q: `query ${done}` }, id: `call_${done}`, type: 'tool_call' }],
            usage_metadata,
          })
        : new AIMessage({ content: 'done', usage_metadata });
    return { generations: [{ text: '', message }] };
  }
}

const search = tool(async ({ q }) => `results for ${q}`, {
  name: 'search',
  description: 'search',
  schema: z.object({ q: z.string() }),
});

const governor = createGovernor({
  policy: {
    budgets: { max_steps: 1_000, max_tool_calls: 1_000, max_seconds: 3_600, max_tokens: 10_000_000 },
    tools: { allow: ['search'] },
  },
});

function agentCase(name: string, middleware: () => AnyAgentMiddleware[]): BenchCase {
  const agent = createAgent({ model: new StepModel({}), tools: [search], middleware: middleware() });
  return {
    name,
    async run(iterations: number) {
      for (let steps = 0; steps < iterations; steps += STEPS) {
        const state = await agent.invoke({ messages: [new HumanMessage('go')] }, { recursionLimit: 100 });
        if (state.messages.length !== 2 + STEPS * 2) throw new Error(`${name}: the agent did not run ${STEPS} steps`);
      }
    },
  };
}

interface Measured {
  readonly wall: BenchResult;
  readonly cpu: BenchResult;
  /** CPU time per round, in round order: cases that ran in the same round ran side by side. */
  readonly rounds: readonly number[];
}

/**
 * The harness's interleaved, rotating rounds, timing each batch twice: wall clock, and this process's CPU time.
 * The cases are CPU-bound (no I/O), so CPU time is what they cost; it also shifts far less than the wall clock
 * when other work shares the machine.
 */
async function measure(cases: readonly BenchCase[], rounds: number, iterations: number): Promise<Measured[]> {
  for (const bench of cases) await bench.run(iterations * 40);
  const wall = new Map<string, number[]>(cases.map(c => [c.name, []]));
  const cpu = new Map<string, number[]>(cases.map(c => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const bench = cases[(round + i) % cases.length]!;
      const startedCpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      await bench.run(iterations);
      const elapsed = Number(process.hrtime.bigint() - started);
      const used = process.cpuUsage(startedCpu);
      wall.get(bench.name)!.push(elapsed / iterations);
      cpu.get(bench.name)!.push(((used.user + used.system) * 1000) / iterations);
    }
  }
  const summary = (name: string, samples: number[]): BenchResult => {
    const sorted = [...samples].sort((a, b) => a - b);
    return {
      name,
      ns: sorted[Math.floor(sorted.length / 2)]!,
      minNs: sorted[0]!,
      maxNs: sorted.at(-1)!,
      rounds: sorted.length,
      perRound: samples,
    };
  };
  return cases.map(c => ({
    wall: summary(c.name, wall.get(c.name)!),
    cpu: summary(c.name, cpu.get(c.name)!),
    rounds: cpu.get(c.name)!,
  }));
}

/**
 * The median over rounds of `of / base` within each round: the two ran moments apart, so load that drifts over the
 * run (other processes on a shared machine) cancels out of each ratio.
 */
function pairedRatio(of: Measured, base: Measured): number {
  const ratios = of.rounds.map((value, index) => value / base.rounds[index]!).sort((a, b) => a - b);
  return ratios[Math.floor(ratios.length / 2)]!;
}

const ROUNDS = 401;

async function main() {
  console.log(`Bounded LangChain middleware benchmark (${environment()})`);
  const plain = agentCase('plain createAgent', () => []);
  const bounded = agentCase('with boundedMiddleware', () => [boundedMiddleware(governor, { agent: 'bench' })]);
  const limits = agentCase('with LangChain call limits', () => [
    toolCallLimitMiddleware({ runLimit: 1_000 }),
    modelCallLimitMiddleware({ runLimit: 1_000 }),
  ]);
  const measured = await measure([plain, bounded, limits], ROUNDS, STEPS * INVOCATIONS_PER_BATCH);
  const what = `median of ${ROUNDS} interleaved rounds, each one invocation of ${STEPS} steps per case`;
  printTable(
    `Per agent step (model call + tool call), CPU time; ${what}`,
    measured.map(m => m.cpu),
    'plain createAgent',
  );
  printTable(
    'Per agent step, wall clock',
    measured.map(m => m.wall),
    'plain createAgent',
  );
  const [p, b, l] = measured.map(m => m.cpu) as [BenchResult, BenchResult, BenchResult];
  const [pw, bw] = measured.map(m => m.wall) as [BenchResult, BenchResult];
  const [mp, mb, ml] = measured as [Measured, Measured, Measured];
  const ours = pairedRatio(mb, mp) - 1;
  const theirs = pairedRatio(ml, mp) - 1;
  console.log(
    `\n  boundedMiddleware adds ${pct(ours)} per step (${formatNs(b.ns - p.ns)} CPU; wall clock ${pct(bw.ns / pw.ns - 1)}); ` +
      `LangChain's two limit middlewares add ${pct(theirs)} (${formatNs(l.ns - p.ns)}).` +
      '\n  (percentages: the median of the per-round ratios to plain, CPU time)' +
      `\n  target: boundedMiddleware adds at most 10% over plain: ${ours <= 0.1 ? 'met' : 'MISSED'}.`,
  );
  if (governor.stats().runsActive !== 0) throw new Error('a governed run was left open');
}

function pct(ratio: number): string {
  return `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
}

await main();
