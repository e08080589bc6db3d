import { CliUsageError } from './args.js';
import type { CliIo } from './io.js';
import { progressBar } from './progress.js';
import { parseSince, RunCollector, readJaegerTraces, readTraceFile } from './traces.js';

/** Where traces come from: a file, or Jaeger's query API. */
export type TraceSource =
  | { readonly kind: 'file'; readonly file: string }
  | {
      readonly kind: 'jaeger';
      readonly url: string;
      readonly service: string;
      readonly since: number | undefined;
      readonly limit: number | undefined;
    };

export const TRACE_SOURCE_OPTIONS = {
  jaeger: { type: 'string' },
  service: { type: 'string' },
  since: { type: 'string' },
  limit: { type: 'string' },
} as const;

export const TRACE_SOURCE_HELP = `  <file>            A trace file: Jaeger JSON (the query API's answer, or the UI's "Download JSON"),
                    OTLP JSON, or JSON Lines of either; read in chunks, any size
  --jaeger <url>    Read from Jaeger's query API instead (e.g. http://127.0.0.1:16686)
  --service <name>  The service whose traces to read (with --jaeger)
  --since <when>    Only traces since: 30m, 2h, 7d, or a date (with --jaeger; default: Jaeger's own)
  --limit <n>       At most this many traces (with --jaeger; default 10000)`;

/** The trace source a command line names; a usage error when it names none, or both. */
export function traceSource(
  command: string,
  values: Readonly<Record<string, string | boolean | undefined>>,
  positionals: readonly string[],
): TraceSource {
  const jaeger = values.jaeger;
  if (typeof jaeger === 'string') {
    if (positionals.length > 0) {
      throw new CliUsageError(`give a trace file or --jaeger, not both (got ${JSON.stringify(positionals[0])})`);
    }
    if (!/^https?:\/\//.test(jaeger))
      throw new CliUsageError(`--jaeger needs an http(s) URL, got ${JSON.stringify(jaeger)}`);
    const service = values.service;
    if (typeof service !== 'string' || service === '') {
      throw new CliUsageError("--jaeger needs --service <name>: which service's traces to read");
    }
    let since: number | undefined;
    if (typeof values.since === 'string') {
      since = parseSince(values.since);
      if (since === undefined) {
        throw new CliUsageError(`--since: expected 30m, 2h, 7d or a date, got ${JSON.stringify(values.since)}`);
      }
    }
    return { kind: 'jaeger', url: jaeger, service, since, limit: positiveInt('--limit', values.limit) };
  }
  for (const option of ['service', 'since', 'limit'] as const) {
    if (values[option] !== undefined) throw new CliUsageError(`--${option} goes with --jaeger <url>`);
  }
  if (positionals.length === 0) {
    throw new CliUsageError(`missing the traces: bounded ${command} <file>, or --jaeger <url> --service <name>`);
  }
  if (positionals.length > 1) throw new CliUsageError(`takes one trace file, got ${positionals.length}`);
  return { kind: 'file', file: positionals[0]! };
}

export function describeSource(source: TraceSource): string {
  return source.kind === 'file' ? source.file : `Jaeger ${source.url}, service ${source.service}`;
}

/** Reads the source into a collector, with a progress bar on a terminal's stderr. Throws TraceInputError. */
export async function collectRuns(
  source: TraceSource,
  io: CliIo,
  options: { withMarks?: boolean; quiet?: boolean } = {},
): Promise<RunCollector> {
  const collector = new RunCollector({ withMarks: options.withMarks ?? false });
  const bar = progressBar(io.stderr, 'reading traces', options.quiet ? { enabled: false } : {});
  try {
    if (source.kind === 'file') await readTraceFile(source.file, collector, p => bar.update(p));
    else {
      await readJaegerTraces(
        {
          url: source.url,
          service: source.service,
          ...(source.since === undefined ? {} : { since: source.since }),
          ...(source.limit === undefined ? {} : { limit: source.limit }),
        },
        collector,
        p => bar.update(p),
      );
    }
  } finally {
    bar.done();
  }
  return collector;
}

export function positiveInt(option: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n <= 0) {
    throw new CliUsageError(`${option} needs a whole number above 0, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A percentage, `5` or `5%`, as a share (0.05); a usage error otherwise. */
export function shareOption(option: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const n = Number(text.endsWith('%') ? text.slice(0, -1) : text);
  if (!Number.isFinite(n) || n < 0 || n > 100) {
    throw new CliUsageError(`${option} needs a percentage (e.g. 5 or 5%), got ${JSON.stringify(value)}`);
  }
  return n / 100;
}
