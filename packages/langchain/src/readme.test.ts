import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('the README opens with an example that runs and prints what it says', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const example = /^```ts\n([\s\S]*?)```/m.exec(readme)?.[1];
  expect(example, 'README.md starts with a ts code block').toBeDefined();
  expect(example!.trim().split('\n').length).toBeLessThanOrEqual(12);
  // Inside the package, so `@bounded/langchain` resolves to this package's build by its own name.
  const file = new URL('../readme-example.tmp.mjs', import.meta.url);
  await writeFile(file, example!);
  try {
    const { stdout } = await run(process.execPath, [file.pathname]);
    const expected = /console\.log\(.*\); \/\/ (.*)$/m.exec(example!)?.[1];
    expect(stdout.trim()).toBe(expected);
  } finally {
    await rm(file, { force: true });
  }
});
