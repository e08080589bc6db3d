/**
 * `bounded mine` on 1,000,000 spans: a generated Jaeger JSON export (runs of an agent on three paths, the tags
 * @bounded/otel writes), mined by the command itself (`runCli(['mine', file, '--json'])`): read in chunks (by worker
 * threads for a file this size), runs rebuilt, paths counted, the workflow skeleton written. Beside it: reading the
 * same file's bytes only, in chunks as the command reads them (the I/O floor). Target: at least 200,000 spans a second.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@bounded/cli';
import { environment } from './harness.js';

const SPANS = Number(process.env.BOUNDED_MINE_SPANS ?? 1_000_000);
const TARGET = 200_000;

/** The traffic: 60% search → read (3 spans a run), 25% lookup → update → read (4), 15% a search loop (14). */
const PATHS: ReadonlyArray<{ share: number; tools: readonly string[]; stop?: string }> = [
  { share: 0.6, tools: ['search.read', 'kb.read'] },
  { share: 0.25, tools: ['crm.read', 'crm.update', 'kb.read'] },
  { share: 0.15, tools: Array(12).fill('search.read'), stop: 'max_tool_calls' },
];

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

function tag(key: string, value: string | number | boolean): string {
  const type =
    typeof value === 'number'
      ? Number.isInteger(value)
        ? 'int64'
        : 'float64'
      : typeof value === 'boolean'
        ? 'bool'
        : 'string';
  return `{"key":${JSON.stringify(key)},"type":"${type}","value":${JSON.stringify(value)}}`;
}

/** One trace (a run span and its tool spans) in Jaeger's JSON, and its span count. */
function trace(i: number, start: number): [string, number] {
  const pick = (i * 7919) % 100;
  const path = pick < 60 ? PATHS[0]! : pick < 85 ? PATHS[1]! : PATHS[2]!;
  const traceId = hex(i, 32);
  const runSpan = hex(i * 16 + 1, 16);
  const spans: string[] = [];
  const stopped = path.stop !== undefined;
  const duration = 2000 + (i % 50) * 100;
  const runTags = [
    tag('gen_ai.operation.name', 'invoke_agent'),
    tag('gen_ai.agent.name', 'support-agent'),
    tag('bounded.run.id', `run-${i}`),
    tag('bounded.mode', 'agent'),
    tag('bounded.enforcement', 'enforce'),
    tag('bounded.status', stopped ? 'stopped' : 'ok'),
    ...(stopped
      ? [tag('bounded.stop_reason', path.stop!), tag('bounded.stop_kind', path.stop!), tag('error.type', path.stop!)]
      : []),
    tag('bounded.steps', path.tools.length + 1),
    tag('bounded.tool_calls', path.tools.length),
    tag('gen_ai.usage.input_tokens', 850 * (path.tools.length + 1)),
    tag('gen_ai.usage.output_tokens', 45 * (path.tools.length + 1)),
    tag('bounded.cost.usd', 0.00018 * (path.tools.length + 1)),
    tag('bounded.budget.tool_calls.limit', 12),
    tag('bounded.budget.tool_calls.used', path.tools.length),
    tag('bounded.budget.tool_calls.remaining', 12 - path.tools.length),
    tag('otel.scope.name', '@bounded/otel'),
    tag('span.kind', 'internal'),
  ];
  spans.push(
    `{"traceID":"${traceId}","spanID":"${runSpan}","operationName":"invoke_agent support-agent","references":[],"startTime":${start},"duration":${duration},"tags":[${runTags.join(',')}],"logs":[],"processID":"p1","warnings":null}`,
  );
  const calls = stopped ? [...path.tools, 'search.read'] : path.tools;
  calls.forEach((tool, k) => {
    const refused = k >= path.tools.length;
    const tags = [
      tag('gen_ai.operation.name', 'execute_tool'),
      tag('gen_ai.tool.name', tool),
      tag('gen_ai.tool.call.id', `call_${k + 1}`),
      tag('bounded.decision', refused ? 'deny' : 'allow'),
      ...(refused
        ? [
            tag('bounded.decision.rule', 'budgets.max_tool_calls'),
            tag('bounded.decision.reason', 'max_tool_calls'),
            tag('bounded.tool.outcome', 'refused'),
          ]
        : []),
      tag('otel.scope.name', '@bounded/otel'),
      tag('span.kind', 'internal'),
    ];
    spans.push(
      `{"traceID":"${traceId}","spanID":"${hex(i * 16 + 2 + k, 16)}","operationName":"execute_tool ${tool}","references":[{"refType":"CHILD_OF","traceID":"${traceId}","spanID":"${runSpan}"}],"startTime":${start + 100 * (k + 1)},"duration":80,"tags":[${tags.join(',')}],"logs":[],"processID":"p1","warnings":null}`,
    );
  });
  return [
    `{"traceID":"${traceId}","spans":[${spans.join(',')}],"processes":{"p1":{"serviceName":"support-desk","tags":[]}},"warnings":null}`,
    spans.length,
  ];
}

async function writeFixture(file: string): Promise<{ spans: number; runs: number }> {
  const out = createWriteStream(file);
  const write = (text: string) =>
    new Promise<void>(resolve => {
      if (out.write(text)) resolve();
      else out.once('drain', resolve);
    });
  await write('{"data":[');
  let spans = 0;
  let runs = 0;
  let chunk: string[] = [];
  const start = Date.UTC(2026, 10, 1) * 1000;
  while (spans < SPANS) {
    const [text, count] = trace(runs, start + runs * 10_000);
    chunk.push(text);
    spans += count;
    runs++;
    if (chunk.length === 500) {
      await write(`${runs > 500 ? ',' : ''}${chunk.join(',')}`);
      chunk = [];
    }
  }
  if (chunk.length > 0) await write(`${runs > chunk.length ? ',' : ''}${chunk.join(',')}`);
  await write('],"total":0,"limit":0,"offset":0,"errors":null}\n');
  await new Promise<void>(resolve => out.end(resolve));
  return { spans, runs };
}

/** Reads the file's bytes, 1 MB at a time into one buffer. */
async function readChunks(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, bytes);
      if (bytesRead === 0) return bytes;
      bytes += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** `bounded mine <file> --json`, in this process, as the command runs it. */
async function mine(file: string, out: string) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let stdout = '';
  const code = await runCli(['mine', file, '--json', '--out', out], {
    stdout: {
      write: (chunk: string) => {
        stdout += chunk;
      },
    },
    stderr: process.stderr,
    env: process.env,
  });
  if (code !== 0) throw new Error(`bounded mine exited ${code}: ${stdout}`);
  const used = process.cpuUsage(cpu);
  const result = JSON.parse(stdout) as { spans: number; runs: number; paths: Array<{ path: string[]; share: number }> };
  return {
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
    spans: result.spans,
    result,
  };
}

async function main() {
  console.log(`Bounded mine benchmark (${environment()})`);
  const dir = await mkdtemp(join(tmpdir(), 'bounded-mine-bench-'));
  try {
    // BOUNDED_MINE_FIXTURE=path keeps the generated file there (to mine it by hand: bounded mine path).
    const file = process.env.BOUNDED_MINE_FIXTURE ?? join(dir, 'traces.json');
    const generated = await writeFixture(file);
    const size = (await stat(file)).size;
    console.log(
      `  input: ${generated.spans.toLocaleString('en-US')} spans in ${generated.runs.toLocaleString('en-US')} traces, Jaeger JSON, ${(size / 1e6).toFixed(0)} MB`,
    );
    // The I/O floor: the file's bytes read in 1 MB chunks into one buffer, as the command reads them. (Reading it whole,
    // into one 848 MB buffer, costs far more than the reading: the memory is fresh, page by page. It is shown beside.)
    const ioStarted = performance.now();
    await readChunks(file);
    const ioSeconds = (performance.now() - ioStarted) / 1000;
    const wholeStarted = performance.now();
    await readFile(file);
    const wholeSeconds = (performance.now() - wholeStarted) / 1000;

    // Three rounds; the median counts (the first also warms the JIT).
    const out = join(dir, 'mined.workflow.ts');
    const rounds = [await mine(file, out), await mine(file, out), await mine(file, out)].sort(
      (a, b) => a.seconds - b.seconds,
    );
    const median = rounds[1]!;
    const top = median.result.paths[0]!;
    if (
      median.spans !== generated.spans ||
      median.result.runs !== generated.runs ||
      top.share < 0.59 ||
      top.share > 0.61
    ) {
      throw new Error(
        `mined the wrong thing: ${median.spans} spans, ${median.result.runs} runs, top share ${top.share}`,
      );
    }
    const rate = median.spans / median.seconds;
    console.log(
      `\n  read the file's bytes only (I/O floor)  ${ioSeconds.toFixed(2)} s  (${(size / 1e6 / ioSeconds).toFixed(0)} MB/s, 1 MB chunks into one buffer; readFile of it whole: ${wholeSeconds.toFixed(2)} s)`,
    );
    console.log(
      `  bounded mine (stream, runs, paths)      ${median.seconds.toFixed(2)} s  [min ${rounds[0]!.seconds.toFixed(2)}, max ${rounds[2]!.seconds.toFixed(2)}]  (${(size / 1e6 / median.seconds).toFixed(0)} MB/s)`,
    );
    console.log(
      `  CPU time of that run, all threads       ${median.cpuSeconds.toFixed(2)} s  (a file this size is read in slices, one per CPU: ${availableParallelism()} here)`,
    );
    console.log(
      `  top path ${top.path.join(' → ')}: ${(top.share * 100).toFixed(1)}% of ${median.result.runs.toLocaleString('en-US')} runs (as generated)`,
    );
    console.log(
      `\n  ${Math.round(rate).toLocaleString('en-US')} spans/s  ratio to target = ${(rate / TARGET).toFixed(2)}  (target >= ${TARGET.toLocaleString('en-US')} spans/s: ${rate >= TARGET ? 'met' : 'MISSED'})`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
