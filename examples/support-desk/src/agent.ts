import type { Run } from '@bounded/core';
import type { Tools, World } from './world.js';

/** One turn of the scripted model: the tokens it spent and what it decided. */
export interface ModelTurn {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly action: ToolAction | { readonly answer: string };
}

export interface ToolAction {
  readonly tool: keyof Tools;
  readonly args: Record<string, unknown>;
}

/**
 * A scripted stand-in for an LLM: given the turn number and the last tool result, it decides. The demo's
 * agent runs offline and deterministically, and meets the same gateway a real model would.
 */
export type ScriptedModel = (turn: number, lastResult: unknown) => ModelTurn;

export const MODEL_ID = 'gpt-4o-mini';

/**
 * The agent loop: each turn is a governed step (budgets, deadline, kill switch), the model's tokens are recorded,
 * and every tool call goes through the gateway. Nothing here knows about budgets: the run enforces them.
 */
export async function runAgent(run: Run, world: World, model: ScriptedModel): Promise<string> {
  let lastResult: unknown;
  for (let turn = 1; ; turn++) {
    await run.step({ name: `model turn ${turn}` });
    const decision = model(turn, lastResult);
    run.usage({ inputTokens: decision.inputTokens, outputTokens: decision.outputTokens, model: MODEL_ID });
    const action = decision.action;
    if ('answer' in action) return action.answer;
    const execute = world.tools[action.tool] as (
      args: unknown,
      ctx: Parameters<Tools['http.get']>[1],
    ) => Promise<unknown>;
    lastResult = await run.tool(action.tool, action.args, execute, { callId: `call_${turn}` });
  }
}

/** A script from a list of turns; turns past the end repeat the last one (how a stuck model behaves). */
export function script(...turns: Array<ModelTurn | ((turn: number, lastResult: unknown) => ModelTurn)>): ScriptedModel {
  return (turn, lastResult) => {
    const entry = turns[Math.min(turn, turns.length) - 1]!;
    return typeof entry === 'function' ? entry(turn, lastResult) : entry;
  };
}

export function call(tool: keyof Tools, args: Record<string, unknown>, tokens = { input: 850, output: 45 }): ModelTurn {
  return { inputTokens: tokens.input, outputTokens: tokens.output, action: { tool, args } };
}

export function answer(text: string, tokens = { input: 1200, output: 120 }): ModelTurn {
  return { inputTokens: tokens.input, outputTokens: tokens.output, action: { answer: text } };
}
