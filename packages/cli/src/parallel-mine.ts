import { open, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { MineWorkerInput, MineWorkerOutput } from './mine-worker.js';
import { type ReadProgress, type RunSummary, TraceInputError } from './traces.js';

/** Below this a file is read on the main thread: starting workers costs more than it saves. */
const MIN_BYTES = 64 << 20;
const DATA_HEAD = '{"data":[';
/** A trace starts here (a span starts `{"traceID":"…","spanID"`): in compact JSON a quote inside a string is escaped. */
const TRACE_START = /\{"traceID":"[0-9a-f]+","spans":\[/;

/**
 * Reads a large Jaeger JSON file (the query API's compact `{"data":[…]}`) in worker threads, one slice each, cut where
 * a trace starts (a trace's spans are together, so no run is split). Undefined when the file is small, not laid out
 * that way, or only one CPU is there: then the caller reads it on its own.
 */
export async function readRunSummariesInParallel(
  file: string,
  onProgress?: (progress: ReadProgress) => void,
  options: { minBytes?: number; workers?: number } = {},
): Promise<{ summaries: RunSummary[]; spans: number } | undefined> {
  const workers = Math.min(options.workers ?? availableParallelism(), 8);
  if (workers < 2) return undefined;
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return undefined; // the single-threaded reader says what is wrong
  }
  if (size < (options.minBytes ?? MIN_BYTES)) return undefined;
  const handle = await open(file, 'r');
  const cuts: number[] = [];
  try {
    const head = Buffer.alloc(64);
    await handle.read(head, 0, 64, 0);
    if (!head.toString('latin1').startsWith(`${DATA_HEAD}{"traceID":"`)) return undefined;
    const window = Buffer.alloc(1 << 20);
    for (let k = 1; k < workers; k++) {
      const from = Math.floor((size * k) / workers);
      const { bytesRead } = await handle.read(window, 0, window.length, from);
      const text = window.toString('latin1', 0, bytesRead);
      const match = TRACE_START.exec(text);
      if (!match) return undefined;
      // The comma before the trace ends the previous slice.
      const cut = from + match.index;
      if (cut <= (cuts.at(-1) ?? 0) || window[match.index - 1] !== 0x2c) return undefined;
      cuts.push(cut);
    }
  } finally {
    await handle.close();
  }
  const bounds = [0, ...cuts, size];
  let bytes = 0;
  const spansBy = new Array<number>(workers).fill(0);
  const outputs = await Promise.all(
    bounds.slice(0, -1).map(
      (start, k) =>
        new Promise<MineWorkerOutput>((resolve, reject) => {
          const input: MineWorkerInput = {
            file,
            start,
            // Without the comma that ends the slice.
            end: k < workers - 1 ? bounds[k + 1]! - 1 : size,
            prefix: k === 0 ? '' : DATA_HEAD,
            suffix: k < workers - 1 ? ']}' : '',
          };
          const progress = (more: number, spans: number) => {
            bytes += more;
            spansBy[k] = spans;
            onProgress?.({ bytes, totalBytes: size, spans: spansBy.reduce((a, b) => a + b, 0) });
          };
          // A worker each slice, the first too: read on this thread (its heap holding the caller's objects), a slice
          // took 20-35% longer than the same bytes in a worker, and the slowest slice sets the time.
          const worker = new Worker(new URL('./mine-worker.js', import.meta.url), { workerData: input });
          worker.on(
            'message',
            (
              message:
                | MineWorkerOutput
                | { type: 'progress'; bytes: number; spans: number }
                | { type: 'error'; message: string },
            ) => {
              if (message.type === 'progress') progress(message.bytes, message.spans);
              else if (message.type === 'error') {
                reject(new TraceInputError('TRACES_INVALID', `${file}: ${message.message}`));
              } else resolve(message);
            },
          );
          worker.on('error', reject);
          worker.on('exit', code => {
            if (code !== 0) reject(new Error(`a mining worker exited with code ${code}`));
          });
        }),
    ),
  );
  const summaries: RunSummary[] = [];
  let spans = 0;
  for (const out of outputs) {
    spans += out.spans;
    const paths = out.strings.map(text => (text === '' ? [] : text.split('\u0000')));
    const runs = out.counts.length / 2;
    for (let i = 0; i < runs; i++) {
      const stop = out.refs[i * 4 + 2]!;
      const status = out.counts[i * 2]!;
      summaries.push({
        agent: out.strings[out.refs[i * 4]!]!,
        mode: out.strings[out.refs[i * 4 + 1]!]!,
        status: status === 0 ? 'ok' : status === 1 ? 'stopped' : 'unknown',
        stopReason: stop < 0 ? undefined : out.strings[stop],
        tokens: out.numbers[i * 3]!,
        costUsd: out.numbers[i * 3 + 1]!,
        durationMs: out.numbers[i * 3 + 2]!,
        path: paths[out.refs[i * 4 + 3]!]!,
        refused: out.counts[i * 2 + 1]!,
      });
    }
  }
  return { summaries, spans };
}
