import { readFile, stat } from 'node:fs/promises';
import type { PolicyIssue } from '@bounded/core';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';

/** A YAML (or JSON) file read for its data, with a way to find where a key path is in the text. */
export type YamlFileResult =
  | {
      readonly status: 'ok';
      readonly file: string;
      readonly value: unknown;
      /** Line and column of a key path's value (or of its key), when the text has it. */
      readonly locate: Locate;
    }
  | { readonly status: 'invalid'; readonly file: string; readonly issues: readonly PolicyIssue[] }
  | { readonly status: 'unreadable'; readonly file: string; readonly message: string };

export type Locate = (
  path: readonly (string | number)[],
  where?: 'key' | 'value',
) => { line: number; column: number } | undefined;

export async function readYamlFile(file: string): Promise<YamlFileResult> {
  let text: string;
  try {
    if ((await stat(file)).isDirectory())
      return { status: 'unreadable', file, message: `cannot read ${file}: it is a directory` };
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    return { status: 'unreadable', file, message: `cannot read ${file}: ${why}` };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      status: 'invalid',
      file,
      issues: doc.errors.map(error => {
        const at = lines.linePos(error.pos[0]);
        return { path: '', message: error.message.split('\n')[0]!, line: at.line, column: at.col };
      }),
    };
  }
  return {
    status: 'ok',
    file,
    value: doc.toJS(),
    locate(path, where = 'value') {
      for (let depth = path.length; depth >= 0; depth--) {
        const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
        const range = (node as { range?: [number, number, number] } | null)?.range;
        if (range) {
          // For a key in a map, point at the key rather than the value.
          const parent = depth > 0 ? doc.getIn(path.slice(0, depth - 1), true) : undefined;
          if (depth > 0 && isMap(parent)) {
            const pair = parent.items.find(item => (item.key as { value?: unknown })?.value === path[depth - 1]);
            const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
            if (keyRange && (depth < path.length || where === 'key')) {
              const at = lines.linePos(keyRange[0]);
              return { line: at.line, column: at.col };
            }
          }
          if (depth > 0 && isSeq(parent) && depth !== path.length) continue;
          const at = lines.linePos(range[0]);
          return { line: at.line, column: at.col };
        }
      }
      return undefined;
    },
  };
}

/** Collects problems of a document, each with its key path (and its line, through `locate`). */
export class IssueList {
  readonly issues: PolicyIssue[] = [];
  readonly #locate: Locate;

  constructor(locate: Locate) {
    this.#locate = locate;
  }

  /** A problem with the value at `path` (or with its key: an unknown key). */
  add(path: readonly (string | number)[], message: string, where: 'key' | 'value' = 'value'): void {
    const at = this.#locate(path, where);
    this.issues.push({ path: formatKeyPath(path), message, ...(at ? { line: at.line, column: at.column } : {}) });
  }

  /** Reports unknown keys of an object, with a "did you mean". */
  keys(
    path: readonly (string | number)[],
    value: Record<string, unknown>,
    known: readonly string[],
    hint: (key: string) => string | undefined,
  ): void {
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const close = hint(key);
      this.add(
        [...path, key],
        `unknown key "${key}"${close ? `; did you mean "${close}"?` : ` (known: ${known.join(', ')})`}`,
        'key',
      );
    }
  }
}

/** `tasks[2].expect.tool_path` */
export function formatKeyPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${key}` : key;
  return out;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}
