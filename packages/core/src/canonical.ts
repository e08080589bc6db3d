import { createHash } from 'node:crypto';

/**
 * Serialises a value to JSON with object keys sorted, so that `{a:1,b:2}` and `{b:2,a:1}` give the same text.
 * Used for loop detection and idempotency keys, where "the same arguments" must not depend on key order.
 *
 * Two values give the same text exactly when they would reach a tool as the same JSON (tool arguments travel
 * as JSON): `undefined` members are dropped, Dates become ISO strings, `toJSON()` is honoured, -0 is 0.
 * Values JSON cannot carry get tokens no JSON text can produce, so they never collide with a string:
 * `NaN`, `Infinity`, `-Infinity`, `12n` (bigint), `Map{...}`, `Set[...]`, `Bytes(<base64>)`.
 * Cycles (and nesting deeper than 256 levels) throw a TypeError rather than recursing forever.
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

/** Deeper than this is a cycle, or a value no tool argument has; a depth count costs nothing per call. */
const MAX_DEPTH = 256;

function write(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      // String(-0) is '0', as in JSON.
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `${value}n`;
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null';
    default:
      break;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (depth >= MAX_DEPTH)
    throw new TypeError(`canonicalJson: the value is nested over ${MAX_DEPTH} levels deep or contains a cycle`);
  const inner = depth + 1;
  let out: string;
  if (Array.isArray(obj)) {
    out = '[';
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out += ',';
      out += write(obj[i], inner);
    }
    out += ']';
  } else if (obj instanceof Map) {
    const entries = [...obj.entries()].map(([k, v]) => `[${write(k, inner)},${write(v, inner)}]`).sort();
    out = `Map{${entries.join(',')}}`;
  } else if (obj instanceof Set) {
    const items = [...obj].map(v => write(v, inner)).sort();
    out = `Set[${items.join(',')}]`;
  } else if (ArrayBuffer.isView(obj)) {
    out = `Bytes(${Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64')})`;
  } else {
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      out = write((toJSON as () => unknown).call(obj), inner);
    } else {
      const keys = Object.keys(obj);
      if (keys.length > 1 && !isSorted(keys)) keys.sort();
      out = '{';
      let first = true;
      for (const key of keys) {
        const member = (obj as Record<string, unknown>)[key];
        if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
        if (!first) out += ',';
        first = false;
        out += quote(key);
        out += ':';
        out += write(member, inner);
      }
      out += '}';
    }
  }
  return out;
}

// Strings without quotes, backslashes, control characters or lone surrogates need no escaping; checking that is
// several times cheaper than JSON.stringify on the short strings tool arguments are made of.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(text: string): string {
  return text.length < 256 && !NEEDS_ESCAPE.test(text) ? `"${text}"` : JSON.stringify(text);
}

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/** SHA-256 (hex) of the canonical JSON of a value. */
export function canonicalHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** SHA-256 (hex) of a string. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

// ---- fingerprints for loop detection ----
//
// Loop detection runs on every tool call and only needs "have I seen these arguments before in this run". Building a
// canonical string and hashing it into a Map costs more than everything else a governed call does, so instead the
// value is walked once into two independent 32-bit hashes, combined into one 52-bit number (a cheap Map key).
// Object members are combined with addition, so key order cannot matter and nothing is sorted or allocated.
// Two different argument sets share a fingerprint with probability ~n²/2⁵³ for n calls in a run (about 1e-10 for a
// thousand calls): far below any other failure rate of an agent.

const TAG_NULL = 0x6e756c6c;
const TAG_TRUE = 0x74727565;
const TAG_FALSE = 0x66616c73;
const TAG_STRING = 0x73747269;
const TAG_NUMBER = 0x6e756d62;
const TAG_INTEGER = 0x696e7467;
const TAG_ARRAY = 0x61727261;
const TAG_OBJECT = 0x6f626a65;
const TAG_OTHER = 0x6f746872;

const numberView = new DataView(new ArrayBuffer(8));

let h1 = 0;
let h2 = 0;

function mix(word: number): void {
  h1 = Math.imul(h1 ^ word, 0x01000193);
  h2 = Math.imul(h2 ^ word, 0x5bd1e995);
  h2 ^= h2 >>> 15;
}

function mixString(text: string): void {
  mix(TAG_STRING);
  mix(text.length);
  for (let i = 0; i < text.length; i++) mix(text.charCodeAt(i));
}

function mixNumber(value: number): void {
  if (Number.isNaN(value)) {
    mix(TAG_NUMBER);
    // One token for every NaN payload, as canonicalJson writes them all as NaN.
    mix(0x7ff80000);
    mix(1);
    return;
  }
  if (Number.isInteger(value) && value <= 0x7fffffff && value >= -0x80000000) {
    // A tag of its own: (n, 0) is also the two words of every double whose low word is 0 (1.5 and 1073217536).
    mix(TAG_INTEGER);
    mix(value | 0);
    mix(0); // one more round, so the value's bits spread as far as a double's second word does
    return;
  }
  mix(TAG_NUMBER);
  numberView.setFloat64(0, value === 0 ? 0 : value);
  mix(numberView.getInt32(0));
  mix(numberView.getInt32(4));
}

function mixValue(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      mixString(value);
      return;
    case 'number':
      mixNumber(value);
      return;
    case 'boolean':
      mix(value ? TAG_TRUE : TAG_FALSE);
      return;
    case 'undefined':
    case 'function':
    case 'symbol':
      mix(TAG_NULL); // as JSON does inside arrays; object members of these kinds are skipped by the caller
      return;
    case 'bigint':
      mix(TAG_OTHER);
      mixString(`${value}n`);
      return;
    default:
      break;
  }
  if (value === null) {
    mix(TAG_NULL);
    return;
  }
  if (depth >= MAX_DEPTH)
    throw new TypeError(`canonicalJson: the value is nested over ${MAX_DEPTH} levels deep or contains a cycle`);
  if (Array.isArray(value)) {
    mix(TAG_ARRAY);
    mix(value.length);
    for (let i = 0; i < value.length; i++) mixValue(value[i], depth + 1);
    return;
  }
  if (value instanceof Map || value instanceof Set || ArrayBuffer.isView(value)) {
    // Rare in tool arguments: hash their canonical text (which no plain string or object can produce).
    mix(TAG_OTHER);
    mixString(canonicalJson(value));
    return;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    mixValue((toJSON as () => unknown).call(value), depth + 1);
    return;
  }
  // Each member is hashed on its own and the results are added: the sum does not depend on key order.
  const outer1 = h1;
  const outer2 = h2;
  let sum1 = 0;
  let sum2 = 0;
  let members = 0;
  for (const key in value as Record<string, unknown>) {
    if (!Object.hasOwn(value as object, key)) continue;
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    h1 = 0x811c9dc5;
    h2 = 0x2f0c6e5d;
    mixString(key);
    mixValue(member, depth + 1);
    sum1 = (sum1 + h1) | 0;
    sum2 = (sum2 + h2) | 0;
    members++;
  }
  h1 = outer1;
  h2 = outer2;
  mix(TAG_OBJECT);
  mix(members);
  mix(sum1);
  mix(sum2);
}

/**
 * A 52-bit number that is equal for arguments with equal canonical JSON and, with overwhelming probability,
 * different otherwise. What loop detection counts by.
 */
export function canonicalFingerprint(value: unknown): number {
  h1 = 0x811c9dc5;
  h2 = 0x2f0c6e5d;
  mixValue(value, 0);
  return (h1 >>> 0) * 0x100000 + (h2 >>> 12);
}

const POOL: FingerprintCounter[] = [];
/** Runs in flight at once that get a pooled table; beyond, tables are made and left to the collector. */
const POOL_SIZE = 256;
/** Tables grown past this (a run with hundreds of distinct calls) are not kept. */
const POOLED_CAPACITY = 512;

/**
 * Counts how often each (tool, canonical arguments) pair was seen, without allocating per call: an open-addressing
 * table of the two 32-bit fingerprint halves in typed arrays. One per run; loop detection's hot path.
 */
export class FingerprintCounter {
  #first = new Int32Array(32);
  #second = new Int32Array(32);
  #counts = new Uint32Array(32);
  #size = 0;

  /**
   * A cleared table from the pool, or a new one. Runs are short and many: three typed arrays per run (memory outside
   * the heap, swept at every young collection) cost more than the counting.
   */
  static take(): FingerprintCounter {
    return POOL.pop() ?? new FingerprintCounter();
  }

  /** Clears the table and returns it to the pool; the caller must not use it again. */
  release(): void {
    if (POOL.length >= POOL_SIZE || this.#counts.length > POOLED_CAPACITY) return;
    if (this.#size > 0) this.#counts.fill(0);
    this.#size = 0;
    POOL.push(this);
  }

  /** Counts one more call of `tool` (a small number per tool) with `args`; returns how many there have been. */
  add(tool: number, args: unknown): number {
    h1 = 0x811c9dc5;
    h2 = 0x2f0c6e5d;
    mix(tool);
    mixValue(args, 0);
    const a = h1;
    const b = h2;
    if ((this.#size + 1) * 2 > this.#counts.length) this.#grow();
    const mask = this.#counts.length - 1;
    let i = (a ^ Math.imul(b, 0x9e3779b1)) & mask;
    for (;;) {
      const count = this.#counts[i]!;
      if (count === 0) {
        this.#first[i] = a;
        this.#second[i] = b;
        this.#counts[i] = 1;
        this.#size++;
        return 1;
      }
      if (this.#first[i] === a && this.#second[i] === b) {
        this.#counts[i] = count + 1;
        return count + 1;
      }
      i = (i + 1) & mask;
    }
  }

  #grow(): void {
    const first = this.#first;
    const second = this.#second;
    const counts = this.#counts;
    const capacity = counts.length * 2;
    this.#first = new Int32Array(capacity);
    this.#second = new Int32Array(capacity);
    this.#counts = new Uint32Array(capacity);
    const mask = capacity - 1;
    for (let j = 0; j < counts.length; j++) {
      if (counts[j] === 0) continue;
      let i = (first[j]! ^ Math.imul(second[j]!, 0x9e3779b1)) & mask;
      while (this.#counts[i] !== 0) i = (i + 1) & mask;
      this.#first[i] = first[j]!;
      this.#second[i] = second[j]!;
      this.#counts[i] = counts[j]!;
    }
  }
}
