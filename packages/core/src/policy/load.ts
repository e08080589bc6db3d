import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Document, isMap, isPair, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { PolicyError, type PolicyIssue } from '../errors.js';
import { policySchema } from './schema.js';
import type { Policy, PolicyInput } from './types.js';

type PathKey = string | number;

/**
 * Builds a Policy from an object (the same keys as the YAML file). Throws `PolicyError` listing every problem.
 * Passing a Policy back in returns an equal Policy.
 */
export function definePolicy(input: PolicyInput | Policy): Policy {
  return validate(input, undefined, undefined);
}

/** Checks prices given in code (`createGovernor({ pricing })`) as the policy file's `pricing` is checked. */
export function checkPricing(pricing: unknown, source: string): void {
  validate({ pricing }, undefined, undefined, source);
}

/**
 * Parses policy text (YAML, or JSON, which is YAML too). `source` names the text in error messages.
 * Throws `PolicyError` listing every problem with its key path, line and column.
 */
export function parsePolicy(text: string, source?: string): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      doc.errors.map(error => {
        const pos = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
        return {
          path: '',
          message: `${friendlyYamlError(error.code, error.message)}`,
          ...(pos ? { line: pos.line, column: pos.col } : {}),
        };
      }),
      source,
    );
  }
  let value: unknown;
  try {
    // Aliases can still fail here (undefined anchors, alias bombs past maxAliasCount).
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new PolicyError([{ path: '', message: `invalid YAML: ${(error as Error).message}` }], source);
  }
  return validate(value ?? {}, doc, lineCounter, source);
}

/**
 * Loads a policy from a file path or file URL. A string with a newline in it is taken as the policy text itself
 * (no path has one); for one-line text use `parsePolicy`. Throws `PolicyError` with the file name, key paths and
 * lines (code `POLICY_UNREADABLE` when the file cannot be read).
 */
export async function loadPolicy(pathOrText: string | URL): Promise<Policy> {
  if (typeof pathOrText === 'string' && looksLikeText(pathOrText)) return parsePolicy(pathOrText);
  const path = typeof pathOrText === 'string' ? pathOrText : fileURLToPath(pathOrText);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new PolicyError([{ path: '', message: `cannot read policy: ${reason}` }], path, 'POLICY_UNREADABLE');
  }
  return parsePolicy(text, path);
}

function looksLikeText(value: string): boolean {
  return value.includes('\n');
}

function validate(value: unknown, doc: Document | undefined, lines: LineCounter | undefined, source?: string): Policy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PolicyError(
      [{ path: '', message: `a policy is a mapping of keys (mode, budgets, tools, ...), got ${describe(value)}` }],
      source,
    );
  }
  const parsed = policySchema.safeParse(value, { reportInput: true });
  if (parsed.success) return deepFreeze(parsed.data as Policy);
  const issues: PolicyIssue[] = [];
  for (const issue of parsed.error.issues) {
    for (const one of explain(issue)) {
      issues.push({ ...one, ...locate(one.pathKeys, one.keyName, doc, lines) });
    }
  }
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  throw new PolicyError(
    issues.map(({ path, message, line, column }) => ({
      path,
      message,
      ...(line === undefined ? {} : { line, column }),
    })),
    source,
  );
}

interface ExplainedIssue {
  path: string;
  message: string;
  pathKeys: PathKey[];
  /** For an unknown key: the key itself, so its line can be found. */
  keyName?: string;
  line?: number;
  column?: number;
}

function explain(issue: z.core.$ZodIssue): ExplainedIssue[] {
  const pathKeys = issue.path.filter((k): k is PathKey => typeof k !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(pathKeys);
      return issue.keys.map(key => {
        const hint = didYouMean(key, known);
        const where = pathKeys.length ? `in ${formatPath(pathKeys)}` : 'at the top level';
        return {
          path: formatPath([...pathKeys, key]),
          pathKeys: [...pathKeys, key],
          keyName: key,
          message:
            `unknown key "${key}" ${where}` +
            (hint ? `; did you mean "${hint}"?` : known.length ? `; expected one of: ${known.join(', ')}` : ''),
        };
      });
    }
    case 'invalid_type': {
      const got = describe((issue as { input?: unknown }).input);
      return [{ path: formatPath(pathKeys), pathKeys, message: `expected ${typeName(issue.expected)}, got ${got}` }];
    }
    case 'invalid_value': {
      const input = (issue as { input?: unknown }).input;
      const allowed = issue.values.map(v => JSON.stringify(v));
      const hint = typeof input === 'string' ? didYouMean(input, issue.values.map(String)) : undefined;
      return [
        {
          path: formatPath(pathKeys),
          pathKeys,
          message:
            `expected ${allowed.length === 1 ? allowed[0] : `one of ${allowed.join(', ')}`}, got ${describe(input)}` +
            (hint ? `; did you mean "${hint}"?` : ''),
        },
      ];
    }
    case 'too_small':
    case 'too_big': {
      const input = (issue as { input?: unknown }).input;
      return [{ path: formatPath(pathKeys), pathKeys, message: `${issue.message}, got ${describe(input)}` }];
    }
    case 'invalid_union':
      return [{ path: formatPath(pathKeys), pathKeys, message: 'expected a string, number or boolean' }];
    default:
      return [{ path: formatPath(pathKeys), pathKeys, message: issue.message }];
  }
}

function typeName(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    default:
      return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** `['tools','allow',2]` -> `tools.allow[2]`; keys that are not identifiers are quoted: `budgets.per_tool["kb.read"]`. */
export function formatPath(keys: readonly PathKey[]): string {
  let out = '';
  for (const key of keys) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

function locate(
  pathKeys: PathKey[],
  keyName: string | undefined,
  doc: Document | undefined,
  lines: LineCounter | undefined,
): { line?: number; column?: number } {
  if (!doc || !lines) return {};
  // Walk down as far as the document goes; a missing key is reported at its nearest existing parent.
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const key of pathKeys) {
    if (!isMap(node) && !(node && typeof node === 'object' && 'items' in node)) break;
    const items = (node as { items: unknown[] }).items;
    let next: unknown;
    if (isMap(node)) {
      const pair = items.find(item => isPair(item) && isScalar(item.key) && String(item.key.value) === String(key));
      if (!pair || !isPair(pair)) break;
      keyNode = pair.key as Node;
      next = pair.value;
    } else {
      next = typeof key === 'number' ? items[key] : undefined;
      keyNode = undefined;
    }
    if (next === undefined || next === null) break;
    node = next;
  }
  const target = keyName !== undefined && keyNode ? keyNode : ((node as Node | undefined) ?? keyNode);
  const offset = target?.range?.[0];
  if (offset === undefined) return {};
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

// biome-ignore lint/suspicious/noExplicitAny: walking zod's internal definition tree
type AnyDef = any;

/** The keys the schema knows at a path, for "did you mean" hints. */
function knownKeys(pathKeys: PathKey[]): string[] {
  let def: AnyDef = (policySchema as AnyDef)._zod.def;
  const unwrap = () => {
    while (def && ['optional', 'default', 'prefault', 'nullable', 'readonly'].includes(def.type)) {
      def = def.innerType._zod.def;
    }
  };
  unwrap();
  for (const key of pathKeys) {
    if (def?.type === 'object') def = def.shape[key]?._zod.def;
    else if (def?.type === 'record') def = def.valueType._zod.def;
    else if (def?.type === 'array') def = def.element._zod.def;
    else return [];
    unwrap();
  }
  return def?.type === 'object' ? Object.keys(def.shape) : [];
}

/** The closest candidate by edit distance, if it is close enough to be a plausible typo ("did you mean"). */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = input.toLowerCase();
  for (const candidate of candidates) {
    const distance = levenshtein(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const tolerance = Math.max(2, Math.floor(input.length / 3));
  return bestDistance <= tolerance ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function friendlyYamlError(code: string, message: string): string {
  // Pretty errors append "at line L, column C:" and a code frame; the line is reported on its own.
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
  if (code === 'DUPLICATE_KEY') return `duplicate key: ${first}`;
  return `invalid YAML: ${first}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
