#!/usr/bin/env node
// Runs a command and shows its output only if it fails: `pnpm demo` should print the demo, not the build log.
import { spawnSync } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node scripts/quiet.mjs <command> [args...]');
  process.exit(2);
}
const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['inherit', 'pipe', 'pipe'], shell: false });
if (result.error) {
  console.error(`could not run ${command}: ${result.error.message}`);
  process.exit(2);
}
if (result.status !== 0) {
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  process.exit(result.status ?? 1);
}
