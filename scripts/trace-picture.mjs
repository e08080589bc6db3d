#!/usr/bin/env node
// Draws one trace read from Jaeger's query API as an SVG waterfall (the README's picture of a trace).
//   node scripts/trace-picture.mjs --jaeger http://127.0.0.1:16686 --service bounded-demo --scenario thrash > docs/trace.svg
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    jaeger: { type: 'string', default: 'http://127.0.0.1:16686' },
    service: { type: 'string', default: 'bounded-demo' },
    scenario: { type: 'string', default: 'thrash' },
  },
});

const response = await fetch(`${values.jaeger}/api/traces?service=${encodeURIComponent(values.service)}&limit=100`);
const traces = (await response.json()).data ?? [];
const tagOf = (span, key) => span.tags.find(tag => tag.key === key)?.value;
const trace = traces.find(t => t.spans.some(s => tagOf(s, 'bounded.metadata.scenario') === values.scenario));
if (!trace) {
  console.error(`no trace of scenario "${values.scenario}" for service ${values.service} in ${values.jaeger}`);
  process.exit(1);
}

// Depth-first order, children by start time, as Jaeger's own timeline shows them.
const byParent = new Map();
for (const span of trace.spans) {
  const parent = span.references.find(r => r.refType === 'CHILD_OF')?.spanID ?? 'root';
  if (!byParent.has(parent)) byParent.set(parent, []);
  byParent.get(parent).push(span);
}
const rows = [];
const walk = (parent, depth) => {
  for (const span of (byParent.get(parent) ?? []).sort((a, b) => a.startTime - b.startTime)) {
    rows.push({ span, depth });
    walk(span.spanID, depth + 1);
  }
};
walk('root', 0);

const start = Math.min(...trace.spans.map(s => s.startTime));
const end = Math.max(...trace.spans.map(s => s.startTime + s.duration));
const total = Math.max(1, end - start);
const width = 1240;
const labelWidth = 300;
const barArea = width - labelWidth - 460;
const rowHeight = 22;
const top = 56;
const height = top + rows.length * rowHeight + 44;
const escapeXml = text => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = us => (us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us} µs`);

const colour = span => {
  const decision = tagOf(span, 'bounded.decision');
  if (decision === 'deny' || decision === 'rejected') return '#d64545';
  if (decision === 'dedup') return '#d9a300';
  if (decision === 'approved') return '#3b82c4';
  if (span.operationName.startsWith('execute_tool')) return '#3f9b57';
  return tagOf(span, 'bounded.stop_reason') ? '#8c5bd6' : '#6b7280';
};

const lines = [];
lines.push(
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, SFMono-Regular, Menlo, monospace" font-size="12">`,
  `<title>A Bounded trace from Jaeger: ${escapeXml(values.scenario)} scenario</title>`,
  `<rect width="100%" height="100%" fill="#ffffff"/>`,
);
const root = rows[0].span;
const stop = rows.map(r => tagOf(r.span, 'bounded.stop_reason')).find(Boolean);
lines.push(
  `<text x="16" y="24" font-size="14" font-weight="bold">Trace ${escapeXml(trace.traceID.slice(0, 16))} · ${escapeXml(values.service)} · ${trace.spans.length} spans · ${fmt(total)}</text>`,
  `<text x="16" y="42" fill="#555">ticket ${escapeXml(tagOf(root, 'bounded.metadata.ticket') ?? '')}: ${stop ? `stopped, bounded.stop_reason = ${escapeXml(stop)}` : 'ok'} (as read back from Jaeger)</text>`,
);
rows.forEach(({ span, depth }, i) => {
  const y = top + i * rowHeight;
  const x = labelWidth + ((span.startTime - start) / total) * barArea;
  const w = Math.max(2, (span.duration / total) * barArea);
  if (i % 2 === 0) lines.push(`<rect x="0" y="${y - 2}" width="${width}" height="${rowHeight}" fill="#f6f7f9"/>`);
  lines.push(`<text x="${16 + depth * 16}" y="${y + 13}">${escapeXml(span.operationName)}</text>`);
  lines.push(
    `<rect x="${x.toFixed(1)}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowHeight - 8}" rx="2" fill="${colour(span)}"/>`,
  );
  const notes = [
    tagOf(span, 'bounded.decision') && `decision=${tagOf(span, 'bounded.decision')}`,
    tagOf(span, 'bounded.decision.reason') && `reason=${tagOf(span, 'bounded.decision.reason')}`,
    tagOf(span, 'bounded.stop_reason') && `stop_reason=${tagOf(span, 'bounded.stop_reason')}`,
    tagOf(span, 'bounded.budget.tool_calls.used') !== undefined &&
      `tool_calls ${tagOf(span, 'bounded.budget.tool_calls.used')}/${tagOf(span, 'bounded.budget.tool_calls.limit')}`,
  ].filter(Boolean);
  lines.push(`<text x="${labelWidth + barArea + 12}" y="${y + 13}" fill="#333">${escapeXml(notes.join(' '))}</text>`);
});
const legendY = height - 16;
const legend = [
  ['#6b7280', 'run'],
  ['#8c5bd6', 'stopped run'],
  ['#3f9b57', 'tool call allowed'],
  ['#3b82c4', 'approved write'],
  ['#d9a300', 'deduplicated'],
  ['#d64545', 'refused before it ran'],
];
legend.forEach(([fill, label], i) => {
  const x = 16 + i * 170;
  lines.push(
    `<rect x="${x}" y="${legendY - 10}" width="12" height="12" fill="${fill}"/>`,
    `<text x="${x + 18}" y="${legendY}">${label}</text>`,
  );
});
lines.push('</svg>');
process.stdout.write(`${lines.join('\n')}\n`);
