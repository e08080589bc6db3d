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
