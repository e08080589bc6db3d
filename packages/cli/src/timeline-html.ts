import { formatCost, formatInt, formatMs } from './stats.js';
import type { RunRecord, ToolCallRecord } from './traces.js';

export interface TimelinePageOptions {
  readonly title?: string;
  /** Where the runs came from, shown under the title. */
  readonly source: string;
  readonly generatedAt?: Date;
}

const DECISIONS = ['allow', 'approved', 'dedup', 'shadow_deny', 'deny', 'rejected', 'unknown'] as const;

/**
 * One self-contained HTML page (inline CSS and script, nothing fetched): a summary table, then a timeline per run,
 * with the run's tool calls as bars on a lane per tool (coloured by the gateway's decision), model calls and workflow
 * steps on their own lanes, and the stop marked with its reason.
 */
export function renderTimelinePage(runs: readonly RunRecord[], options: TimelinePageOptions): string {
  const title = options.title ?? 'Bounded run report';
  const stopped = runs.filter(run => run.status === 'stopped').length;
  const ok = runs.filter(run => run.status === 'ok').length;
  const generated = (options.generatedAt ?? new Date()).toISOString().replace('T', ' ').slice(0, 19);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <h1>${esc(title)}</h1>
  <p class="meta">${esc(options.source)} · generated ${esc(generated)} UTC</p>
  <p class="counts" id="counts"><b>${runs.length}</b> run${runs.length === 1 ? '' : 's'}: <span class="ok">${ok} ok</span>, <span class="stopped">${stopped} stopped</span></p>
  <div class="controls">
    <label><input type="checkbox" id="only-stopped"> only stopped runs</label>
    <span class="legend">${DECISIONS.filter(d => d !== 'unknown')
      .map(d => `<span class="key d-${d}"></span>${d.replace('_', ' ')}`)
      .join(
        ' ',
      )} <span class="key model"></span>model call <span class="key step"></span>workflow step <span class="key stop"></span>stop</span>
  </div>
</header>
<main>
<table class="summary">
<thead><tr><th>run</th><th>agent</th><th>mode</th><th>outcome</th><th>duration</th><th>tool calls</th><th>refused</th><th>tokens</th><th>cost</th></tr></thead>
<tbody>
${runs.map(summaryRow).join('\n')}
</tbody>
</table>
${runs.map(runSection).join('\n')}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function summaryRow(run: RunRecord): string {
  const refused = run.tools.filter(isRefused).length;
  return `<tr class="${run.status}"><td><a href="#run-${attr(run.runId)}">${esc(short(run.runId))}</a></td><td>${esc(run.agent)}</td><td>${esc(run.mode)}</td><td>${outcomeBadge(run)}</td><td>${esc(formatMs(run.durationMs))}</td><td>${run.tools.length - refused}</td><td>${refused}</td><td>${esc(formatInt(run.inputTokens + run.outputTokens))}</td><td>${esc(formatCost(run.costUsd))}</td></tr>`;
}

function runSection(run: RunRecord): string {
  const total = Math.max(run.durationMs, 0.001);
  const x = (time: number) => clamp(((time - run.start) / total) * 100);
  const w = (ms: number) => Math.max(0.4, clamp((ms / total) * 100));
  /** `left` and `width` of a bar, kept inside the track (times in an audit log have millisecond precision). */
  const place = (time: number, ms: number) => {
    const width = w(ms);
    const left = Math.min(x(time), 100 - width);
    return `left:${pct(left)};width:${pct(width)}`;
  };
  const lanes: string[] = [];
  const models = run.marks.filter(m => m.kind === 'usage' || m.kind === 'step');
  if (models.length > 0) {
    lanes.push(
      lane(
        'model',
        models
          .map(
            m =>
              `<span class="tick model" style="left:${pct(x(m.time))}" title="${attr(`${m.kind === 'usage' ? 'model call' : 'step'} at +${formatMs(m.time - run.start)}: ${m.label}`)}"></span>`,
          )
          .join(''),
      ),
    );
  }
  const steps = run.marks.filter(m => m.kind === 'workflow_step');
  if (steps.length > 0) {
    lanes.push(
      lane(
        'workflow',
        steps
          .map(
            m =>
              `<span class="bar step" style="${place(m.time, m.durationMs)}" title="${attr(`step ${m.label}, ${formatMs(m.durationMs)}`)}"><i>${esc(m.label)}</i></span>`,
          )
          .join(''),
      ),
    );
  }
  const byTool = new Map<string, ToolCallRecord[]>();
  for (const call of run.tools) {
    const list = byTool.get(call.tool) ?? [];
    list.push(call);
    byTool.set(call.tool, list);
  }
  for (const [tool, calls] of byTool) {
    lanes.push(
      lane(
        tool,
        calls
          .map(call => {
            const decision = (DECISIONS as readonly string[]).includes(call.decision) ? call.decision : 'unknown';
            const what = [
              `${call.tool}: ${call.decision}`,
              call.reason ? `reason ${call.reason}` : '',
              call.rule ? `rule ${call.rule}` : '',
              call.approvedBy ? `approved by ${call.approvedBy}` : '',
              `outcome ${call.outcome}`,
              `at +${formatMs(call.start - run.start)} for ${formatMs(call.durationMs)}`,
            ]
              .filter(Boolean)
              .join(', ');
            return `<span class="bar tool d-${decision}" data-decision="${attr(call.decision)}" style="${place(call.start, call.durationMs)}" title="${attr(what)}"></span>`;
          })
          .join(''),
      ),
    );
  }
  const approvals = run.marks.filter(m => m.kind === 'approval');
  const stop =
    run.status === 'stopped' ? (run.marks.find(m => m.kind === 'stop')?.time ?? run.start + run.durationMs) : undefined;
  const stopMark =
    stop === undefined
      ? ''
      : `<div class="stop-mark${x(stop) > 70 ? ' flip' : ''}" style="left:${pct(x(stop))}" title="${attr(`stopped: ${run.stopReason ?? ''} ${run.stopDetail ?? ''}`)}"><span>${esc(run.stopReason ?? 'stopped')}</span></div>`;
  const meta = [
    `${run.mode} ${esc(run.agent)}`,
    `run <code>${esc(run.runId)}</code>`,
    run.parentRunId
      ? `escalated from <a href="#run-${attr(run.parentRunId)}"><code>${esc(short(run.parentRunId))}</code></a>`
      : '',
    run.tenant ? `tenant ${esc(run.tenant)}` : '',
    new Date(run.start).toISOString().replace('T', ' ').slice(0, 23),
    formatMs(run.durationMs),
    `${run.tools.length} tool call${run.tools.length === 1 ? '' : 's'}`,
    `${formatInt(run.inputTokens + run.outputTokens)} tokens`,
    formatCost(run.costUsd),
    ...Object.entries(run.metadata).map(([key, value]) => `${esc(key)}=${esc(String(value))}`),
  ].filter(Boolean);
  return `<section class="run ${run.status}" id="run-${attr(run.runId)}" data-run-id="${attr(run.runId)}" data-status="${run.status}"${run.stopReason ? ` data-stop-reason="${attr(run.stopReason)}"` : ''}>
<h2>${esc(run.agent)} ${outcomeBadge(run)}</h2>
<p class="meta">${meta.join(' · ')}</p>
${run.stopDetail ? `<p class="detail">${esc(run.stopDetail)}</p>` : ''}
<div class="timeline" data-lanes="${lanes.length}">
<div class="axis"><span style="left:0">0</span><span style="left:50%">${esc(formatMs(total / 2))}</span><span style="left:100%">${esc(formatMs(total))}</span></div>
${lanes.join('\n')}
${stopMark}
</div>
${approvals.length > 0 ? `<ul class="events">${approvals.map(m => `<li>+${esc(formatMs(m.time - run.start))} ${esc(m.label)}</li>`).join('')}</ul>` : ''}
</section>`;
}

function lane(label: string, content: string): string {
  return `<div class="lane"><div class="label" title="${attr(label)}">${esc(label)}</div><div class="track">${content}</div></div>`;
}

function outcomeBadge(run: RunRecord): string {
  if (run.status === 'ok') return '<span class="badge ok">ok</span>';
  if (run.status === 'stopped') return `<span class="badge stopped">${esc(run.stopReason ?? 'stopped')}</span>`;
  return '<span class="badge unknown">did not end</span>';
}

function isRefused(call: ToolCallRecord): boolean {
  return call.outcome === 'refused' || call.decision === 'deny' || call.decision === 'rejected';
}

function short(id: string): string {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

function clamp(value: number): number {
  return Math.min(100, Math.max(0, value));
}

function pct(value: number): string {
  return `${value.toFixed(3)}%`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}

function attr(text: string): string {
  return esc(text);
}

const CSS = `
:root { --ok: #1a7f37; --stop: #cf222e; --muted: #656d76; --line: #d0d7de; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin: 0; color: #1f2328; background: #f6f8fa; }
header { padding: 16px 24px; background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
h1 { margin: 0 0 4px; font-size: 20px; }
h2 { margin: 0; font-size: 16px; display: flex; gap: 8px; align-items: center; }
main { padding: 16px 24px; }
.meta { color: var(--muted); margin: 4px 0; font-size: 13px; }
.counts .ok { color: var(--ok); } .counts .stopped { color: var(--stop); }
.controls { display: flex; gap: 24px; align-items: center; font-size: 13px; flex-wrap: wrap; }
.legend { color: var(--muted); } .key { display: inline-block; width: 12px; height: 10px; margin: 0 4px 0 10px; border-radius: 2px; vertical-align: middle; }
table.summary { border-collapse: collapse; background: #fff; font-size: 13px; margin-bottom: 16px; width: 100%; }
table.summary th, table.summary td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 10px; font-weight: 600; }
.badge.ok { background: #dafbe1; color: var(--ok); } .badge.stopped { background: #ffebe9; color: var(--stop); } .badge.unknown { background: #eee; color: var(--muted); }
section.run { background: #fff; border: 1px solid var(--line); border-left: 4px solid var(--ok); border-radius: 6px; padding: 12px 16px; margin-bottom: 12px; }
section.run.stopped { border-left-color: var(--stop); } section.run.unknown { border-left-color: var(--muted); }
.detail { font-size: 13px; color: var(--stop); margin: 4px 0; }
.timeline { position: relative; margin: 8px 0 0 140px; padding-top: 16px; }
.axis { position: relative; height: 14px; border-bottom: 1px solid var(--line); font-size: 11px; color: var(--muted); }
.axis span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
.axis span:first-child { transform: none; } .axis span:last-child { transform: translateX(-100%); }
.lane { position: relative; height: 22px; border-bottom: 1px dashed #eaeef2; }
.lane .label { position: absolute; left: -140px; width: 132px; text-align: right; font-size: 12px; line-height: 22px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.track { position: relative; height: 100%; }
.bar { position: absolute; top: 4px; height: 14px; border-radius: 3px; min-width: 3px; box-sizing: border-box; overflow: hidden; }
.bar i { font-style: normal; font-size: 10px; color: #fff; padding-left: 3px; white-space: nowrap; }
.tick { position: absolute; top: 3px; width: 3px; height: 16px; border-radius: 1px; }
.d-allow { background: #2da44e; } .d-approved { background: #0969da; } .d-dedup { background: #8c959f; }
.d-shadow_deny { background: #8250df; } .d-deny { background: #cf222e; } .d-rejected { background: #bc4c00; } .d-unknown { background: #afb8c1; }
.model { background: #d4a72c; } .step { background: #54aeff; } .key.stop { background: var(--stop); }
.stop-mark { position: absolute; top: 0; bottom: 0; width: 2px; background: var(--stop); }
.stop-mark span { position: absolute; top: -2px; left: 4px; font-size: 11px; font-weight: 600; color: var(--stop); white-space: nowrap; background: #fff; padding: 0 2px; }
.stop-mark.flip span { left: auto; right: 4px; }
.events { font-size: 12px; color: var(--muted); margin: 6px 0 0 140px; padding: 0; list-style: none; }
body.only-stopped section.run:not(.stopped), body.only-stopped tr:not(.stopped) { display: none; }
`;

const SCRIPT = `
document.getElementById('only-stopped').addEventListener('change', function (e) {
  document.body.classList.toggle('only-stopped', e.target.checked);
});
`;
