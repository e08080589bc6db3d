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
 * A Jaeger span as Jaeger's query service writes it (compact, its fields in their order): one regular expression for
 * the head, the compact tag reader for the tags, the walker for what follows. Undefined for any other layout.
 */
const JAEGER_HEAD =
  /\{"traceID":"([0-9a-f]+)","spanID":"([0-9a-f]+)",(?:"flags":\d+,)?"operationName":"((?:[^"\\]|\\.)*)","references":\[(?:\{"refType":"CHILD_OF","traceID":"[0-9a-f]+","spanID":"([0-9a-f]+)"\}(?:,\{[^{}]*\})*)?\],"startTime":(\d+),"duration":(\d+),"tags":/y;

const NO_LOGS = ',"logs":[],"processID":"';
const WARNINGS_NULL = ',"warnings":null}';
const NO_REFERENCES: JaegerSpan['references'] = [];

function compactJaegerSpan(
  text: string,
  start: number,
  end: number,
  withLogs: boolean,
): [JaegerSpan, number] | undefined {
  JAEGER_HEAD.lastIndex = start;
  const head = JAEGER_HEAD.exec(text);
  if (!head) return undefined;
  const tagsStart = JAEGER_HEAD.lastIndex;
  if (text.charCodeAt(tagsStart) !== 0x5b) return undefined;
  // The tags end at the first `}],"` (or are `[]`): inside a string a quote is always escaped, so it is structural.
  let tagsEnd: number;
  if (text.charCodeAt(tagsStart + 1) === 0x5d) tagsEnd = tagsStart + 2;
  else {
    const close = text.indexOf('}],"', tagsStart);
    if (close < 0 || close >= end) return undefined;
    tagsEnd = close + 2;
  }
  const operationName = head[3]!;
  const tags: JaegerTag[] = [];
  const kind = operationName.charCodeAt(0);
  if (kind === 0x65 || kind === 0x69) {
    // Only the tags a run or a tool call is read for: bounded.* and gen_ai.* ones, found directly (in a slice of the
    // text, so a search that finds nothing stops at the end of the tags).
    const region = text.slice(tagsStart, tagsEnd);
    if (!findTags(region, '{"key":"bounded.', tags)) return undefined;
    // A tool span's gen_ai.* tags add nothing its name does not say (execute_tool <tool>).
    if (kind === 0x69 && !findTags(region, '{"key":"gen_ai.', tags)) return undefined;
  }
  let logs: JaegerSpan['logs'];
  let spanEnd = -1;
  if (!withLogs && text.startsWith(NO_LOGS, tagsEnd)) {
    // The usual tail, `,"logs":[],"processID":"p1","warnings":null}`, found without walking it.
    const id = text.indexOf('"', tagsEnd + NO_LOGS.length);
    if (id >= 0 && id < end && text.startsWith(WARNINGS_NULL, id + 1)) spanEnd = id + 1 + WARNINGS_NULL.length;
  }
  if (spanEnd < 0) {
    // Any other tail is walked.
    const c = new Cursor(text, tagsEnd, end);
    while (c.nextMember()) {
      const member = c.key(JAEGER, never);
      c.colon();
      if (member === 7 && withLogs) logs = JSON.parse(c.rawValue()) as JaegerSpan['logs'];
      else c.skip();
    }
    spanEnd = c.pos;
  }
  const parent = head[4];
  const span: { -readonly [K in keyof JaegerSpan]: JaegerSpan[K] } = {
    traceID: head[1]!,
    spanID: head[2]!,
    operationName: operationName.includes('\\') ? (JSON.parse(`"${operationName}"`) as string) : operationName,
    startTime: Number(head[5]),
    duration: Number(head[6]),
    references: parent === undefined ? NO_REFERENCES : [{ refType: 'CHILD_OF', spanID: parent }],
    tags,
  };
  if (logs) span.logs = logs;
  return [span, spanEnd];
}

/**
 * Adds the interesting tags whose key starts with `needle` (`{"key":"bounded.`), read in place: the key is matched
 * against the table without making a string, the value sliced out. False when a tag is not compact.
 */
function findTags(text: string, needle: string, tags: JaegerTag[]): boolean {
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) {
    const keyStart = at + 8;
    const keyEnd = text.indexOf('"', keyStart);
    // (A quote in a key is escaped: the walker reads such tags.)
    if (keyEnd < 0 || text.charCodeAt(keyEnd - 1) === BACKSLASH) return false;
    // `","type":"<type>","value":`
    if (!text.startsWith('","type":"', keyEnd)) return false;
    const typeEnd = text.indexOf('"', keyEnd + 10);
    if (typeEnd < 0 || !text.startsWith('","value":', typeEnd)) return false;
    let key: string | undefined;
    const id = TAGS.find(text, keyStart, keyEnd);
    if (id >= 0) key = TAGS.names[id];
    else if (wantMetadata(text, keyStart, keyEnd)) {
      const raw = text.slice(keyStart, keyEnd);
      key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
    }
    if (key === undefined) continue;
    const valueStart = typeEnd + 10;
    let valueEnd: number;
    if (text.charCodeAt(valueStart) === QUOTE) {
      valueEnd = valueStart + 1;
      for (;;) {
        valueEnd = text.indexOf('"', valueEnd);
        if (valueEnd < 0) return false;
        let slashes = 0;
        for (let k = valueEnd - 1; text.charCodeAt(k) === BACKSLASH; k--) slashes++;
        if (slashes % 2 === 0) break;
        valueEnd++;
      }
      valueEnd++;
    } else {
      valueEnd = text.indexOf('}', valueStart);
      if (valueEnd < 0) return false;
    }
    if (text.charCodeAt(valueEnd) !== 0x7d) return false;
    tags.push({ key, value: rawScalar(text.slice(valueStart, valueEnd)) });
  }
  return true;
}

/** A Jaeger span (`data[].spans[]`) with only the interesting tags; logs only when asked for. */
export function readJaegerSpan(buf: string, start: number, end: number, withLogs: boolean): [JaegerSpan, number] {
  const compact = compactJaegerSpan(buf, start, end, withLogs);
  if (compact) return compact;
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
