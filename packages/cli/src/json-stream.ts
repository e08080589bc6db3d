import { isAscii } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';

type Slicer = (this: Uint8Array, start: number, end: number) => string;
const directLatin1 = (Buffer.prototype as unknown as { latin1Slice?: Slicer }).latin1Slice;

function latin1Of(chunk: Uint8Array): string {
  if (directLatin1) return directLatin1.call(chunk, 0, chunk.length);
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
}

/**
 * Pulls values out of a large JSON text without parsing all of it at once: the text comes in chunks, and every value
 * at one of the `targets` paths is handed to `onValue` as soon as it is complete (parsed with `JSON.parse`, so the
 * hot loop only finds where values end). Everything else is skipped unparsed. Several top-level documents in a row
 * (JSON Lines) are fine.
 *
 * A path names a value by its keys from the top, with `[]` for "any element of this array":
 * `data[]` is each element of the top-level `data` array; `resourceSpans[].scopeSpans[].spans[]` each OTLP span.
 */
export class JsonValueStream {
  readonly #targets: ReadonlySet<string>;
  /** Paths of the containers that lead to a target: descended into; any other container is skipped whole. */
  readonly #prefixes: ReadonlySet<string>;
  readonly #onValue: (path: string, value: unknown) => void;
  readonly #raw: ReadonlyMap<string, RawHandler>;
  /** The text not yet consumed (chunks are decoded as UTF-8; a character cut by a chunk waits for the next). */
  #text = '';
  readonly #decoder = new StringDecoder('utf8');
  #utf8 = false;
  #pos = 0;
  /** Character offset in the whole input of `#text[0]`, for error messages. */
  #base = 0;
  readonly #stack: Frame[] = [];
  /** Depth inside a value being captured or skipped (0: not inside one). */
  #nest = 0;
  #captureStart = -1;
  #capturePath = '';
  /** A raw value whose bytes ran out: read again from `#captureStart` when more come. */
  #rawPending: RawHandler | undefined;
  /** A string being skipped across a chunk boundary: where it began. */
  #stringStart = -1;
  /** A key being read across a chunk boundary: where it began. */
  #keyStart = -1;
  #values = 0;

  /**
   * `raw` targets are not parsed: their handler reads each value from the bytes (valid only during the call),
   * pulling out what it needs without building objects and without a first pass to find its end (spans).
   */
  constructor(
    targets: readonly string[],
    onValue: (path: string, value: unknown) => void,
    raw: Readonly<Record<string, RawHandler>> = {},
  ) {
    this.#raw = new Map(Object.entries(raw));
    targets = [...targets, ...this.#raw.keys()];
    this.#targets = new Set(targets);
    const prefixes = new Set<string>(['']);
    for (const target of targets) {
      let path = target;
      for (;;) {
        const cut = Math.max(path.lastIndexOf('.'), path.endsWith('[]') ? path.length - 2 : -1);
        if (cut <= 0) break;
        path = path.slice(0, cut);
        prefixes.add(path);
      }
    }
    this.#prefixes = prefixes;
    this.#onValue = onValue;
  }

  /** Values handed to `onValue` so far. */
  get values(): number {
    return this.#values;
  }

  write(chunk: Uint8Array): void {
    const keep = this.#retainFrom();
    this.#base += keep;
    // ASCII (the usual trace file) is its own text: no decoding. After the first other byte, the decoder takes over.
    let decoded: string;
    if (!this.#utf8 && isAscii(chunk)) decoded = latin1Of(chunk);
    else {
      this.#utf8 = true;
      decoded = this.#decoder.write(chunk as Buffer);
    }
    this.#text = keep >= this.#text.length ? decoded : this.#text.slice(keep) + decoded;
    this.#shift(keep);
    this.#scan();
  }

  /** The input is complete: throws a JsonStreamError if it ended inside a value. */
  end(): void {
    const rest = this.#decoder.end();
    if (rest) {
      this.#text += rest;
      this.#scan();
    }
    if (this.#nest > 0 || this.#rawPending || this.#stack.length > 0 || this.#stringStart >= 0 || this.#keyStart >= 0) {
      throw new JsonStreamError(`the JSON ends early (inside a value, at character ${this.#base + this.#text.length})`);
    }
  }

  #retainFrom(): number {
    let keep = this.#pos;
    if (this.#captureStart >= 0) keep = Math.min(keep, this.#captureStart);
    if (this.#stringStart >= 0) keep = Math.min(keep, this.#stringStart);
    if (this.#keyStart >= 0) keep = Math.min(keep, this.#keyStart);
    return keep;
  }

  #shift(by: number): void {
    this.#pos -= by;
    if (this.#captureStart >= 0) this.#captureStart -= by;
    if (this.#stringStart >= 0) this.#stringStart -= by;
    if (this.#keyStart >= 0) this.#keyStart -= by;
  }

  #fail(message: string, at: number): never {
    throw new JsonStreamError(`${message} at character ${this.#base + at}`);
  }

  #scan(): void {
    const buf = this.#text;
    const n = buf.length;
    let i = this.#pos;
    for (;;) {
      if (this.#rawPending) {
        const end = this.#rawPending(buf, this.#captureStart, n);
        if (end < 0) break;
        this.#rawPending = undefined;
        this.#captureStart = -1;
        this.#values++;
        i = end;
        this.#afterValue();
        continue;
      }
      if (this.#stringStart >= 0) {
        // Resume a string cut by the chunk boundary.
        const end = closingQuote(buf, this.#stringStart + 1, n);
        if (end < 0) break;
        this.#stringStart = -1;
        i = end + 1;
        if (this.#nest === 0) this.#afterValue();
        continue;
      }
      if (this.#nest > 0) {
        // Inside a captured or skipped value: only strings and brackets matter (the hot loop).
        let nest = this.#nest;
        while (i < n) {
          const c = buf.charCodeAt(i);
          if (c === QUOTE) {
            const end = closingQuote(buf, i + 1, n);
            if (end < 0) break;
            i = end + 1;
            continue;
          }
          if (c === OPEN_BRACE || c === OPEN_BRACKET) nest++;
          else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
            nest--;
            if (nest === 0) {
              i++;
              break;
            }
          }
          i++;
        }
        this.#nest = nest;
        if (nest > 0) {
          if (i < n) {
            // A string runs past the end of the chunk.
            this.#stringStart = i;
            this.#pos = i;
          } else this.#pos = n;
          return;
        }
        this.#finishValue(i);
        continue;
      }
      if (this.#keyStart >= 0) {
        const end = closingQuote(buf, this.#keyStart + 1, n);
        if (end < 0) break;
        const frame = this.#stack.at(-1)!;
        frame.key = buf.slice(this.#keyStart + 1, end);
        if (frame.key.includes('\\')) frame.key = JSON.parse(`"${frame.key}"`) as string;
        frame.state = COLON;
        this.#keyStart = -1;
        i = end + 1;
        continue;
      }
      // Structural level: whitespace, punctuation, keys and the start of values.
      while (i < n && isSpace(buf.charCodeAt(i))) i++;
      if (i >= n) break;
      const c = buf.charCodeAt(i);
      const frame = this.#stack.at(-1);
      if (frame && frame.state === KEY) {
        if (c === QUOTE) {
          this.#keyStart = i;
          continue;
        }
        if (c === CLOSE_BRACE) {
          i = this.#close(i);
          continue;
        }
        this.#fail(`expected a key or "}", found ${show(c)}`, i);
      }
      if (frame && frame.state === COLON) {
        if (c !== COLON_CHAR) this.#fail(`expected ":", found ${show(c)}`, i);
        frame.state = VALUE;
        i++;
        continue;
      }
      if (frame && frame.state === AFTER) {
        if (c === COMMA) {
          frame.state = frame.array ? VALUE : KEY;
          i++;
          continue;
        }
        if ((c === CLOSE_BRACKET && frame.array) || (c === CLOSE_BRACE && !frame.array)) {
          i = this.#close(i);
          continue;
        }
        this.#fail(`expected "," or a closing bracket, found ${show(c)}`, i);
      }
      if (frame?.array && c === CLOSE_BRACKET) {
        // An empty array (or a trailing position after "[").
        i = this.#close(i);
        continue;
      }
      // A value starts here.
      // An array's elements share one path (and one raw handler), worked out once.
      const path = frame
        ? frame.array
          ? frame.elementPath!
          : frame.path
            ? `${frame.path}.${frame.key}`
            : frame.key!
        : '';
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        const raw = frame?.array ? frame.elementRaw : this.#raw.get(path);
        if (raw) {
          this.#captureStart = i;
          this.#rawPending = raw;
          continue;
        }
        if (this.#targets.has(path)) {
          this.#captureStart = i;
          this.#capturePath = path;
          this.#nest = 1;
          i++;
        } else if (this.#prefixes.has(path)) {
          const array = c === OPEN_BRACKET;
          this.#stack.push({
            array,
            path,
            key: undefined,
            state: array ? VALUE : KEY,
            elementPath: array ? `${path}[]` : undefined,
            elementRaw: array ? this.#raw.get(`${path}[]`) : undefined,
          });
          i++;
        } else {
          this.#captureStart = -1;
          this.#nest = 1;
          i++;
        }
        continue;
      }
      if (c === QUOTE) {
        const end = closingQuote(buf, i + 1, n);
        if (end < 0) {
          this.#stringStart = i;
          break;
        }
        if (this.#targets.has(path)) this.#emit(path, buf.slice(i, end + 1));
        i = end + 1;
        this.#afterValue();
        continue;
      }
      // A number, true, false or null: up to the next delimiter.
      let j = i;
      while (j < n && !isDelimiter(buf.charCodeAt(j))) j++;
      if (j >= n) break; // it may go on in the next chunk
      if (this.#targets.has(path)) this.#emit(path, buf.slice(i, j));
      i = j;
      this.#afterValue();
    }
    this.#pos = i;
  }

  #finishValue(end: number): void {
    if (this.#captureStart >= 0) {
      this.#emit(this.#capturePath, this.#text.slice(this.#captureStart, end));
      this.#captureStart = -1;
    }
    this.#pos = end;
    this.#afterValue();
  }

  #emit(path: string, text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new JsonStreamError(`invalid JSON in ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.#values++;
    this.#onValue(path, value);
  }

  #close(i: number): number {
    this.#stack.pop();
    this.#afterValue();
    return i + 1;
  }

  #afterValue(): void {
    const frame = this.#stack.at(-1);
    if (frame) frame.state = AFTER;
  }
}

/**
 * Reads one value straight from the text: it starts at `text[start]`; the text available ends at `end`. Returns
 * where the value ends (one past its last character), or -1 when it goes on past `end` (it is called again, from the
 * same start, when more has come). It must act only once it has read the whole value.
 */
export type RawHandler = (text: string, start: number, end: number) => number;

/** The input is not the JSON it should be. */
export class JsonStreamError extends Error {
  readonly code = 'JSON_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'JsonStreamError';
  }
}

interface Frame {
  readonly array: boolean;
  readonly path: string;
  key: string | undefined;
  state: number;
  readonly elementPath: string | undefined;
  readonly elementRaw: RawHandler | undefined;
}

const KEY = 0;
const COLON = 1;
const VALUE = 2;
const AFTER = 3;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON_CHAR = 0x3a;

/** The index of the quote that closes a string whose content starts at `from`, or -1 if it is not in the text. */
function closingQuote(text: string, from: number, n: number): number {
  let j = text.indexOf('"', from);
  while (j >= 0 && j < n) {
    let slashes = 0;
    for (let k = j - 1; k >= from && text.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return j;
    j = text.indexOf('"', j + 1);
  }
  return -1;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isDelimiter(c: number): boolean {
  return c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isSpace(c);
}

function show(c: number): string {
  return JSON.stringify(String.fromCharCode(c));
}
