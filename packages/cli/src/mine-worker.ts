import { open } from 'node:fs/promises';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { RunCollector, summarizeRun, traceStream } from './traces.js';

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
  const runs = collector.runs();
  const strings: string[] = [];
  const index = new Map<string, number>();
  const intern = (text: string) => {
    let i = index.get(text);
    if (i === undefined) {
      i = strings.length;
      strings.push(text);
      index.set(text, i);
    }
    return i;
  };
  const refs = new Int32Array(runs.length * 4);
  const counts = new Int32Array(runs.length * 2);
  const numbers = new Float64Array(runs.length * 3);
  runs.forEach((run, i) => {
    const summary = summarizeRun(run);
    refs[i * 4] = intern(summary.agent);
    refs[i * 4 + 1] = intern(summary.mode);
    refs[i * 4 + 2] = summary.stopReason === undefined ? -1 : intern(summary.stopReason);
    refs[i * 4 + 3] = intern(summary.path.join('\u0000'));
    counts[i * 2] = summary.status === 'ok' ? 0 : summary.status === 'stopped' ? 1 : 2;
    counts[i * 2 + 1] = summary.refused;
    numbers[i * 3] = summary.tokens;
    numbers[i * 3 + 1] = summary.costUsd;
    numbers[i * 3 + 2] = summary.durationMs;
  });
  return { type: 'done', spans: collector.spans, strings, refs, counts, numbers };
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
