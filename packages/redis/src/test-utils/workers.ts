import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// biome-ignore lint/suspicious/noExplicitAny: reports are whatever JSON a worker sends
export type Report = { readonly type: string; readonly [key: string]: any };

/** A worker: a real child process (node on a script in src/test-workers) that imports the built package. */
export interface Worker {
  readonly pid: number;
  send(message: object): void;
  /** The next report of this type (errors from the worker reject). */
  next(type: string): Promise<Report>;
  readonly exited: Promise<number | null>;
  kill(): void;
}

export function spawnWorker(script: string, params: object): Worker {
  const path = fileURLToPath(new URL(`../../src/test-workers/${script}`, import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [path, JSON.stringify(params)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  const reports: Report[] = [];
  const waiters: Array<{ type: string; resolve: (r: Report) => void; reject: (e: Error) => void }> = [];
  let failure: Error | undefined;
  const deliver = () => {
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i]!;
      const index = reports.findIndex(r => r.type === waiter.type);
      if (index !== -1) {
        waiters.splice(i--, 1);
        waiter.resolve(reports.splice(index, 1)[0]!);
      } else if (failure) {
        waiters.splice(i--, 1);
        waiter.reject(failure);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', line => {
    let report: Report;
    try {
      report = JSON.parse(line) as Report;
    } catch {
      return; // not a report (a stray log line)
    }
    if (report.type === 'error') failure = new Error(`worker ${script} (${child.pid}) failed:\n${report.error}`);
    else reports.push(report);
    deliver();
  });
  const exited = new Promise<number | null>(resolve =>
    child.on('exit', code => {
      failure ??= code === 0 ? new Error(`worker ${script} exited`) : new Error(`worker ${script} exited with ${code}`);
      deliver();
      resolve(code);
    }),
  );
  return {
    pid: child.pid!,
    send: message => child.stdin!.write(`${JSON.stringify(message)}\n`),
    next: type =>
      new Promise((resolve, reject) => {
        waiters.push({ type, resolve, reject });
        deliver();
      }),
    exited,
    kill: () => child.kill('SIGKILL'),
  };
}
