import { describe, expect, it } from 'vitest';
import { JsonValueStream } from './json-stream.js';
import { readJaegerSpan, ScannedSpan, scanJaegerSpan } from './span-text.js';
import { type JaegerSpan, RunCollector, traceStream } from './traces.js';

type Tag = { key: string; type?: string; value: unknown };

const tag = (key: string, value: unknown): Tag => ({
  key,
  type: typeof value === 'number' ? (Number.isInteger(value) ? 'int64' : 'float64') : typeof value,
  value,
});

/** A run span and its tool spans, the members in the order Jaeger writes them. */
function trace(id: number, tools: Array<{ name: string; tags: Tag[] }>, runTags: Tag[] = []) {
  const traceID = id.toString(16).padStart(32, '0');
  const runID = (id * 16).toString(16).padStart(16, '0');
  const start = 1_793_491_201_000_000 + id * 10_000;
  return {
    traceID,
    spans: [
      {
        traceID,
        spanID: runID,
        operationName: 'invoke_agent helper',
        references: [],
        startTime: start,
        duration: 5000,
        tags: [
          tag('gen_ai.agent.name', 'helper'),
          tag('bounded.run.id', `run-${id}`),
          tag('bounded.mode', 'agent'),
          tag('bounded.status', 'ok'),
          tag('gen_ai.usage.input_tokens', 120),
          tag('gen_ai.usage.output_tokens', 30),
          tag('bounded.cost.usd', 0.00042),
          tag('otel.scope.name', '@bounded/otel'),
          ...runTags,
        ],
        logs: [],
        processID: 'p1',
        warnings: null,
      },
      ...tools.map((tool, k) => ({
        traceID,
        spanID: (id * 16 + k + 1).toString(16).padStart(16, '0'),
        operationName: `execute_tool ${tool.name}`,
        references: [{ refType: 'CHILD_OF', traceID, spanID: runID }],
        startTime: start + 100 * (k + 1),
        duration: 80,
        tags: tool.tags,
        logs: [],
        processID: 'p1',
        warnings: null,
      })),
    ],
    processes: { p1: { serviceName: 'desk', tags: [] } },
    warnings: null,
  };
}

const allow = (name: string): { name: string; tags: Tag[] } => ({
  name,
  tags: [
    tag('gen_ai.operation.name', 'execute_tool'),
    tag('gen_ai.tool.name', name),
    tag('bounded.decision', 'allow'),
    tag('span.kind', 'internal'),
  ],
});

/** The runs as the span objects say, each built whole by JSON.parse: what any reader must give. */
function expected(doc: unknown) {
  const collector = new RunCollector();
  for (const t of (doc as { data: Array<{ spans: JaegerSpan[] }> }).data) {
    for (const span of t.spans) collector.addJaegerSpan(span);
  }
  return { runs: collector.runs(), spans: collector.spans };
}

function read(text: string, chunk = Number.POSITIVE_INFINITY) {
  const bytes = Buffer.from(text);
  const collector = new RunCollector();
  const stream = traceStream(collector);
  for (let i = 0; i < bytes.length; i += Math.min(chunk, bytes.length)) stream.write(bytes.subarray(i, i + chunk));
  stream.end();
  return { runs: collector.runs(), spans: collector.spans };
}

/** The first span of the first trace in `text`, scanned in place. */
function scanFirst(text: string): { end: number; span: ScannedSpan } {
  const span = new ScannedSpan();
  const start = text.indexOf('{', text.indexOf('"spans":['));
  return { end: scanJaegerSpan(text, start, text.length, false, span), span };
}

const DOCS: Record<string, unknown> = {
  'compact spans': {
    data: [
      trace(1, [allow('search.read'), allow('kb.read')]),
      trace(2, [
        allow('search.read'),
        {
          name: 'search.read',
          tags: [
            tag('gen_ai.tool.name', 'search.read'),
            tag('bounded.decision', 'deny'),
            tag('bounded.decision.rule', 'budgets.max_tool_calls'),
            tag('bounded.decision.reason', 'max_tool_calls'),
            tag('bounded.tool.outcome', 'refused'),
            tag('bounded.approved_by', 'ops'),
          ],
        },
      ]),
    ],
  },
  'escaped quotes, backslashes and brackets in tag values': {
    data: [
      trace(
        3,
        [
          {
            name: 'kb.read',
            tags: [
              tag('note', 'a "quoted" }],"value": [x] \\'),
              tag('gen_ai.tool.name', 'kb "read"\\n'),
              tag('bounded.decision', 'allow'),
            ],
          },
        ],
        [tag('bounded.metadata.ticket', 'T-"1"\\é}],"'), tag('bounded.stop.detail', 'line\nbreak\ttab')],
      ),
    ],
  },
  'unicode in names and values': {
    data: [
      trace(
        4,
        [allow('recherche.lire'), allow('知识.读取'), allow('emoji.🚀')],
        [tag('bounded.metadata.who', 'Zoë 🚀')],
      ),
    ],
  },
  'a tool name tag other than the span name, numbers and booleans as values': {
    data: [
      trace(5, [
        {
          name: 'kb.read',
          tags: [
            tag('gen_ai.tool.name', 'kb.read.v2'),
            tag('bounded.decision', 'approved'),
            tag('bounded.approved_by', 7),
          ],
        },
        { name: 'crm.update', tags: [tag('bounded.decision', true), tag('bounded.tool.outcome', 1.5e-7)] },
        { name: 'crm.read', tags: [] },
      ]),
    ],
  },
  'every tool tag there twice or more, the last one counting': {
    data: [
      trace(6, [
        {
          name: 'kb.read',
          tags: [
            tag('bounded.decision', 'deny'),
            tag('bounded.decision', 'allow'),
            tag('gen_ai.tool.name', 'a'),
            tag('gen_ai.tool.name', 'b'),
            tag('bounded.tool.outcome', 'ok'),
            tag('bounded.decision.rule', 'r'),
            tag('bounded.decision.reason', 'x'),
            tag('bounded.approved_by', 'y'),
          ],
        },
      ]),
    ],
  },
};

describe('scanJaegerSpan', () => {
  it('reads compact Jaeger spans in place', () => {
    const text = JSON.stringify(DOCS['compact spans']);
    const { end, span } = scanFirst(text);
    expect(end).toBeGreaterThan(0);
    expect(text.slice(end, end + 2)).toBe(',{');
    expect(span).toMatchObject({
      traceID: '00000000000000000000000000000001',
      spanID: '0000000000000010',
      parent: undefined,
      operationName: 'invoke_agent helper',
      startTime: 1_793_491_201_010_000,
      duration: 5000,
    });
    expect(span.keys.slice(0, span.count)).toEqual([
      'gen_ai.agent.name',
      'bounded.run.id',
      'bounded.mode',
      'bounded.status',
      'gen_ai.usage.input_tokens',
      'gen_ai.usage.output_tokens',
      'bounded.cost.usd',
    ]);
    expect(span.values.slice(0, span.count)).toEqual(['helper', 'run-1', 'agent', 'ok', 120, 30, 0.00042]);
  });

  it('declines any other layout (the full reader takes it): whitespace, another member order, a tag out of shape', () => {
    const doc = DOCS['compact spans'];
    expect(scanFirst(JSON.stringify(doc, null, 1)).end).toBe(-1);
    const reordered = JSON.stringify(doc).replace('"traceID":"00000000000000000000000000000001","spanID"', '"spanID"');
    expect(scanFirst(reordered).end).toBe(-1);
    const loose = JSON.stringify(doc).replace(
      '{"key":"gen_ai.agent.name","type":"string",',
      '{"type":"string","key":"gen_ai.agent.name",',
    );
    expect(scanFirst(loose).end).toBe(-1);
    const escapedKey = JSON.stringify(doc).replace('"key":"bounded.mode"', '"key":"bounded\\u002emode"');
    expect(scanFirst(escapedKey).end).toBe(-1);
    // Cut short: it says so by declining, never by reading a part.
    const text = JSON.stringify(doc);
    const { end } = scanFirst(text);
    expect(scanFirst(text.slice(0, end - 1)).end).toBe(-1);
  });

  it('walks a tail other than the usual one, and declines a member it has read already', () => {
    const text = JSON.stringify(DOCS['compact spans']);
    const extra = text.replace(
      '"logs":[],"processID":"p1","warnings":null}',
      '"logs":[],"processID":"p1","warnings":["w"],"x":{"y":[1,"]"]}}',
    );
    const { end } = scanFirst(extra);
    expect(extra.slice(end, end + 2)).toBe(',{');
    const again = text.replace('"logs":[],"processID":"p1","warnings":null}', '"logs":[],"startTime":1}');
    expect(scanFirst(again).end).toBe(-1);
  });
});

describe('reading Jaeger JSON', () => {
  for (const [name, doc] of Object.entries(DOCS)) {
    it(`gives the runs the span objects say: ${name}`, () => {
      const want = expected(doc);
      expect(want.runs.length).toBeGreaterThan(0);
      // The compact text is read in place, span by span, however many tags a span has.
      const compact = JSON.stringify(doc);
      const scanned = new ScannedSpan();
      let inPlace = 0;
      const stream = new JsonValueStream([], () => {}, {
        'data[].spans[]': (text, start, end) => {
          const at = scanJaegerSpan(text, start, end, false, scanned);
          if (at > 0) inPlace++;
          return at > 0 ? at : readJaegerSpan(text, start, end, false)[1];
        },
      });
      stream.write(Buffer.from(compact));
      stream.end();
      expect(inPlace).toBe(want.spans);
      for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, 2), JSON.stringify(doc, null, '\t')]) {
        for (const chunk of [Number.POSITIVE_INFINITY, 1, 7, 64, 1000]) {
          expect(read(text, chunk), `${text.length} bytes in chunks of ${chunk}`).toEqual(want);
        }
      }
    });
  }

  it('reads spans whose members come in another order, or whose first reference is not the parent', () => {
    const doc = DOCS['compact spans'] as { data: Array<{ spans: Array<Record<string, unknown>> }> };
    const shuffled = {
      data: doc.data.map(t => ({
        ...t,
        spans: t.spans.map(span => {
          const { tags, logs, references, ...rest } = span;
          const refs = references as unknown[];
          return {
            tags: (tags as Tag[]).map(({ key, type, value }) => ({ value, type, key })),
            references: refs.length > 0 ? [{ refType: 'FOLLOWS_FROM', traceID: 'f', spanID: 'f' }, ...refs] : refs,
            ...rest,
            logs,
          };
        }),
      })),
    };
    const want = expected(shuffled);
    expect(want.runs[0]!.tools).toHaveLength(2);
    expect(read(JSON.stringify(shuffled))).toEqual(want);
  });
});
