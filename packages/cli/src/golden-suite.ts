import { dirname, resolve } from 'node:path';
import { type Budgets, didYouMean, type Policy, type PolicyInput, type PolicyIssue } from '@bounded/core';
import { readPolicyFile } from './policy-file.js';
import { describeValue, IssueList, isRecord, readYamlFile } from './yaml-file.js';

/** How much a candidate may drift from the baseline before `golden run` and `canary report` fail. */
export interface Thresholds {
  /** Share of runs whose stop reason moved (total variation distance of the two distributions), 0 to 1. */
  readonly stopReasons: number;
  /** Relative increase of the mean tool calls per run (0.25: 25% more). */
  readonly toolCallsPerRun: number;
  /** Relative increase of the mean tokens per run. */
  readonly tokensPerRun: number;
  /** Relative increase of the p95 run latency... */
  readonly latencyP95: number;
  /** ...that counts only when the p95 also grew by more than this many milliseconds. */
  readonly latencyP95MinMs: number;
  /** Drop of the share of answer checks passed, 0 to 1. */
  readonly answerChecks: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  stopReasons: 0.1,
  toolCallsPerRun: 0.25,
  tokensPerRun: 0.25,
  latencyP95: 0.5,
  latencyP95MinMs: 50,
  answerChecks: 0,
};

const THRESHOLD_KEYS: Readonly<Record<string, keyof Thresholds>> = {
  stop_reasons: 'stopReasons',
  tool_calls_per_run: 'toolCallsPerRun',
  tokens_per_run: 'tokensPerRun',
  latency_p95: 'latencyP95',
  latency_p95_min_ms: 'latencyP95MinMs',
  answer_checks: 'answerChecks',
};

/** An answer check: the run's output (as text, JSON for objects) contains, equals or matches. */
export type AnswerCheck =
  | { readonly contains: string }
  | { readonly equals: string }
  | { readonly matches: string; readonly regexp: RegExp };

export interface GoldenExpect {
  /** `ok`, `stopped`, or a stop reason the run must end with. */
  readonly status: string | undefined;
  /** The tools the gateway let through, in order. */
  readonly toolPath: readonly string[] | undefined;
  readonly answer: readonly AnswerCheck[];
  /** Applied to the run (each is the stricter of these and the policy's), and checked after. */
  readonly budgets: Budgets | undefined;
}

export interface GoldenTask {
  readonly id: string;
  readonly input: unknown;
  readonly expect: GoldenExpect;
}

export interface GoldenSuite {
  readonly file: string;
  readonly name: string;
  /** The agent name the runs get. */
  readonly agent: string;
  readonly runs: number;
  readonly thresholds: Thresholds;
  readonly tasks: readonly GoldenTask[];
}

export type LoadResult<T> =
  | { readonly status: 'ok'; readonly value: T }
  | { readonly status: 'invalid'; readonly file: string; readonly issues: readonly PolicyIssue[] }
  | { readonly status: 'unreadable'; readonly file: string; readonly message: string };

const SUITE_KEYS = ['name', 'agent', 'runs', 'thresholds', 'tasks'];
const TASK_KEYS = ['id', 'input', 'expect'];
const EXPECT_KEYS = ['status', 'tool_path', 'answer', 'budgets'];
const BUDGET_KEYS = [
  'max_steps',
  'max_tool_calls',
  'max_seconds',
  'max_tokens',
  'max_input_tokens',
  'max_output_tokens',
  'max_usd',
];

/** Reads and checks a golden suite; every problem is listed with its key path and line. */
export async function loadGoldenSuite(file: string): Promise<LoadResult<GoldenSuite>> {
  const read = await readYamlFile(file);
  if (read.status !== 'ok') return read;
  const issues = new IssueList(read.locate);
  const doc = read.value;
  if (!isRecord(doc)) {
    issues.add([], `a golden suite is a mapping with tasks, got ${describeValue(doc)}`);
    return { status: 'invalid', file, issues: issues.issues };
  }
  issues.keys([], doc, SUITE_KEYS, key => didYouMean(key, SUITE_KEYS));
  const name = typeof doc.name === 'string' && doc.name ? doc.name : undefined;
  if (doc.name !== undefined && !name)
    issues.add(['name'], `expected a non-empty string, got ${describeValue(doc.name)}`);
  const agent = doc.agent === undefined ? undefined : typeof doc.agent === 'string' && doc.agent ? doc.agent : null;
  if (agent === null) issues.add(['agent'], `expected a non-empty string, got ${describeValue(doc.agent)}`);
  let runs = 5;
  if (doc.runs !== undefined) {
    if (typeof doc.runs === 'number' && Number.isInteger(doc.runs) && doc.runs > 0) runs = doc.runs;
    else issues.add(['runs'], `expected a whole number above 0, got ${describeValue(doc.runs)}`);
  }
  const thresholds = readThresholds(doc.thresholds, ['thresholds'], issues);
  const tasks: GoldenTask[] = [];
  if (!Array.isArray(doc.tasks) || doc.tasks.length === 0) {
    issues.add(['tasks'], `expected a non-empty list of tasks, got ${describeValue(doc.tasks)}`);
  } else {
    const ids = new Set<string>();
    doc.tasks.forEach((task: unknown, i: number) => {
      const at = ['tasks', i];
      if (!isRecord(task)) {
        issues.add(at, `expected a task ({ id, input, expect }), got ${describeValue(task)}`);
        return;
      }
      issues.keys(at, task, TASK_KEYS, key => didYouMean(key, TASK_KEYS));
      if (typeof task.id !== 'string' || task.id === '') {
        issues.add([...at, 'id'], `expected a non-empty string, got ${describeValue(task.id)}`);
        return;
      }
      if (ids.has(task.id)) issues.add([...at, 'id'], `task id "${task.id}" is used twice`);
      ids.add(task.id);
      tasks.push({
        id: task.id,
        input: task.input ?? null,
        expect: readExpect(task.expect, [...at, 'expect'], issues),
      });
    });
  }
  if (issues.issues.length > 0) return { status: 'invalid', file, issues: issues.issues };
  const suiteName = name ?? 'golden';
  return {
    status: 'ok',
    value: { file, name: suiteName, agent: agent ?? suiteName, runs, thresholds, tasks },
  };
}

export function readThresholds(value: unknown, path: (string | number)[], issues: IssueList): Thresholds {
  const thresholds: { -readonly [K in keyof Thresholds]: number } = { ...DEFAULT_THRESHOLDS };
  if (value === undefined) return thresholds;
  if (!isRecord(value)) {
    issues.add(path, `expected a mapping of thresholds, got ${describeValue(value)}`);
    return thresholds;
  }
  const known = Object.keys(THRESHOLD_KEYS);
  issues.keys(path, value, known, key => didYouMean(key, known));
  for (const [key, field] of Object.entries(THRESHOLD_KEYS)) {
    const v = value[key];
    if (v === undefined) continue;
    const share = field === 'stopReasons' || field === 'answerChecks';
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (share && v > 1)) {
      issues.add([...path, key], `expected a number ${share ? 'from 0 to 1' : '0 or more'}, got ${describeValue(v)}`);
      continue;
    }
    thresholds[field] = v;
  }
  return thresholds;
}

function readExpect(value: unknown, path: (string | number)[], issues: IssueList): GoldenExpect {
  const empty: GoldenExpect = { status: undefined, toolPath: undefined, answer: [], budgets: undefined };
  if (value === undefined) return empty;
  if (!isRecord(value)) {
    issues.add(path, `expected a mapping (status, tool_path, answer, budgets), got ${describeValue(value)}`);
    return empty;
  }
  issues.keys(path, value, EXPECT_KEYS, key => didYouMean(key, EXPECT_KEYS));
  let status: string | undefined;
  if (value.status !== undefined) {
    if (typeof value.status === 'string' && value.status) status = value.status;
    else issues.add([...path, 'status'], `expected ok, stopped or a stop reason, got ${describeValue(value.status)}`);
  }
  let toolPath: string[] | undefined;
  if (value.tool_path !== undefined) {
    if (Array.isArray(value.tool_path) && value.tool_path.every(t => typeof t === 'string' && t))
      toolPath = value.tool_path;
    else issues.add([...path, 'tool_path'], `expected a list of tool names, got ${describeValue(value.tool_path)}`);
  }
  const answer: AnswerCheck[] = [];
  if (value.answer !== undefined) {
    const list = Array.isArray(value.answer) ? value.answer : [value.answer];
    list.forEach((check: unknown, i: number) => {
      const at = Array.isArray(value.answer) ? [...path, 'answer', i] : [...path, 'answer'];
      if (typeof check === 'string') {
        answer.push({ contains: check });
        return;
      }
      if (!isRecord(check) || Object.keys(check).length !== 1) {
        issues.add(at, `expected { contains }, { equals } or { matches } (one of them), got ${describeValue(check)}`);
        return;
      }
      const [kind, text] = Object.entries(check)[0]!;
      if (typeof text !== 'string') {
        issues.add([...at, kind], `expected a string, got ${describeValue(text)}`);
        return;
      }
      if (kind === 'contains') answer.push({ contains: text });
      else if (kind === 'equals') answer.push({ equals: text });
      else if (kind === 'matches') {
        try {
          answer.push({ matches: text, regexp: new RegExp(text) });
        } catch (error) {
          issues.add([...at, kind], `not a regular expression: ${(error as Error).message}`);
        }
      } else {
        const close = didYouMean(kind, ['contains', 'equals', 'matches']);
        issues.add(
          [...at, kind],
          `unknown answer check "${kind}"${close ? `; did you mean "${close}"?` : ' (contains, equals, matches)'}`,
        );
      }
    });
  }
  let budgets: Budgets | undefined;
  if (value.budgets !== undefined) {
    if (!isRecord(value.budgets))
      issues.add([...path, 'budgets'], `expected a mapping of budgets, got ${describeValue(value.budgets)}`);
    else {
      issues.keys([...path, 'budgets'], value.budgets, BUDGET_KEYS, key => didYouMean(key, BUDGET_KEYS));
      const out: Record<string, number> = {};
      for (const key of BUDGET_KEYS) {
        const v = value.budgets[key];
        if (v === undefined) continue;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
          issues.add([...path, 'budgets', key], `expected a number 0 or more, got ${describeValue(v)}`);
        else out[key] = v;
      }
      budgets = out as Budgets;
    }
  }
  return { status, toolPath, answer, budgets };
}

/** What a golden run runs: a policy, and the agent under test with its options. */
export interface GoldenConfig {
  readonly file: string;
  readonly policy: Policy;
  /** Absolute path of the agent module. */
  readonly agentModule: string;
  readonly options: Readonly<Record<string, unknown>>;
}

const CONFIG_KEYS = ['policy', 'agent', 'options'];

/**
 * Reads a config: `policy` (a policy file, relative to the config, or the policy itself), `agent` (the agent module)
 * and `options` (handed to the agent).
 */
export async function loadGoldenConfig(file: string): Promise<LoadResult<GoldenConfig>> {
  const read = await readYamlFile(file);
  if (read.status !== 'ok') return read;
  const issues = new IssueList(read.locate);
  const doc = read.value;
  if (!isRecord(doc)) {
    issues.add([], `a config is a mapping with policy and agent, got ${describeValue(doc)}`);
    return { status: 'invalid', file, issues: issues.issues };
  }
  issues.keys([], doc, CONFIG_KEYS, key => didYouMean(key, CONFIG_KEYS));
  const base = dirname(resolve(file));
  let policy: Policy | undefined;
  if (typeof doc.policy === 'string') {
    const policyFile = resolve(base, doc.policy);
    const loaded = await readPolicyFile(policyFile);
    if (loaded.status === 'unreadable') issues.add(['policy'], loaded.message);
    else if (loaded.status === 'invalid') {
      for (const issue of loaded.issues) {
        issues.add(
          ['policy'],
          `${doc.policy}${issue.line ? `:${issue.line}` : ''} ${issue.path || '(document)'}: ${issue.message}`,
        );
      }
    } else policy = loaded.policy;
  } else if (isRecord(doc.policy)) {
    const { definePolicy, PolicyError } = await import('@bounded/core');
    try {
      policy = definePolicy(doc.policy as PolicyInput);
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      for (const issue of error.issues) issues.add(['policy', ...issue.path.split('.').filter(Boolean)], issue.message);
    }
  } else {
    issues.add(['policy'], `expected a policy file (a path) or a policy (a mapping), got ${describeValue(doc.policy)}`);
  }
  let agentModule: string | undefined;
  if (typeof doc.agent === 'string' && doc.agent) agentModule = resolve(base, doc.agent);
  else issues.add(['agent'], `expected the agent module's path (a .js or .mjs file), got ${describeValue(doc.agent)}`);
  let options: Record<string, unknown> = {};
  if (doc.options !== undefined) {
    if (isRecord(doc.options)) options = doc.options;
    else issues.add(['options'], `expected a mapping, got ${describeValue(doc.options)}`);
  }
  if (issues.issues.length > 0 || !policy || !agentModule) return { status: 'invalid', file, issues: issues.issues };
  return { status: 'ok', value: { file, policy, agentModule, options } };
}
