// Line-delimited JSON between a test and its worker processes: the test writes commands to stdin, the worker
// writes reports to stdout.
import { createInterface } from 'node:readline';

/** The worker's arguments, as JSON in argv[2]. */
export const params = JSON.parse(process.argv[2] ?? '{}');

const waiting = [];
const queued = [];
createInterface({ input: process.stdin }).on('line', line => {
  const message = JSON.parse(line);
  const next = waiting.shift();
  if (next) next(message);
  else queued.push(message);
});

/** The next command from the test. */
export function receive() {
  const message = queued.shift();
  if (message) return Promise.resolve(message);
  return new Promise(resolve => waiting.push(resolve));
}

export function report(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Reports the error and exits non-zero, so the test fails with the worker's reason. */
export function fail(error) {
  report({ type: 'error', error: String(error?.stack ?? error) });
  process.exit(1);
}

process.on('unhandledRejection', fail);
