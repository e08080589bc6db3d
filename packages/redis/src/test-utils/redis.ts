import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'vitest';

/** The shared test Redis (started by .ci/services.sh), if any. */
export const REDIS_URL = process.env.REDIS_URL;

const SKIP_REASON =
  'REDIS_URL is not set: start `redis-server --port 6390 --save "" --appendonly no` and set REDIS_URL=redis://127.0.0.1:6390';

/**
 * A suite that needs Redis: skipped with the reason when REDIS_URL is unset, except under CI=true, where a missing
 * Redis is a failure (CI starts one).
 */
export function describeWithRedis(name: string, suite: (url: string) => void): void {
  if (REDIS_URL) {
    describe(name, () => suite(REDIS_URL));
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs Redis', () => {
        throw new Error(`${SKIP_REASON} (under CI=true the Redis tests must run)`);
      });
    });
    return;
  }
  describe.skip(`${name} [skipped: ${SKIP_REASON}]`, () => {
    it('needs Redis', () => {});
  });
}

/** A prefix of its own per test, so tests can share one Redis (and run in parallel). */
export function uniquePrefix(): string {
  return `test:${randomUUID().slice(0, 8)}:`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Sends PING over a raw socket; true on +PONG. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise(resolve => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', data => done(data.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** Stops the server: SIGKILL by default (a crash), SIGTERM for a clean shutdown. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

/**
 * A redis-server of a test's own, on a free port of 127.0.0.1, for tests that stop and restart Redis (never the
 * shared one). `persistent` keeps an append-only file (fsync always), as a production Redis holding idempotency
 * records would.
 */
export async function startPrivateRedis(options: { persistent?: boolean } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bounded-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir];
  args.push(...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    const spawned = child;
    const failed = new Promise<never>((_, reject) => {
      spawned.once('error', reject);
      spawned.once('exit', code => reject(new Error(`redis-server exited with ${code}`)));
    });
    failed.catch(() => {});
    for (let i = 0; i < 200; i++) {
      if (await Promise.race([ping(port), failed])) return;
      await sleep(25);
    }
    throw new Error(`redis-server did not answer PING on port ${port}`);
  };
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise(resolve => running.once('exit', resolve));
    running.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
