import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mineSlice } from './mine-worker.js';
import { BYTE_AT_A_TIME_MS, tempDir } from './test-utils/io.js';

let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dir = await tempDir();
});

afterAll(async () => {
  await dir.remove();
});

/** A compact Jaeger trace: a run span and its tool spans (one refused), with a multi-byte name in the mix. */
function trace(i: number, tools: readonly string[]): string {
  const id = i.toString(16).padStart(32, '0');
  const run = (i * 16).toString(16).padStart(16, '0');
  const tag = (key: string, value: string | number) =>
    `{"key":"${key}","type":"${typeof value === 'number' ? 'int64' : 'string'}","value":${JSON.stringify(value)}}`;
  const spans = [
    `{"traceID":"${id}","spanID":"${run}","operationName":"invoke_agent desk","references":[],"startTime":${1e15 + i * 1e4},"duration":900,"tags":[${[tag('bounded.mode', 'agent'), tag('bounded.status', 'ok'), tag('gen_ai.usage.input_tokens', 10 + i)].join(',')}],"logs":[],"processID":"p1","warnings":null}`,
    ...tools.map(
      (tool, k) =>
        `{"traceID":"${id}","spanID":"${(i * 16 + k + 1).toString(16).padStart(16, '0')}","operationName":"execute_tool ${tool}","references":[{"refType":"CHILD_OF","traceID":"${id}","spanID":"${run}"}],"startTime":${1e15 + i * 1e4 + k + 1},"duration":80,"tags":[${tag('bounded.decision', k === 2 ? 'deny' : 'allow')}],"logs":[],"processID":"p1","warnings":null}`,
    ),
  ];
  return `{"traceID":"${id}","spans":[${spans.join(',')}],"processes":{"p1":{"serviceName":"desk","tags":[]}},"warnings":null}`;
}

describe('mineSlice', () => {
  it(
    'gives the same runs whatever the size of the chunks it reads, a slice cut anywhere in a trace file',
    async () => {
      // Small: read a byte at a time, every byte is a read of the file.
      const traces = Array.from({ length: 12 }, (_, i) =>
        trace(i, i % 2 ? ['kb.read', 'kb.écrire', 'kb.read'] : ['a']),
      );
      const text = `{"data":[${traces.join(',')}]}`;
      const file = await dir.write('slice.json', text);
      // The second half of the file, as a worker reads it: from where a trace starts, with the document's head added.
      const start = Buffer.byteLength(text.slice(0, text.indexOf(traces[6]!)));
      const input = { file, start, end: Buffer.byteLength(text), prefix: '{"data":[', suffix: '' };
      const whole = await mineSlice(input, () => {});
      expect(whole.spans).toBe(3 * 2 + 3 * 4);
      expect(whole.counts.length / 2).toBe(6);
      let reported = 0;
      for (const chunk of [1, 7, 100, 4096]) {
        const out = await mineSlice(input, bytes => (reported += bytes), chunk);
        expect(out, `chunks of ${chunk}`).toEqual(whole);
      }
      expect(reported).toBe(4 * (input.end - input.start));
      expect(whole.strings).toContain('kb.read\u0000kb.écrire');
    },
    BYTE_AT_A_TIME_MS,
  );
});
