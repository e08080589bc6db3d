/** Runs every `*.bench.js` next to this file, one after another, each in its own process (no shared JIT state). */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter(file => file.endsWith('.bench.js'))
  .filter(file => only.length === 0 || only.some(name => file.startsWith(name)))
  .sort();
let failed = 0;
for (const file of files) {
  const result = spawnSync(process.execPath, [`${dir}${file}`], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
if (failed > 0) process.exitCode = 1;
