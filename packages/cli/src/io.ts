/** Where output goes: `process.stdout` and `process.stderr` fit, and so does anything with a `write(string)`. */
export interface Writer {
  write(chunk: string): unknown;
  /** Colors are used only when this is true (and `NO_COLOR` is not set). */
  readonly isTTY?: boolean;
}

export interface CliIo {
  readonly stdout: Writer;
  readonly stderr: Writer;
  /** Read for `NO_COLOR` and `FORCE_COLOR`; defaults to no variables at all (no colors unless a TTY). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Text styles; each is the identity when colors are off. */
export interface Style {
  readonly enabled: boolean;
  readonly bold: (text: string) => string;
  readonly dim: (text: string) => string;
  readonly red: (text: string) => string;
  readonly green: (text: string) => string;
  readonly yellow: (text: string) => string;
  readonly cyan: (text: string) => string;
}

/** Colors when the writer is a TTY, never with `NO_COLOR` (any non-empty value), always with `FORCE_COLOR` (not `0`). */
export function useColor(writer: Writer, env: Readonly<Record<string, string | undefined>> = {}): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return writer.isTTY === true;
}

export function createStyle(enabled: boolean): Style {
  const sgr = (open: number, close: number) => (text: string) =>
    enabled && text ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
  };
}

/** Writes lines to a writer, each ending in a newline. */
export function writeLines(writer: Writer, lines: readonly string[]): void {
  if (lines.length > 0) writer.write(`${lines.join('\n')}\n`);
}

/** Writes one JSON document (two-space indented) and a newline. */
export function writeJson(writer: Writer, value: unknown): void {
  writer.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Aligns rows into columns: every column but the last is padded to its widest cell (measured before styling).
 * `style` colors a cell after padding, so escape codes never break the alignment.
 */
export function columns(
  rows: readonly (readonly string[])[],
  options: {
    readonly gap?: number;
    readonly indent?: number;
    readonly style?: (column: number, cell: string) => string;
  } = {},
): string[] {
  const gap = ' '.repeat(options.gap ?? 2);
  const indent = ' '.repeat(options.indent ?? 0);
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map(row => {
    const cells = row.map((cell, i) => {
      const padded = i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
      if (!options.style) return padded;
      // Style the text, not the padding.
      const styled = options.style(i, cell);
      return styled + padded.slice(cell.length);
    });
    return (indent + cells.join(gap)).trimEnd();
  });
}
