import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PolicyError } from '../errors.js';
import { definePolicy, loadPolicy, parsePolicy } from './load.js';
import { policySchema } from './schema.js';

const SEED = new URL('../../../../examples/policies/default.yaml', import.meta.url);

function policyError(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return error as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

describe('the seed policy', () => {
  it('loads exactly as written, with defaults for everything else', async () => {
    const policy = await loadPolicy(SEED);
    expect(policy.mode).toEqual({ default: 'workflow', agent_for_exceptions: true, agent_budgets: {} });
    expect(policy.budgets).toEqual({ max_steps: 25, max_tool_calls: 12, max_seconds: 60 });
    expect(policy.tools.allow).toEqual(['kb.read', 'search.read', 'http.get']);
    expect(policy.tools.deny).toEqual([]);
    expect(policy.writes.require_approval).toBe(true);
    expect(policy.monitoring.track).toEqual(['tool_calls_per_run', 'tokens_per_request', 'latency_p95', 'stop_reason']);
    expect(policy.enforcement).toBe('enforce');
    expect(Object.isFrozen(policy.budgets)).toBe(true);
  });

  it('is the same policy whether read from a path string, a URL or text', async () => {
    const text = await readFile(SEED, 'utf8');
    const fromUrl = await loadPolicy(SEED);
    expect(await loadPolicy(SEED.pathname)).toEqual(fromUrl);
    expect(await loadPolicy(text)).toEqual(fromUrl);
    expect(parsePolicy(text)).toEqual(fromUrl);
  });

  it('round-trips through definePolicy', async () => {
    const policy = await loadPolicy(SEED);
    expect(definePolicy(policy)).toEqual(policy);
  });
});

describe('invalid policies', () => {
  it('names every problem with its key path, line and column', () => {
    const text = [
      'budgets:',
      '  max_steps: ten',
      '  max_tool_calls: -3',
      'tools:',
      '  alow: ["kb.read"]',
      'mode: { default: worklow }',
      '',
    ].join('\n');
    const error = policyError(() => parsePolicy(text, 'policy.yaml'));
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.source).toBe('policy.yaml');
    const byPath = Object.fromEntries(error.issues.map(issue => [issue.path, issue]));
    expect(byPath['budgets.max_steps']).toMatchObject({ line: 2, message: 'expected a number, got string "ten"' });
    expect(byPath['budgets.max_tool_calls']).toMatchObject({ line: 3, message: 'must be 0 or more, got number -3' });
    expect(byPath['tools.alow']).toMatchObject({
      line: 5,
      message: 'unknown key "alow" in tools; did you mean "allow"?',
    });
    expect(byPath['mode.default']?.message).toBe(
      'expected one of "workflow", "agent", got string "worklow"; did you mean "workflow"?',
    );
    expect(error.issues).toHaveLength(4);
    expect(error.message).toContain('policy.yaml:5:3  tools.alow: unknown key "alow"');
  });

  it('suggests top-level keys and lists the choices when nothing is close', () => {
    const error = policyError(() => parsePolicy('budgts: {}\nzzz: 1\n'));
    expect(error.issues.map(issue => issue.message)).toEqual([
      'unknown key "budgts" at the top level; did you mean "budgets"?',
      expect.stringMatching(
        /^unknown key "zzz" at the top level; expected one of: version, mode, enforcement, budgets/,
      ),
    ]);
  });

  it('quotes tool names in paths', () => {
    const error = policyError(() => definePolicy({ budgets: { per_tool: { 'kb.read': -1 } } }));
    expect(error.issues[0]).toMatchObject({ path: 'budgets.per_tool["kb.read"]' });
    expect(error.issues[0]?.line).toBeUndefined();
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(policyError(() => parsePolicy('budgets:\n  max_steps: 1\n  max_steps: 2\n')).issues[0]).toMatchObject({
      path: '',
      line: 3,
      message: expect.stringContaining('duplicate key'),
    });
    expect(policyError(() => parsePolicy('budgets: [1, 2\n')).issues[0]?.message).toContain('invalid YAML');
  });

  it('rejects a document that is not a mapping', () => {
    expect(policyError(() => parsePolicy('- a\n- b\n')).issues[0]?.message).toBe(
      'a policy is a mapping of keys (mode, budgets, tools, ...), got a list',
    );
  });

  it('names the file when it cannot be read', async () => {
    const missing = join(tmpdir(), 'bounded-no-such-policy.yaml');
    await expect(loadPolicy(missing)).rejects.toMatchObject({
      source: missing,
      issues: [{ path: '', message: 'cannot read policy: file not found' }],
    });
  });

  it('reads JSON policies with line numbers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bounded-policy-'));
    const file = join(dir, 'policy.json');
    await writeFile(file, '{\n  "budgets": {\n    "max_usd": "lots"\n  }\n}\n');
    await expect(loadPolicy(file)).rejects.toMatchObject({
      issues: [{ path: 'budgets.max_usd', line: 3, message: 'expected a number, got string "lots"' }],
    });
  });
});

describe('the JSON Schema for editors', () => {
  it('is generated from the zod schema and matches the shipped file', async () => {
    const shipped = JSON.parse(
      await readFile(new URL('../../schema/policy.schema.json', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    const generated = z.toJSONSchema(policySchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
    expect(shipped.properties).toEqual(generated.properties);
    expect(shipped.additionalProperties).toBe(false);
  });
});
