/**
 * Tool-name patterns. `*` matches any run of characters (dots included, so `kb.*` covers `kb.read` and
 * `kb.docs.read`), `?` matches one character; everything else is literal. Matching is case-sensitive,
 * as tool names are.
 */
export type GlobMatcher = (name: string) => boolean;

export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

export function compileGlob(pattern: string): GlobMatcher {
  if (!isGlob(pattern)) return name => name === pattern;
  if (pattern === '*') return () => true;
  // `prefix.*` is the common shape; a startsWith is much cheaper than a RegExp.
  const star = pattern.indexOf('*');
  if (star === pattern.length - 1 && !pattern.includes('?')) {
    const prefix = pattern.slice(0, -1);
    return name => name.startsWith(prefix);
  }
  let source = '^';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  const re = new RegExp(`${source}$`, 's');
  return name => re.test(name);
}

/** The first pattern in the list that matches, or undefined. Keeps the pattern so decisions can name their rule. */
export interface CompiledGlobList {
  readonly patterns: readonly string[];
  match(name: string): { pattern: string; index: number } | undefined;
}

export function compileGlobList(patterns: readonly string[] | undefined): CompiledGlobList {
  const list = patterns ?? [];
  const matchers = list.map(compileGlob);
  return {
    patterns: list,
    match(name) {
      for (let i = 0; i < matchers.length; i++) {
        if (matchers[i]!(name)) return { pattern: list[i]!, index: i };
      }
      return undefined;
    },
  };
}
