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
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  /** Byte offset in the whole input of `#buf[0]`, for error messages. */
  #base = 0;
  readonly #stack: Frame[] = [];
  /** Depth inside a value being captured or skipped (0: not inside one). */
  #nest = 0;
  #captureStart = -1;
  #capturePath = '';
  /** A string being skipped across a chunk boundary: where it began. */
  #stringStart = -1;
  /** A key being read across a chunk boundary: where it began. */
  #keyStart = -1;
  #values = 0;

  constructor(targets: readonly string[], onValue: (path: string, value: unknown) => void) {
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
    const rest = this.#buf.subarray(keep);
    this.#base += keep;
    this.#buf =
      rest.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([rest, chunk]);
    this.#shift(keep);
    this.#scan();
  }

  /** The input is complete: throws a JsonStreamError if it ended inside a value. */
  end(): void {
    if (this.#nest > 0 || this.#stack.length > 0 || this.#stringStart >= 0 || this.#keyStart >= 0) {
      throw new JsonStreamError(`the JSON ends early (inside a value, at byte ${this.#base + this.#buf.length})`);
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
    throw new JsonStreamError(`${message} at byte ${this.#base + at}`);
  }

  #scan(): void {
    const buf = this.#buf;
    const n = buf.length;
    let i = this.#pos;
    for (;;) {
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
          const c = buf[i]!;
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
        frame.key = buf.toString('utf8', this.#keyStart + 1, end);
        if (frame.key.includes('\\')) frame.key = JSON.parse(`"${frame.key}"`) as string;
        frame.state = COLON;
        this.#keyStart = -1;
        i = end + 1;
        continue;
      }
      // Structural level: whitespace, punctuation, keys and the start of values.
      while (i < n && isSpace(buf[i]!)) i++;
      if (i >= n) break;
      const c = buf[i]!;
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
      const path = frame
        ? frame.array
          ? `${frame.path}[]`
          : frame.path
            ? `${frame.path}.${frame.key}`
            : frame.key!
        : '';
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (this.#targets.has(path)) {
          this.#captureStart = i;
          this.#capturePath = path;
          this.#nest = 1;
          i++;
        } else if (this.#prefixes.has(path)) {
          this.#stack.push({
            array: c === OPEN_BRACKET,
            path,
            key: undefined,
            state: c === OPEN_BRACKET ? VALUE : KEY,
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
        if (this.#targets.has(path)) this.#emit(path, buf.toString('utf8', i, end + 1));
        i = end + 1;
        this.#afterValue();
        continue;
      }
      // A number, true, false or null: up to the next delimiter.
      let j = i;
      while (j < n && !isDelimiter(buf[j]!)) j++;
      if (j >= n) break; // it may go on in the next chunk
      if (this.#targets.has(path)) this.#emit(path, buf.toString('utf8', i, j));
      i = j;
      this.#afterValue();
    }
    this.#pos = i;
  }

  #finishValue(end: number): void {
    if (this.#captureStart >= 0) {
      this.#emit(this.#capturePath, this.#buf.toString('utf8', this.#captureStart, end));
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

/** The index of the quote that closes a string whose content starts at `from`, or -1 if it is not in the buffer. */
function closingQuote(buf: Buffer, from: number, n: number): number {
  let j = buf.indexOf(QUOTE, from);
  while (j >= 0 && j < n) {
    let slashes = 0;
    for (let k = j - 1; k >= from && buf[k] === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return j;
    j = buf.indexOf(QUOTE, j + 1);
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
