import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo, Writer } from '../io.js';

/** The repository's example policy (the seed's default policy, byte for byte). */
export const DEFAULT_POLICY = fileURLToPath(new URL('../../../../examples/policies/default.yaml', import.meta.url));

export interface CapturedIo {
  readonly io: CliIo;
  stdout(): string;
  stderr(): string;
}

/** An io that records what is written; `tty` marks stdout as a terminal. */
export function captureIo(options: { env?: Record<string, string | undefined>; tty?: boolean } = {}): CapturedIo {
  let out = '';
  let err = '';
  const stdout: Writer = {
    write(chunk: string) {
      out += chunk;
      return true;
    },
    isTTY: options.tty ?? false,
  };
  const stderr: Writer = {
    write(chunk: string) {
      err += chunk;
      return true;
    },
  };
  return { io: { stdout, stderr, env: options.env ?? {} }, stdout: () => out, stderr: () => err };
}

/** A fresh directory under the OS temp dir; `write` puts a file in it and returns its path. */
export async function tempDir(): Promise<{
  readonly path: string;
  write(name: string, text: string): Promise<string>;
  remove(): Promise<void>;
}> {
  const path = await mkdtemp(join(tmpdir(), 'bounded-cli-'));
  return {
    path,
    async write(name, text) {
      const file = join(path, name);
      await writeFile(file, text);
      return file;
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/**
 * The time a test reading its input a byte at a time may take: every byte is a write to the stream (or a file read),
 * seconds on a loaded machine, where the default 5 s is too tight.
 */
export const BYTE_AT_A_TIME_MS = 30_000;
