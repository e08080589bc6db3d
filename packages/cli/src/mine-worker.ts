import { open } from 'node:fs/promises';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { RunCollector, type RunRecord, summarizeRun, traceStream } from './traces.js';

const CHUNK = 1 << 20;

/** One slice of a Jaeger JSON file, read in a worker thread: `prefix` + bytes [start, end) + `suffix` is a document. */
export interface MineWorkerInput {
  readonly file: string;
  readonly start: number;
  readonly end: number;
  readonly prefix: string;
  readonly suffix: string;
}

/** What a worker sends back: its runs, column by column (typed arrays move without a copy). */
export interface MineWorkerOutput {
  readonly type: 'done';
  readonly spans: number;
  readonly strings: readonly string[];
  /** Per run: agent, mode, stop reason (or -1), path (each an index in `strings`). */
  readonly refs: Int32Array;
  /** Per run: status (0 ok, 1 stopped, 2 unknown), refused calls. */
  readonly counts: Int32Array;
  /** Per run: tokens, cost, duration. */
  readonly numbers: Float64Array;
}

/** Reads one slice into columns of run summaries; `onProgress` gets the bytes read since its last call. */
export async function mineSlice(
  input: MineWorkerInput,
  onProgress: (bytes: number, spans: number) => void,
  chunk = CHUNK,
): Promise<MineWorkerOutput> {
  const collector = new RunCollector();
  const stream = traceStream(collector);
  const columns = new SummaryColumns();
  stream.write(Buffer.from(input.prefix));
  let bytes = 0;
  let reported = 0;
  // One buffer, read into again and again (the stream copies what it keeps): a new buffer a chunk costs more to get
  // from the system than the read itself.
  const buffer = Buffer.allocUnsafe(chunk);
  const handle = await open(input.file, 'r');
  try {
    while (input.start + bytes < input.end) {
      const { bytesRead } = await handle.read(
        buffer,
        0,
        Math.min(chunk, input.end - input.start - bytes),
        input.start + bytes,
      );
      if (bytesRead === 0) break;
      stream.write(buffer.subarray(0, bytesRead));
      // Finished traces become summaries at once: kept whole to the end, their runs made the heap (and every
      // collection) big, and the slice took a quarter longer.
      for (const run of collector.takeFinishedRuns()) columns.add(run);
      bytes += bytesRead;
      if (bytes - reported >= 8 << 20) {
        onProgress(bytes - reported, collector.spans);
        reported = bytes;
      }
    }
  } finally {
    await handle.close();
  }
  stream.write(Buffer.from(input.suffix));
  stream.end();
  onProgress(bytes - reported, collector.spans);
  for (const run of collector.runs()) columns.add(run);
  return columns.output(collector.spans);
}

/** Run summaries, column by column, in the order the runs started (as `RunCollector.runs()` gives them). */
class SummaryColumns {
  readonly #strings: string[] = [];
  readonly #index = new Map<string, number>();
  readonly #starts: number[] = [];
  readonly #refs: number[] = [];
  readonly #counts: number[] = [];
  readonly #numbers: number[] = [];

  add(run: RunRecord): void {
    const summary = summarizeRun(run);
    this.#starts.push(run.start);
    this.#refs.push(
      this.#intern(summary.agent),
      this.#intern(summary.mode),
      summary.stopReason === undefined ? -1 : this.#intern(summary.stopReason),
      this.#intern(summary.path.join('\u0000')),
    );
    this.#counts.push(summary.status === 'ok' ? 0 : summary.status === 'stopped' ? 1 : 2, summary.refused);
    this.#numbers.push(summary.tokens, summary.costUsd, summary.durationMs);
  }

  output(spans: number): MineWorkerOutput {
    const starts = this.#starts;
    // Stable: runs that started together keep the order they came in.
    const order = starts.map((_, i) => i).sort((a, b) => starts[a]! - starts[b]!);
    const refs = new Int32Array(order.length * 4);
    const counts = new Int32Array(order.length * 2);
    const numbers = new Float64Array(order.length * 3);
    order.forEach((from, to) => {
      for (let k = 0; k < 4; k++) refs[to * 4 + k] = this.#refs[from * 4 + k]!;
      for (let k = 0; k < 2; k++) counts[to * 2 + k] = this.#counts[from * 2 + k]!;
      for (let k = 0; k < 3; k++) numbers[to * 3 + k] = this.#numbers[from * 3 + k]!;
    });
    return { type: 'done', spans, strings: this.#strings, refs, counts, numbers };
  }

  #intern(text: string): number {
    let i = this.#index.get(text);
    if (i === undefined) {
      i = this.#strings.length;
      this.#strings.push(text);
      this.#index.set(text, i);
    }
    return i;
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  mineSlice(workerData as MineWorkerInput, (bytes, spans) => port.postMessage({ type: 'progress', bytes, spans })).then(
    output =>
      port.postMessage(output, [
        output.refs.buffer as ArrayBuffer,
        output.counts.buffer as ArrayBuffer,
        output.numbers.buffer as ArrayBuffer,
      ]),
    (error: unknown) =>
      port.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
  );
}
