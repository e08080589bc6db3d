import { parseArgs } from 'node:util';
import { didYouMean } from './suggest.js';

/** A mistake on the command line: printed with a pointer to `--help`, exit code 2. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
}

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/**
 * `parseArgs` from node:util, with messages written for people: an unknown option gets a "did you mean",
 * a string option without a value and a flag given a value are named.
 */
export function parseCommandArgs(argv: readonly string[], options: Readonly<Record<string, OptionSpec>>): ParsedArgs {
  const { values, positionals, tokens } = parseArgs({
    args: [...argv],
    options: options as Record<string, OptionSpec>,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = options[token.name];
    if (!spec) {
      const known = Object.keys(options).map(name => `--${name}`);
      const hint = token.rawName.startsWith('--') ? didYouMean(token.rawName, known) : undefined;
      throw new CliUsageError(`unknown option ${token.rawName}${hint ? ` (did you mean ${hint}?)` : ''}`);
    }
    if (spec.type === 'string') {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-') && token.value.length > 1)) {
        throw new CliUsageError(
          `${token.rawName} needs a value (${token.rawName} <value>, or ${token.rawName}=<value>)`,
        );
      }
    } else if (token.value !== undefined) {
      throw new CliUsageError(`${token.rawName} takes no value`);
    }
  }
  return { values: values as ParsedArgs['values'], positionals };
}

/** Whether `--json` was asked for, before the arguments are known to be valid (so even usage errors come as JSON). */
export function wantsJson(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--json') return true;
  }
  return false;
}
