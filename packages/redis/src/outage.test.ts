import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGovernor } from '@bounded/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from './errors.js';
import { redisStores } from './stores.js';
import { type PrivateRedis, startPrivateRedis } from './test-utils/redis.js';
import { spawnWorker, type Worker } from './test-utils/workers.js';

// These tests stop and restart Redis, so they start a redis-server of their own (never the shared one). It keeps an
// append-only file, as a production Redis holding idempotency records should.

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
// Under CI a missing redis-server is a failure (CI installs it), not a skip.
const suite = hasRedisServer || process.env.CI === 'true' ? describe : describe.skip;
const title = hasRedisServer
  ? 'Redis stopped in the middle of runs, then restarted'
  : 'Redis stopped in the middle of runs [skipped: no redis-server on PATH; apt-get install -y redis-server]';

suite(title, () => {
  let redis: PrivateRedis;
  let dir: string;
  beforeAll(async () => {
    redis = await startPrivateRedis({ persistent: true });
    dir = mkdtempSync(join(tmpdir(), 'bounded-outage-'));
  });
  afterAll(async () => {
    await redis?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes are refused with store_unavailable, nothing runs twice, runs after the restart succeed', async () => {
    const log = join(dir, 'executions.log');
    writeFileSync(log, '');
    const orders = 150;
    const workers: Worker[] = Array.from({ length: 3 }, () =>
      spawnWorker('outage.mjs', { url: redis.url, prefix: 'outage:', orders, lanes: 4, writeMs: 25, log }),
    );
    try {
      await Promise.all(workers.map(worker => worker.next('ready')));
      for (const worker of workers) worker.send({ type: 'go' });
      const executed = () => readFileSync(log, 'utf8').split('\n').filter(Boolean);
      while (executed().length < orders / 3) await sleep(10);
      await redis.stop('SIGKILL');
      const stoppedAt = Date.now();
      const beforeStop = executed().length;
      await sleep(1500);
      await redis.start();
      const restartedAt = Date.now();
      const done = await Promise.all(workers.map(worker => worker.next('done')));

      const lines = executed();
      const perOrder = new Map<string, number>();
      for (const line of lines) {
        const order = line.split(' ')[0]!;
        perOrder.set(order, (perOrder.get(order) ?? 0) + 1);
      }
      const twice = [...perOrder].filter(([, n]) => n > 1);
      const refused = done.reduce((sum, d) => sum + d.refused, 0);
      const readsUnchecked = done.reduce((sum, d) => sum + d.readsUnchecked, 0);
      const afterRestart = done
        .flatMap(d => Object.values(d.outcomes) as Array<{ at: number }>)
        .filter(o => o.at > restartedAt).length;
      console.log(
        `outage: 3 processes x ${orders} writes; ${beforeStop} executed before Redis stopped, 1.5 s down, ` +
          `${refused} writes refused with store_unavailable (${readsUnchecked} runs read unchecked under ` +
          `fail_mode.reads: open), ${lines.length} executions of ${perOrder.size} orders, ${twice.length} ran twice, ` +
          `${afterRestart} results after the restart`,
      );
      expect(refused).toBeGreaterThan(0);
      expect(readsUnchecked).toBeGreaterThan(0);
      expect(done.every(d => d.warnings.length > 0)).toBe(true);
      expect(twice).toEqual([]);
      expect(perOrder.size).toBe(orders);
      expect(afterRestart).toBeGreaterThan(0);
      expect(done.every(d => d.unsettled === 0)).toBe(true);
      // Every process got the same result for every order: the one execution's, replayed to the others.
      for (let order = 0; order < orders; order++) {
        const outputs = new Set(done.map(d => JSON.stringify(d.outcomes[order].output)));
        expect(outputs.size, `order ${order}`).toBe(1);
      }
      expect(stoppedAt).toBeLessThan(restartedAt);
    } catch (error) {
      console.log(readFileSync(log, 'utf8'));
      throw error;
    } finally {
      for (const worker of workers) worker.kill();
    }
  }, 120_000);

  it('a write is refused at once while Redis is down, and the next one after it is back runs', async () => {
    const stores = await redisStores({ url: redis.url, prefix: 'single:' });
    try {
      const governor = createGovernor({ policy: { writes: { tools: ['crm.*'], require_approval: false } }, stores });
      const write = (id: number) =>
        governor.run({ agent: 'a' }, run => run.tool('crm.update', { id }, async () => `saved ${id}`));
      expect(await write(1)).toMatchObject({ status: 'ok' });
      await redis.stop('SIGKILL');
      const started = performance.now();
      const refused = await write(2);
      expect(refused).toMatchObject({ status: 'stopped', stopReason: 'store_unavailable' });
      expect(refused.status === 'stopped' && refused.detail).toMatch(/Redis unavailable/);
      expect(performance.now() - started).toBeLessThan(500); // at once, not after a reconnect
      await expect(stores.limits.take([], Date.now())).resolves.toEqual({ ok: true });
      await expect(stores.idempotency.begin('k', 'f', 1000)).rejects.toBeInstanceOf(StoreUnavailableError);
      await redis.start();
      for (let i = 0; i < 100 && stores.redis.status !== 'ready'; i++) await sleep(50);
      expect(await write(3)).toMatchObject({ status: 'ok', output: 'saved 3' });
      // The first write's record survived the restart (append-only file): a retry replays it.
      expect(await write(1)).toMatchObject({ status: 'ok', output: 'saved 1', usage: { decisions: { dedup: 1 } } });
      // The kill-switch subscription came back too: a kill from another process still stops runs here.
      const ops = await redisStores({ url: redis.url, prefix: 'single:' });
      try {
        const hanging = governor.run({ agent: 'a' }, run =>
          run.tool(
            'http.get',
            {},
            (_args, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', reject)),
          ),
        );
        await sleep(20);
        const killedAt = performance.now();
        await ops.killSwitch.kill({ scope: 'agent', agent: 'a' }, { by: 'ops' });
        expect(await hanging).toMatchObject({ stopReason: 'killed' });
        expect(performance.now() - killedAt).toBeLessThan(500);
      } finally {
        await ops.close();
      }
    } finally {
      await stores.close();
    }
  }, 60_000);
});
