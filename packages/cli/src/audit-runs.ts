import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { RunRecord, TimelineMark, ToolCallRecord } from './traces.js';
import { TraceInputError } from './traces.js';

interface AuditRun {
  runId: string;
  agent: string;
  mode: string;
  parentRunId: string | undefined;
  tenant: string | undefined;
  start: number;
  end: number | undefined;
  status: 'ok' | 'stopped' | 'unknown';
  stopReason: string | undefined;
  stopDetail: string | undefined;
  steps: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  handledBy: string | undefined;
  metadata: Record<string, string | number | boolean>;
  decisions: Map<string, { decision: string; reason?: string; rule?: string; approvedBy?: string; time: number }>;
  tools: ToolCallRecord[];
  marks: TimelineMark[];
}

/** Whether a file looks like an audit log (JSON Lines whose first record has `seq`, `type` and `hash`). */
export async function isAuditLog(file: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, 'r');
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const head = buffer.toString('utf8', 0, bytesRead).trimStart();
    return /^\{"seq":\d+,/.test(head) || (/^\{/.test(head) && /"hash":"[0-9a-f]{64}"/.test(head.split('\n')[0] ?? ''));
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

/**
 * Rebuilds runs from an audit log (`auditLog()` of @bounded/core): starts, decisions, tool ends, usage, workflow steps,
 * approvals and stops, one run per run id.
 */
export async function readAuditRuns(file: string): Promise<RunRecord[]> {
  const runs = new Map<string, AuditRun>();
  let lineNo = 0;
  let records = 0;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new TraceInputError('TRACES_INVALID', `${file}:${lineNo}: not a JSON record`);
      }
      records++;
      apply(runs, record);
    }
  } catch (error) {
    if (error instanceof TraceInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new TraceInputError(
      'TRACES_UNREADABLE',
      `cannot read ${file}: ${code === 'ENOENT' ? 'file not found' : (error as Error).message}`,
    );
  }
  if (records === 0) throw new TraceInputError('TRACES_INVALID', `${file}: the audit log is empty`);
  return [...runs.values()]
    .map(run => {
      run.tools.sort((a, b) => a.start - b.start);
      run.marks.sort((a, b) => a.time - b.time);
      const end =
        run.end ?? Math.max(run.start, ...run.tools.map(t => t.start + t.durationMs), ...run.marks.map(m => m.time));
      return {
        runId: run.runId,
        traceId: undefined,
        agent: run.agent,
        mode: run.mode,
        parentRunId: run.parentRunId,
        tenant: run.tenant,
        start: run.start,
        durationMs: end - run.start,
        status: run.status,
        stopReason: run.stopReason,
        stopDetail: run.stopDetail,
        steps: run.steps,
        inputTokens: run.inputTokens,
        outputTokens: run.outputTokens,
        costUsd: run.costUsd,
        handledBy: run.handledBy,
        metadata: run.metadata,
        tools: run.tools,
        marks: run.marks,
      } satisfies RunRecord;
    })
    .sort((a, b) => a.start - b.start);
}

function apply(runs: Map<string, AuditRun>, r: Record<string, unknown>): void {
  const time = typeof r.time === 'string' ? Date.parse(r.time) : Number.NaN;
  const runId = typeof r.runId === 'string' ? r.runId : undefined;
  if (!runId || Number.isNaN(time)) return; // kill and revive records name no run
  let run = runs.get(runId);
  if (!run) {
    run = {
      runId,
      agent: String(r.agent ?? '?'),
      mode: 'agent',
      parentRunId: undefined,
      tenant: undefined,
      start: time,
      end: undefined,
      status: 'unknown',
      stopReason: undefined,
      stopDetail: undefined,
      steps: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      handledBy: undefined,
      metadata: {},
      decisions: new Map(),
      tools: [],
      marks: [],
    };
    runs.set(runId, run);
  }
  switch (r.type) {
    case 'run.start':
      run.start = time;
      run.mode = String(r.mode ?? 'agent');
      run.parentRunId = typeof r.parentRunId === 'string' ? r.parentRunId : undefined;
      run.tenant = typeof r.tenant === 'string' ? r.tenant : undefined;
      run.metadata = (r.metadata as Record<string, string | number | boolean>) ?? {};
      return;
    case 'tool.decision':
      run.decisions.set(String(r.callId), {
        decision: String(r.decision),
        ...(typeof r.reason === 'string' ? { reason: r.reason } : {}),
        ...(typeof r.rule === 'string' ? { rule: r.rule } : {}),
        ...(typeof r.approvedBy === 'string' ? { approvedBy: r.approvedBy } : {}),
        time,
      });
      return;
    case 'tool.end': {
      const decision = run.decisions.get(String(r.callId));
      const durationMs = Number(r.durationMs ?? 0);
      run.tools.push({
        tool: String(r.tool),
        start: time - durationMs,
        durationMs,
        decision: decision?.decision ?? (r.outcome === 'refused' ? 'deny' : 'unknown'),
        reason: decision?.reason,
        rule: decision?.rule,
        outcome: String(r.outcome ?? 'ok'),
        approvedBy: decision?.approvedBy,
      });
      return;
    }
    case 'usage': {
      const input = Number(r.inputTokens ?? 0);
      const output = Number(r.outputTokens ?? 0);
      run.marks.push({
        kind: 'usage',
        time,
        durationMs: 0,
        label: `${r.model ? `${r.model} ` : ''}${input} in / ${output} out`,
      });
      return;
    }
    case 'workflow.step': {
      const durationMs = Number(r.durationMs ?? 0);
      run.marks.push({ kind: 'workflow_step', time: time - durationMs, durationMs, label: `${r.step} (${r.outcome})` });
      return;
    }
    case 'approval.requested':
      run.marks.push({ kind: 'approval', time, durationMs: 0, label: `${r.tool} held for approval` });
      return;
    case 'approval.decided':
      run.marks.push({
        kind: 'approval',
        time,
        durationMs: 0,
        label: `${r.tool} ${r.timedOut ? 'timed out' : r.approved ? 'approved' : 'rejected'}${r.by ? ` by ${r.by}` : ''}`,
      });
      return;
    case 'run.stop':
      run.marks.push({ kind: 'stop', time, durationMs: 0, label: String(r.reason) });
      return;
    case 'run.end': {
      run.end = time;
      run.status = r.status === 'ok' ? 'ok' : r.status === 'stopped' ? 'stopped' : 'unknown';
      run.stopReason = typeof r.stopReason === 'string' ? r.stopReason : undefined;
      run.stopDetail = typeof r.detail === 'string' ? r.detail : undefined;
      run.handledBy = typeof r.handledBy === 'string' ? r.handledBy : undefined;
      const usage = (r.usage ?? {}) as Record<string, number>;
      run.steps = usage.steps ?? 0;
      run.inputTokens = usage.inputTokens ?? 0;
      run.outputTokens = usage.outputTokens ?? 0;
      run.costUsd = usage.costUsd ?? 0;
      if (typeof usage.durationMs === 'number') run.end = run.start + usage.durationMs;
      return;
    }
  }
}
