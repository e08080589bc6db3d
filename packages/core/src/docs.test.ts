import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { policySchema } from './policy/schema.js';
import { STOP_REASONS } from './stop-reason.js';

const README = new URL('../../../README.md', import.meta.url);

// biome-ignore lint/suspicious/noExplicitAny: walking zod's definition tree
type AnyDef = any;

function keyPaths(def: AnyDef, prefix: string): string[] {
  while (['optional', 'default', 'prefault'].includes(def.type)) def = def.innerType._zod.def;
  if (def.type !== 'object') return [prefix];
  return Object.entries(def.shape).flatMap(([key, child]) =>
    prefix === '' ? keyPaths((child as AnyDef)._zod.def, key) : [`${prefix}.${key}`],
  );
}

describe('the root README', () => {
  it('documents every stop reason', async () => {
    const text = await readFile(README, 'utf8');
    const rows = text.split('\n').filter(line => line.startsWith('| `'));
    for (const { kind } of STOP_REASONS) {
      expect(
        rows.some(row => new RegExp(`\`${kind}[\`:]`).test(row.split(' | ')[0]!)),
        `README documents ${kind}`,
      ).toBe(true);
    }
  });

  it('documents every policy key', async () => {
    const text = await readFile(README, 'utf8');
    const paths = keyPaths((policySchema as AnyDef)._zod.def, '').filter(path => path !== 'version');
    expect(paths.length).toBeGreaterThan(25);
    for (const path of paths) {
      const [section, key] = path.split('.');
      // A row may document several keys of a section: "| `budgets.max_tokens`, `max_input_tokens` | ...".
      const rows = text
        .split('\n')
        .filter(line => line.startsWith(`| \`${key === undefined ? section : `${section}.`}`));
      const documented = rows.some(row => new RegExp(`\\b${key ?? section}\\b`).test(row.split(' | ')[0]!));
      expect(documented, `README documents ${path}`).toBe(true);
    }
  });
});
