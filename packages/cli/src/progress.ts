import type { Writer } from './io.js';
import { formatInt } from './stats.js';
import type { ReadProgress } from './traces.js';

export interface Progress {
  update(progress: ReadProgress): void;
  /** Clears the bar. */
  done(): void;
}

const WIDTH = 24;

/**
 * A one-line progress bar on a terminal (redrawn at most every 100 ms, cleared at the end): bytes read of the total
 * when it is known, spans so far and their rate. Nothing at all when the writer is not a terminal.
 */
export function progressBar(writer: Writer, label: string, options: { enabled?: boolean } = {}): Progress {
  const enabled = options.enabled ?? writer.isTTY === true;
  if (!enabled) return { update() {}, done() {} };
  const started = performance.now();
  let last = 0;
  let drawn = false;
  return {
    update(progress) {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      const seconds = (now - started) / 1000;
      const rate = seconds > 0 ? `${formatInt(progress.spans / seconds)} spans/s` : '';
      let bar = '';
      if (progress.totalBytes) {
        const share = Math.min(1, progress.bytes / progress.totalBytes);
        const full = Math.round(share * WIDTH);
        bar = `[${'#'.repeat(full)}${'-'.repeat(WIDTH - full)}] ${String(Math.round(share * 100)).padStart(3)}%  `;
      } else {
        bar = `${(progress.bytes / 1e6).toFixed(1)} MB  `;
      }
      writer.write(`\r${label} ${bar}${formatInt(progress.spans)} spans  ${rate}\u001b[K`);
      drawn = true;
    },
    done() {
      if (drawn) writer.write('\r\u001b[K');
    },
  };
}
