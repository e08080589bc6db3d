import { CliUsageError } from './args.js';

/** The one positional argument a command takes: the policy file. */
export function requireOnePolicyFile(command: string, positionals: readonly string[]): string {
  if (positionals.length === 0) throw new CliUsageError(`missing the policy file (bounded ${command} <policy-file>)`);
  if (positionals.length > 1) {
    throw new CliUsageError(
      `takes one policy file, got ${positionals.length}: ${positionals.map(p => JSON.stringify(p)).join(' ')}`,
    );
  }
  const file = positionals[0]!;
  if (file === '') throw new CliUsageError('the policy file name is empty');
  return file;
}
