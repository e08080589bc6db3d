import { createHmac } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fstatSync,
  openSync,
  readSync,
  type WriteStream,
} from 'node:fs';
import { createInterface } from 'node:readline';
import { canonicalJson, sha256 } from './canonical.js';
import type { BoundedEvent, BoundedEventType, Observer } from './events.js';

const GENESIS = '0'.repeat(64);

export interface AuditLogOptions {
  /** The JSONL file. Appended to; an existing chain is continued. One writer per file. */
  readonly path: string;
  /**
   * Secret for an HMAC chain. Without it anyone who can edit the file can also recompute the hashes after an edit;
   * with it, only holders of the key can.
   */
  readonly key?: string | Buffer;
  /** Event types to record. Default: everything except `tool.start` and `step` (decisions, not chatter). */
  readonly include?: readonly BoundedEventType[];
  /** Record tool arguments (only for tools with `recordContent`). Default false: a hash of them is recorded. */
  readonly includeArgs?: boolean;
  /** Told about write failures; the run is never affected by them. */
  readonly onError?: (error: unknown) => void;
}

/** One line of the audit log. */
export interface AuditRecord {
  readonly seq: number;
  readonly time: string;
  readonly type: BoundedEventType;
  readonly prev: string;
  readonly hash: string;
  readonly [field: string]: unknown;
}

export interface AuditLog extends Observer {
  readonly path: string;
  /** Records written (or queued) so far by this writer. */
  readonly written: number;
  /** Write failures so far; each is also passed to `onError`. */
  readonly failures: number;
  /** Resolves when everything queued is on disk. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_INCLUDE: readonly BoundedEventType[] = [
  'run.start',
  'tool.decision',
  'tool.end',
  'usage',
  'approval.requested',
  'approval.decided',
  'run.stop',
  'run.shadow_stop',
  'run.end',
  'workflow.step',
  'kill',
  'revive',
];

/**
 * An observer that appends every decision to a JSONL file in which each record carries the hash of the one before
 * it, so an edited, inserted or removed record is found by `verifyAuditLog`.
 *
 * ```ts
 * const audit = auditLog({ path: 'audit.jsonl' });
 * const governor = createGovernor({ policy, observers: [audit] });
 * // ...
 * await audit.close();
 * console.log(await verifyAuditLog('audit.jsonl')); // { ok: true, records: 42 }
 * ```
 */
export function auditLog(options: AuditLogOptions): AuditLog {
  const include = new Set(options.include ?? DEFAULT_INCLUDE);
  const hashOf = hasher(options.key);
  const tail = readTail(options.path);
  let seq = tail.seq;
  let prev = tail.hash;
  if (tail.damaged) {
    process.emitWarning(
      `audit log ${options.path}: its last line is not a whole record (a crash while writing?); it stays for ` +
        `verifyAuditLog to report, and the chain goes on from record ${seq}`,
      { code: 'BOUNDED_AUDIT_DAMAGED' },
    );
  }
  // After a line cut short, the next record starts on a line of its own.
  let lead = tail.damaged ? '\n' : '';
  let written = 0;
  let failures = 0;
  let stream: WriteStream | undefined;
  let broken = false;

  const fail = (error: unknown) => {
    failures++;
    try {
      options.onError?.(error);
    } catch {
      // The error handler failed too; the run still must not notice.
    }
  };

  const open = (): WriteStream | undefined => {
    if (stream || broken) return stream;
    stream = createWriteStream(options.path, { flags: 'a' });
    stream.on('error', error => {
      broken = true;
      fail(error);
    });
    return stream;
  };

  return {
    name: 'audit-log',
    path: options.path,
    get written() {
      return written;
    },
    get failures() {
      return failures;
    },
    onEvent(event: BoundedEvent) {
      if (!include.has(event.type)) return;
      const body = toRecordBody(event, options.includeArgs ?? false);
      seq++;
      const unsigned = { seq, time: new Date(event.time).toISOString(), ...body, prev };
      const hash = hashOf(canonicalJson(unsigned));
      prev = hash;
      written++;
      const out = open();
      if (!out) return;
      // Asynchronous append: the run never waits for the disk.
      out.write(`${lead}${JSON.stringify({ ...unsigned, hash })}\n`);
      lead = '';
    },
    flush() {
      return new Promise(resolve => {
        if (!stream || broken) return resolve();
        // Writes complete in order: the callback of an empty write means everything before it is on disk.
        stream.write('', () => resolve());
      });
    },
    close() {
      return new Promise(resolve => {
        if (!stream || broken) return resolve();
        stream.end(() => resolve());
        stream = undefined;
      });
    },
  };
}

function toRecordBody(event: BoundedEvent, includeArgs: boolean): Record<string, unknown> {
  const { time: _time, ...rest } = event as BoundedEvent & Record<string, unknown>;
  const body: Record<string, unknown> = { ...rest };
  if ('args' in body) {
    const recordContent = (body as { recordContent?: boolean }).recordContent === true;
    if (includeArgs && recordContent) body.args = safeJson(body.args);
    else delete body.args;
  }
  if ('result' in body) delete body.result;
  // Budgets live in the run events; repeating them on every tool record only bloats the log.
  if (event.type === 'tool.end' || event.type === 'usage') delete body.budgets;
  return body;
}

function safeJson(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? null));
  } catch {
    return '[unserialisable]';
  }
}

function hasher(key: string | Buffer | undefined): (text: string) => string {
  if (key === undefined) return sha256;
  return text => createHmac('sha256', key).update(text).digest('hex');
}

/**
 * The last record of an existing log, so a new writer continues its chain. A last line cut short (the process died
 * while writing it) is left in place for `verifyAuditLog` to report; the chain goes on from the last whole record,
 * on a new line.
 */
function readTail(path: string): { seq: number; hash: string; damaged: boolean } {
  if (!existsSync(path)) return { seq: 0, hash: GENESIS, damaged: false };
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let damaged = false;
    // Lines from the end, read in growing chunks so a record of any size is read whole.
    let end = size;
    let carry = Buffer.alloc(0);
    for (let chunk = 64 * 1024; end > 0 || carry.length > 0; chunk *= 2) {
      const start = Math.max(0, end - chunk);
      const buffer = Buffer.alloc(end - start);
      readSync(fd, buffer, 0, buffer.length, start);
      let text = Buffer.concat([buffer, carry]);
      end = start;
      // Whole lines only: the first one in this chunk may go on in the chunk before it.
      const cut = start === 0 ? -1 : text.indexOf(0x0a);
      if (cut === -1 && start > 0) {
        carry = text;
        continue;
      }
      carry = cut === -1 ? Buffer.alloc(0) : text.subarray(0, cut);
      text = text.subarray(cut + 1);
      const lines = text.toString('utf8').split('\n');
      for (let index = lines.length - 1; index >= 0; index--) {
        const line = lines[index]!;
        if (line.trim().length === 0) continue;
        const record = parseRecord(line);
        if (record) return { ...record, damaged };
        damaged = true;
      }
      if (start === 0) break;
    }
    return { seq: 0, hash: GENESIS, damaged };
  } finally {
    closeSync(fd);
  }
}

function parseRecord(line: string): { seq: number; hash: string } | undefined {
  try {
    const record = JSON.parse(line) as { seq?: unknown; hash?: unknown };
    return typeof record.seq === 'number' && typeof record.hash === 'string'
      ? { seq: record.seq, hash: record.hash }
      : undefined;
  } catch {
    return undefined;
  }
}

export type AuditProblemKind = 'malformed' | 'edited' | 'inserted' | 'removed' | 'reordered';

export interface AuditProblem {
  /** 1-based line in the file. */
  readonly line: number;
  readonly kind: AuditProblemKind;
  readonly message: string;
}

export type AuditVerification =
  | { readonly ok: true; readonly records: number; readonly lastHash: string }
  | { readonly ok: false; readonly records: number; readonly problems: readonly AuditProblem[] };

/**
 * Checks an audit log's chain. Finds edited records (hash mismatch), inserted ones (a record the chain does not
 * lead to), removed ones (a gap in the sequence) and reordering. Removing records from the end cannot be seen in the
 * file alone: compare `lastHash` with one kept elsewhere (e.g. exported to your metrics or logs).
 */
export async function verifyAuditLog(
  path: string,
  options: { key?: string | Buffer } = {},
): Promise<AuditVerification> {
  const hashOf = hasher(options.key);
  const problems: AuditProblem[] = [];
  let prevHash = GENESIS;
  let prevSeq = 0;
  let records = 0;
  let lineNo = 0;
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    lineNo++;
    if (line.trim().length === 0) continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      problems.push({ line: lineNo, kind: 'malformed', message: 'not valid JSON' });
      continue;
    }
    records++;
    const { hash, ...unsigned } = record;
    const seq = record.seq;
    if (typeof hash !== 'string' || typeof seq !== 'number' || typeof record.prev !== 'string') {
      problems.push({ line: lineNo, kind: 'malformed', message: 'missing seq, prev or hash' });
      continue;
    }
    const selfValid = hashOf(canonicalJson(unsigned)) === hash;
    if (!selfValid) {
      problems.push({ line: lineNo, kind: 'edited', message: `record ${seq}: its content does not match its hash` });
    } else if (record.prev !== prevHash) {
      if (seq === prevSeq + 1) {
        problems.push({
          line: lineNo,
          kind: 'inserted',
          message: `record ${seq} does not follow the record before it`,
        });
      } else if (seq > prevSeq + 1) {
        problems.push({
          line: lineNo,
          kind: 'removed',
          message: `records ${prevSeq + 1}..${seq - 1} are missing before record ${seq}`,
        });
      } else {
        problems.push({
          line: lineNo,
          kind: seq === prevSeq ? 'inserted' : 'reordered',
          message: `record ${seq} appears after record ${prevSeq}`,
        });
      }
    }
    prevHash = hash;
    prevSeq = seq;
  }
  if (problems.length > 0) return { ok: false, records, problems };
  return { ok: true, records, lastHash: prevHash };
}
