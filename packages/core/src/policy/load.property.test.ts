import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PolicyError } from '../errors.js';
import { definePolicy, parsePolicy } from './load.js';

const SEED_TEXT = readFileSync(new URL('../../../../examples/policies/default.yaml', import.meta.url), 'utf8');

/** Either a Policy or a PolicyError with at least one issue, each with a string path and message. Nothing else. */
function expectPolicyOrPolicyError(load: () => unknown): 'policy' | 'error' {
  try {
    const policy = load() as { version?: unknown };
    expect(policy.version).toBe(1);
    return 'policy';
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) {
      expect(typeof issue.path).toBe('string');
      expect(issue.message.length).toBeGreaterThan(0);
    }
    return 'error';
  }
}

const KEYS = [
  'mode',
  'default',
  'agent_for_exceptions',
  'budgets',
  'max_steps',
  'max_tool_calls',
  'max_seconds',
  'max_usd',
  'per_tool',
  'tools',
  'allow',
  'deny',
  'writes',
  'require_approval',
  'auto_approve',
  'when',
  'lte',
  'limits',
  'per_agent',
  'pricing',
  'models',
  'monitoring',
  'track',
  'enforcement',
];

/** Documents built from the policy's own vocabulary, so generation reaches deep into the schema. */
const policyLike: fc.Arbitrary<unknown> = fc.letrec(tie => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(0, -1, 1.5, 25, 1e308, Number.NaN, true, false, null, '', 'workflow', 'kb.*', 'shadow'),
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.array(tie('value'), { maxLength: 4 }),
    tie('object'),
  ),
  object: fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string()), tie('value'), { maxKeys: 5 }),
})).object;

describe('loading never crashes', () => {
  it('random objects give a Policy or a PolicyError', () => {
    fc.assert(
      fc.property(policyLike, document => {
        expectPolicyOrPolicyError(() => definePolicy(document as never));
      }),
      { numRuns: 2000 },
    );
  });

  it('random objects written as YAML give a Policy or a PolicyError', () => {
    fc.assert(
      fc.property(policyLike, document => {
        let text: string;
        try {
          text = stringify(document);
        } catch {
          return; // not representable as YAML (the generator's problem, not the loader's)
        }
        expectPolicyOrPolicyError(() => parsePolicy(text, 'fuzz.yaml'));
      }),
      { numRuns: 1000 },
    );
  });

  it('the seed policy with random edits gives a Policy or a PolicyError', () => {
    const edit = fc.record({
      at: fc.nat({ max: SEED_TEXT.length }),
      remove: fc.nat({ max: 12 }),
      insert: fc.oneof(
        fc.string({ maxLength: 8 }),
        fc.constantFrom(':', '- ', '\n', '  ', '{', '[', '"', '#', '&a', '*a', '!!int '),
      ),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), edits => {
        let text = SEED_TEXT;
        for (const { at, remove, insert } of edits) {
          const i = Math.min(at, text.length);
          text = text.slice(0, i) + insert + text.slice(i + remove);
        }
        expectPolicyOrPolicyError(() => parsePolicy(text, 'mutated.yaml'));
      }),
      { numRuns: 3000 },
    );
  });

  it('arbitrary text gives a Policy or a PolicyError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), text => {
        expectPolicyOrPolicyError(() => parsePolicy(text));
      }),
      { numRuns: 2000 },
    );
  });
});
