import { JsonStreamError } from './json-stream.js';
import type { JaegerSpan, JaegerTag, OtlpAttribute, OtlpSpan } from './traces.js';

/**
 * Reads the few fields a span's analysis needs straight from its JSON text (where the stream finds a span starts,
 * with whatever text has arrived: `INCOMPLETE` is thrown when the span goes on past it), without building the whole object
 * (`JSON.parse` of a span makes an object per tag; most tags are never read). Unknown keys and uninteresting tags are
 * skipped unparsed; strings with escapes are decoded by `JSON.parse`, so the result is what `JSON.parse` would give.
 */

/** Attribute keys worth keeping: those the run and tool records read. */
const INTERESTING = new Set([
  'gen_ai.tool.name',
  'gen_ai.agent.name',
  'gen_ai.workflow.name',
  'gen_ai.usage.input_tokens',
  'gen_ai.usage.output_tokens',
  'bounded.decision',
  'bounded.decision.reason',
  'bounded.decision.rule',
  'bounded.tool.outcome',
  'bounded.approved_by',
  'bounded.run.id',
  'bounded.run.parent_id',
  'bounded.mode',
  'bounded.tenant',
  'bounded.status',
  'bounded.stop_reason',
  'bounded.stop.detail',
  'bounded.steps',
  'bounded.cost.usd',
  'bounded.handled_by',
]);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Known keys, matched where they are written without making a string. */
class KeyTable {
  readonly names: readonly string[];
  /** By length and first character. */
  readonly #byShape = new Map<number, number[]>();
  readonly #byName: Map<string, number>;

  constructor(names: readonly string[]) {
    this.names = names;
    this.#byName = new Map(names.map((name, id) => [name, id]));
    names.forEach((name, id) => {
      const shape = (name.length << 16) | name.charCodeAt(0);
      const list = this.#byShape.get(shape) ?? [];
      list.push(id);
      this.#byShape.set(shape, list);
    });
  }

  /** The id of the key written in `text[start..end)` (no escapes), or -1. */
  find(text: string, start: number, end: number): number {
    const list = this.#byShape.get(((end - start) << 16) | text.charCodeAt(start));
    if (!list) return -1;
    for (const id of list) if (text.startsWith(this.names[id]!, start)) return id;
    return -1;
  }

  byName(name: string): number {
    return this.#byName.get(name) ?? -1;
  }
}

/** Thrown when a span's text ends before the span does; the reader tries again with more. */
export const INCOMPLETE: unique symbol = Symbol('incomplete');

const METADATA = 'bounded.metadata.';
const TAGS = new KeyTable([...INTERESTING]);

class Cursor {
  buf: string;
  pos: number;
  end: number;
  /** Set by `key()`: the key's text, when it was not in the table. */
  text: string | undefined;

  constructor(buf: string, start: number, end: number) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.text = undefined;
  }

  fail(what: string): never {
    // Past the bytes there are: the value goes on in data not read yet.
    if (this.pos >= this.end) throw INCOMPLETE;
    throw new JsonStreamError(`malformed span: expected ${what} at offset ${this.pos}`);
  }

  ws(): number {
    const buf = this.buf;
    let pos = this.pos;
    let c = buf.charCodeAt(pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = buf.charCodeAt(++pos);
    this.pos = pos;
    return c;
  }

  /** At a `"`: the string, decoded. */
  str(): string {
    const buf = this.buf;
    const from = this.pos + 1;
    const j = this.closing(from);
    this.pos = j + 1;
    const text = buf.slice(from, j);
    return text.includes('\\') ? (JSON.parse(`"${text}"`) as string) : text;
  }

  /**
   * At a `"`: the id of the string in `table`, or -1 (then `text` holds it when `wantText` says so: for keys
   * outside the table that are still wanted).
   */
  key(table: KeyTable, wantText: (text: string, start: number, end: number) => boolean): number {
    const buf = this.buf;
    const from = this.pos + 1;
    const j = this.closing(from);
    this.pos = j + 1;
    this.text = undefined;
    let escaped = false;
    for (let k = from; k < j; k++) {
      if (buf.charCodeAt(k) === BACKSLASH) {
        escaped = true;
        break;
      }
    }
    if (escaped) {
      const text = JSON.parse(buf.slice(from - 1, j + 1)) as string;
      const id = table.byName(text);
      if (id < 0) this.text = text;
      return id;
    }
    const id = table.find(buf, from, j);
    if (id < 0 && wantText(buf, from, j)) this.text = buf.slice(from, j);
    return id;
  }

  /** The index of the quote that closes the string whose content starts at `from`. */
  closing(from: number): number {
    const buf = this.buf;
    let j = buf.indexOf('"', from);
    while (j >= 0 && j < this.end) {
      let slashes = 0;
      for (let k = j - 1; k >= from && buf.charCodeAt(k) === BACKSLASH; k--) slashes++;
      if (slashes % 2 === 0) return j;
      j = buf.indexOf('"', j + 1);
    }
    this.pos = this.end;
    return this.fail('the end of a string');
  }

  /** Skips a string, a number, a literal, an object or an array. */
  skip(): void {
    const buf = this.buf;
    const c = this.ws();
    if (c === QUOTE) {
      this.skipString();
      return;
    }
    if (c === 0x7b || c === 0x5b) {
      let nest = 0;
      let pos = this.pos;
      while (pos < this.end) {
        const b = buf.charCodeAt(pos);
        if (b === QUOTE) {
          this.pos = pos;
          this.skipString();
          pos = this.pos;
          continue;
        }
        if (b === 0x7b || b === 0x5b) nest++;
        else if (b === 0x7d || b === 0x5d) {
          nest--;
          if (nest === 0) {
            this.pos = pos + 1;
            return;
          }
        }
        pos++;
      }
      this.pos = this.end;
      this.fail('the end of a value');
    }
    let pos = this.pos;
    while (pos < this.end) {
      const b = buf.charCodeAt(pos);
      if (b === 0x2c || b === 0x7d || b === 0x5d || b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) break;
      pos++;
    }
    this.pos = pos;
  }

  skipString(): void {
    this.pos = this.closing(this.pos + 1) + 1;
  }

  /** A scalar: string, number, true, false or null; an object or array is skipped (undefined). */
  scalar(): string | number | boolean | null | undefined {
    const c = this.ws();
    if (c === QUOTE) return this.str();
    if (c === 0x7b || c === 0x5b) {
      this.skip();
      return undefined;
    }
    const buf = this.buf;
    const start = this.pos;
    // Plain integers, the common case, without making a string.
    let pos = start;
    let n = 0;
    let negative = false;
    if (buf.charCodeAt(pos) === 0x2d) {
      negative = true;
      pos++;
    }
    const digits = pos;
    for (let d = buf.charCodeAt(pos); d >= 0x30 && d <= 0x39 && pos - digits < 15 && pos < this.end; ) {
      n = n * 10 + (d - 0x30);
      d = buf.charCodeAt(++pos);
    }
    const next = buf.charCodeAt(pos);
    if (pos > digits && (next === 0x2c || next === 0x7d || next === 0x5d || next === 0x20 || next === 0x0a)) {
      this.pos = pos;
      return negative ? -n : n;
    }
    this.skip();
    const text = buf.slice(start, this.pos);
    if (text === 'true') return true;
    if (text === 'false') return false;
    if (text === 'null') return null;
    const value = Number(text);
    if (Number.isNaN(value)) this.fail('a JSON value');
    return value;
  }

  /** The raw JSON text of the next value (for the rare parts still worth a `JSON.parse`). */
  rawValue(): string {
    this.ws();
    const start = this.pos;
    this.skip();
    return this.buf.slice(start, this.pos);
  }

  /** Steps into an object: true when it has a first key (the cursor is at its `"`). */
  open(): boolean {
    if (this.ws() !== 0x7b) this.fail('"{"');
    this.pos++;
    if (this.ws() === 0x7d) {
      this.pos++;
      return false;
    }
    if (this.buf.charCodeAt(this.pos) !== QUOTE) this.fail('a key');
    return true;
  }

  /** After a key: past the `:`. */
  colon(): void {
    if (this.ws() !== 0x3a) this.fail('":"');
    this.pos++;
  }

  /** After a member's value: true when another key follows (the cursor is at its `"`), false at the `}`. */
  nextMember(): boolean {
    const c = this.ws();
    this.pos++;
    if (c === 0x7d) return false;
    if (c !== 0x2c) this.fail('"," or "}"');
    if (this.ws() !== QUOTE) this.fail('a key');
    return true;
  }

  /** Steps into an array: true when it has a first element. `null` counts as empty. */
  openArray(): boolean {
    const c = this.ws();
    if (c === 0x6e) {
      this.skip();
      return false;
    }
    if (c !== 0x5b) this.fail('"["');
    this.pos++;
    if (this.ws() === 0x5d) {
      this.pos++;
      return false;
    }
    return true;
  }

  /** After an element: true when another follows, false at the `]`. */
  nextElement(): boolean {
    const c = this.ws();
    this.pos++;
    if (c === 0x5d) return false;
    if (c !== 0x2c) this.fail('"," or "]"');
    return true;
  }
}

function wantMetadata(text: string, start: number, end: number): boolean {
  return end - start > METADATA.length && text.startsWith(METADATA, start);
}

const never = () => false;

// Member names of the span formats.
const JAEGER = new KeyTable([
  'traceID',
  'spanID',
  'operationName',
  'startTime',
  'duration',
  'references',
  'tags',
  'logs',
]);
const REFERENCE = new KeyTable(['refType', 'spanID']);
const TAG = new KeyTable(['key', 'value']);
const OTLP = new KeyTable([
  'traceId',
  'spanId',
  'parentSpanId',
  'name',
  'startTimeUnixNano',
  'endTimeUnixNano',
  'attributes',
  'events',
]);
const ANY_VALUE = new KeyTable(['stringValue', 'intValue', 'doubleValue', 'boolValue']);

/**
 * Tags as Jaeger writes them, compact (`{"key":"…","type":"…","value":…}` in that order, no spaces), read with one
 * sticky regular expression a tag: several times faster than walking them. Undefined when the text is laid out any
 * other way (then the tags are walked).
 */
const COMPACT_TAG = /\{"key":"((?:[^"\\]|\\.)*)","type":"[a-z0-9]*","value":("(?:[^"\\]|\\.)*"|[^,}\]"]*)\}/y;
const COMPACT_ATTRIBUTE =
  /\{"key":"((?:[^"\\]|\\.)*)","value":\{"(stringValue|intValue|doubleValue|boolValue)":("(?:[^"\\]|\\.)*"|[^,}\]"]*)\}\}/y;

/** Reads the compact list at `start`; returns where it ends (past its `]`), or -1 when it is not compact. */
function compactList(
  text: string,
  start: number,
  pattern: RegExp,
  add: (key: string, raw: string, type: string | undefined) => void,
): number {
  if (text.charCodeAt(start) !== 0x5b) return -1;
  if (text.charCodeAt(start + 1) === 0x5d) return start + 2;
  let at = start + 1;
  for (;;) {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (!match) return -1;
    const rawKey = match[1]!;
    const first = rawKey.charCodeAt(0);
    // Only bounded.* and gen_ai.* keys are read; the others are passed over.
    if (first === 0x62 || first === 0x67) {
      const key = rawKey.includes('\\') ? (JSON.parse(`"${rawKey}"`) as string) : rawKey;
      if (INTERESTING.has(key) || key.startsWith('bounded.metadata.')) {
        if (match.length === 4) add(key, match[3]!, match[2]);
        else add(key, match[2]!, undefined);
      }
    }
    at = pattern.lastIndex;
    const next = text.charCodeAt(at);
    if (next === 0x5d) return at + 1;
    if (next !== 0x2c) return -1;
    at++;
  }
}

function rawScalar(raw: string): string | number | boolean | null {
  if (raw.charCodeAt(0) === QUOTE) return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  return Number(raw);
}

/**
 * A Jaeger span read by `scanJaegerSpan`: the members a run or a tool call is made of, and its wanted tags (see
 * `INTERESTING`, and `bounded.metadata.*`) as `count` keys and values, in order. One is reused for every span.
 */
export class ScannedSpan {
  traceID = '';
  spanID = '';
  /** The span id of its first reference, when that is CHILD_OF. */
  parent: string | undefined = undefined;
  operationName = '';
  /** Epoch microseconds. */
  startTime = 0;
  /** Microseconds. */
  duration = 0;
  count = 0;
  readonly keys: string[] = [];
  readonly values: Array<string | number | boolean | null> = [];
  logs: JaegerSpan['logs'] = undefined;
}

/**
 * A string of its own with the text of `slice`: a substring of a long string can be a view that keeps all of that
 * string alive while it is kept (a run's ids are kept to the end; the string is a megabyte of input).
 */
export function own(slice: string): string {
  return slice.length < 13 ? slice : ` ${slice}`.slice(1);
}

/**
 * Strings seen again and again (tool and agent names, decisions, statuses) made once: a small table by hash, compared
 * in place, so a value seen before costs no string. A collision replaces the entry: it stays small whatever the input.
 */
const INTERNED: Array<string | undefined> = new Array(1024).fill(undefined);

/** The string `text[start, end)` (of a JSON string's content), or undefined when it holds an escape. */
function intern(text: string, start: number, end: number): string | undefined {
  const length = end - start;
  let hash = length;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) return undefined;
    hash = (Math.imul(hash, 31) + c) | 0;
  }
  if (length > 48) return own(text.slice(start, end));
  const slot = (hash ^ (hash >>> 11)) & 1023;
  const seen = INTERNED[slot];
  if (seen !== undefined && seen.length === length && text.startsWith(seen, start)) return seen;
  const made = own(text.slice(start, end));
  INTERNED[slot] = made;
  return made;
}

const STRING = String.raw`"[^"\\]*(?:\\.[^"\\]*)*"`;
const NUMBER = String.raw`-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?`;
const SCALAR = `${STRING}|${NUMBER}|true|false|null`;
const REFERENCE_TEXT = String.raw`\{"refType":"[A-Z_]+","traceID":"[0-9a-f]+","spanID":"[0-9a-f]+"\}`;
/** The keys a tool call reads. */
const TOOL_KEYS = [
  'gen_ai.tool.name',
  'bounded.decision',
  'bounded.decision.reason',
  'bounded.decision.rule',
  'bounded.tool.outcome',
  'bounded.approved_by',
];
const TOOL_KEY = TOOL_KEYS.map(key => key.replaceAll('.', '\\.')).join('|');
/** A tag, then `,` and another or the `]` that ends them. */
const THEN = String.raw`(?:,(?=\{)|(?=\]))`;
/** Any tag, checked for form only: what a tool call reads is picked out of the tags afterwards (`TOOL_TAGS`). */
const ANY_TAG = String.raw`\{"key":"[^"\\]*","type":"[a-z0-9]*","value":(?:${SCALAR})\}${THEN}`;
/** In tags already matched by `ANY_TAG`: the ones a tool call reads, key and value. */
const TOOL_TAGS = new RegExp(String.raw`\{"key":"(${TOOL_KEY})","type":"[a-z0-9]*","value":(${SCALAR})\}`, 'g');

/**
 * A Jaeger span as Jaeger's query service writes it: compact, its members in their order, the first reference
 * CHILD_OF if there is one, each tag `{"key","type","value"}` with no escape in its key, and (optionally matched) the
 * usual tail. One regular expression: the engine runs it natively, far faster than code can walk the characters. A
 * tool call's tags are then picked out of the matched tags by a second, small one: capturing them in this one as it
 * matched (a slot a key) made it slower in the mining loop, though faster alone.
 */
const COMPACT_SPAN = new RegExp(
  String.raw`\{"traceID":"([0-9a-f]+)","spanID":"([0-9a-f]+)",(?:"flags":\d+,)?"operationName":"([^"\\]*)","references":\[(?:\{"refType":"CHILD_OF","traceID":"[0-9a-f]+","spanID":"([0-9a-f]+)"\}(?:,${REFERENCE_TEXT})*)?\],"startTime":(\d+),"duration":(\d+),"tags":\[((?:${ANY_TAG})*)\](,"logs":\[\],"processID":"[^"\\]*","warnings":null\})?`,
  'y',
);

/** Groups: ids, name, parent, times, tags (1-7), the usual tail. */
const TAIL_GROUP = 8;

/** A run's tags among well-formed ones (`COMPACT_SPAN`'s): the key, and the value as a string's content or a scalar. */
const RUN_TAGS = new RegExp(
  String.raw`\{"key":"(${[...INTERESTING].map(key => key.replaceAll('.', '\\.')).join('|')}|bounded\.metadata\.[^"]+)","type":"[a-z0-9]*","value":(?:"([^"\\]*(?:\\.[^"\\]*)*)"|([^}]*))\}`,
  'g',
);

/**
 * Reads a Jaeger span in the compact layout Jaeger's query service writes (`COMPACT_SPAN`) at `start`, into `out`,
 * without building the span: no object a tag, no string for a tag that is not wanted. Returns where the span ends, or
 * -1 when it is laid out any other way or goes on past `end`: then `readJaegerSpan` reads it (and says what is wrong,
 * if anything). It never throws.
 */
export function scanJaegerSpan(text: string, start: number, end: number, withLogs: boolean, out: ScannedSpan): number {
  COMPACT_SPAN.lastIndex = start;
  const span = COMPACT_SPAN.exec(text);
  if (!span) return -1;
  let logs: JaegerSpan['logs'];
  let spanEnd = COMPACT_SPAN.lastIndex;
  if (span[TAIL_GROUP] === undefined) {
    // Another tail: walked.
    const c = new Cursor(text, spanEnd, end);
    try {
      while (c.nextMember()) {
        const member = c.key(JAEGER, never);
        // A member read above, again: `readJaegerSpan` says which counts.
        if (member >= 0 && member !== 7) return -1;
        c.colon();
        if (member === 7 && withLogs) logs = JSON.parse(c.rawValue()) as JaegerSpan['logs'];
        else c.skip();
      }
    } catch {
      return -1;
    }
    spanEnd = c.pos;
  }
  if (spanEnd > end) return -1;
  const name = span[3]!;
  // Only a tool call's or a run's tags are read (`execute_tool …`, `invoke_…`).
  const kind = name.charCodeAt(0);
  const keys = out.keys;
  const values = out.values;
  let count = 0;
  if (kind === 0x65) {
    const tags = span[7]!;
    TOOL_TAGS.lastIndex = 0;
    for (let tag = TOOL_TAGS.exec(tags); tag; tag = TOOL_TAGS.exec(tags)) {
      const value = scalarOf(tag[2]!);
      if (value === undefined) return -1;
      keys[count] = tag[1]!;
      values[count] = value;
      count++;
    }
  } else if (kind === 0x69) {
    const tags = span[7]!;
    RUN_TAGS.lastIndex = 0;
    for (let tag = RUN_TAGS.exec(tags); tag; tag = RUN_TAGS.exec(tags)) {
      const content = tag[2];
      let value: string | number | boolean | null | undefined;
      if (content === undefined) value = scalarOf(tag[3]!);
      else value = intern(content, 0, content.length) ?? decoded(content);
      if (value === undefined) return -1;
      keys[count] = tag[1]!;
      values[count] = value;
      count++;
    }
  }
  out.traceID = span[1]!;
  out.spanID = span[2]!;
  out.parent = span[4];
  // A tool call's name only picks its tool (made once a name, by the collector); a run's name is kept with the run.
  out.operationName = kind === 0x65 ? name : intern(name, 0, name.length)!;
  out.startTime = Number(span[5]);
  out.duration = Number(span[6]);
  out.count = count;
  out.logs = logs;
  return spanEnd;
}

/** A tag's value from its JSON text: what `JSON.parse` gives, or undefined for a bad escape. */
function scalarOf(raw: string): string | number | boolean | null | undefined {
  const first = raw.charCodeAt(0);
  if (first === QUOTE) return intern(raw, 1, raw.length - 1) ?? decoded(raw.slice(1, -1));
  if (first === 0x74) return true;
  if (first === 0x66) return false;
  if (first === 0x6e) return null;
  return Number(raw);
}

/** A JSON string's content with escapes, decoded; undefined when an escape is bad. */
function decoded(content: string): string | undefined {
  try {
    return JSON.parse(`"${content}"`) as string;
  } catch {
    return undefined;
  }
}

/** A Jaeger span (`data[].spans[]`) with only the interesting tags; logs only when asked for. */
export function readJaegerSpan(buf: string, start: number, end: number, withLogs: boolean): [JaegerSpan, number] {
  const c = new Cursor(buf, start, end);
  let traceID = '';
  let spanID = '';
  let operationName = '';
  let startTime = 0;
  let duration = 0;
  let parent: string | undefined;
  const tags: JaegerTag[] = [];
  let logs: JaegerSpan['logs'];
  if (c.open()) {
    do {
      const member = c.key(JAEGER, never);
      c.colon();
      switch (member) {
        case 0:
          traceID = String(c.scalar());
          break;
        case 1:
          spanID = String(c.scalar());
          break;
        case 2:
          operationName = String(c.scalar());
          break;
        case 3:
          startTime = Number(c.scalar());
          break;
        case 4:
          duration = Number(c.scalar());
          break;
        case 5:
          if (c.openArray()) {
            do {
              let childOf = false;
              let id: unknown;
              if (c.open()) {
                do {
                  const k = c.key(REFERENCE, never);
                  c.colon();
                  if (k === 0) childOf = c.scalar() === 'CHILD_OF';
                  else if (k === 1) id = c.scalar();
                  else c.skip();
                } while (c.nextMember());
              }
              if (childOf && parent === undefined) parent = String(id);
            } while (c.nextElement());
          }
          break;
        case 6: {
          const from = c.pos;
          const after = compactList(buf, c.ws() === 0x5b ? c.pos : -1, COMPACT_TAG, (key, raw) =>
            tags.push({ key, value: rawScalar(raw) }),
          );
          if (after > 0) {
            c.pos = after;
            break;
          }
          tags.length = 0;
          c.pos = from;
          if (c.openArray()) {
            do {
              let tagKey: string | undefined;
              let keySeen = false;
              let value: unknown;
              if (c.open()) {
                do {
                  const k = c.key(TAG, never);
                  c.colon();
                  if (k === 0) {
                    keySeen = true;
                    if (c.ws() === QUOTE) {
                      const id = c.key(TAGS, wantMetadata);
                      tagKey = id >= 0 ? TAGS.names[id] : c.text;
                    } else c.skip();
                  } else if (k === 1 && (tagKey !== undefined || !keySeen)) {
                    // (A value before its key is kept until the key says whether it is wanted.)
                    value = c.scalar();
                  } else c.skip();
                } while (c.nextMember());
              }
              if (tagKey !== undefined && value !== undefined) tags.push({ key: tagKey, value });
            } while (c.nextElement());
          }
          break;
        }
        case 7:
          if (withLogs) logs = JSON.parse(c.rawValue()) as JaegerSpan['logs'];
          else c.skip();
          break;
        default:
          c.skip();
      }
    } while (c.nextMember());
  }
  const span: JaegerSpan = {
    traceID,
    spanID,
    operationName,
    startTime,
    duration,
    references: parent === undefined ? [] : [{ refType: 'CHILD_OF', spanID: parent }],
    tags,
    ...(logs ? { logs } : {}),
  };
  return [span, c.pos];
}

/** An OTLP span (`resourceSpans[].scopeSpans[].spans[]`) with only the interesting attributes. */
export function readOtlpSpan(buf: string, start: number, end: number, withEvents: boolean): [OtlpSpan, number] {
  const c = new Cursor(buf, start, end);
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
  let name = '';
  let startTimeUnixNano: string | number = 0;
  let endTimeUnixNano: string | number = 0;
  const attributes: OtlpAttribute[] = [];
  let events: OtlpSpan['events'];
  if (c.open()) {
    do {
      const member = c.key(OTLP, never);
      c.colon();
      switch (member) {
        case 0:
          traceId = String(c.scalar());
          break;
        case 1:
          spanId = String(c.scalar());
          break;
        case 2:
          parentSpanId = String(c.scalar() ?? '');
          break;
        case 3:
          name = String(c.scalar());
          break;
        case 4:
          startTimeUnixNano = c.scalar() as string | number;
          break;
        case 5:
          endTimeUnixNano = c.scalar() as string | number;
          break;
        case 6: {
          const from = c.pos;
          const after = compactList(buf, c.ws() === 0x5b ? c.pos : -1, COMPACT_ATTRIBUTE, (key, raw, type) =>
            attributes.push({ key, value: { [type!]: rawScalar(raw) } }),
          );
          if (after > 0) {
            c.pos = after;
            break;
          }
          attributes.length = 0;
          c.pos = from;
          if (c.openArray()) {
            do {
              let attributeKey: string | undefined;
              let keySeen = false;
              let value: Record<string, unknown> | undefined;
              if (c.open()) {
                do {
                  const k = c.key(TAG, never);
                  c.colon();
                  if (k === 0) {
                    keySeen = true;
                    if (c.ws() === QUOTE) {
                      const id = c.key(TAGS, wantMetadata);
                      attributeKey = id >= 0 ? TAGS.names[id] : c.text;
                    } else c.skip();
                  } else if (k === 1 && (attributeKey !== undefined || !keySeen)) {
                    const v: Record<string, unknown> = {};
                    if (c.open()) {
                      do {
                        const type = c.key(ANY_VALUE, never);
                        c.colon();
                        if (type >= 0) v[ANY_VALUE.names[type]!] = c.scalar();
                        else c.skip();
                      } while (c.nextMember());
                    }
                    value = v;
                  } else c.skip();
                } while (c.nextMember());
              }
              if (attributeKey !== undefined && value) attributes.push({ key: attributeKey, value });
            } while (c.nextElement());
          }
          break;
        }
        case 7:
          if (withEvents) events = JSON.parse(c.rawValue()) as OtlpSpan['events'];
          else c.skip();
          break;
        default:
          c.skip();
      }
    } while (c.nextMember());
  }
  const span: OtlpSpan = {
    traceId,
    spanId,
    parentSpanId,
    name,
    startTimeUnixNano,
    endTimeUnixNano,
    attributes,
    ...(events ? { events } : {}),
  };
  return [span, c.pos];
}
