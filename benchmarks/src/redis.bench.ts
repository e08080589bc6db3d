/**
 * Governed tool calls per second through Redis from one process, at 1, 16 and 64 concurrent runs, with the latency
 * governance adds to each call (p50, p99) and the round trips per call, counted on the client and on the server.
 * Each call checks the kill switch and three cross-run limits and reserves its price in one Lua script.
 * Baselines in the same process: the same calls on the in-memory stores, and bare PINGs to the same Redis.
 * Target: >= 10,000 governed calls/s at 64 concurrent runs, one round trip per call.
 *
 * Uses REDIS_URL; without it, starts a redis-server of its own on a free port (or says why it skipped).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGovernor, definePolicy, type Governor, type Stores } from '@bounded/core';
import { type RedisStores, redisStores } from '@bounded/redis';
import { environment } from './harness.js';

const policy = definePolicy({
  limits: {
    per_agent: { tool_calls_per_hour: 1e12, usd_per_day: 1e12 },
    per_tenant: { tool_calls_per_minute: 1e12, window: 'fixed' },
  },
  pricing: { tools: { 'kb.read': 0.0001 } },
  writes: { tools: ['crm.*'], require_approval: false },
});

const read = async (args: { id: number }) => args.id;
/** Distinct arguments for every call of the whole benchmark: no loop detected, no write replayed. */
let ids = 0;

interface Level {
  readonly concurrency: number;
  readonly callsPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly clientPerCall: number;
  readonly serverPerCall: number;
}

/** `concurrency` runs at once, `calls` tool calls in all; every call timed from run.tool() to its result. */
async function measure(
  governor: Governor,
  concurrency: number,
  calls: number,
  tool: string,
): Promise<{ seconds: number; latencies: Float64Array }> {
  const latencies = new Float64Array(calls);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, (_, lane) =>
      governor.run({ agent: 'bench', tenant: 'acme' }, async run => {
        for (let i = next++; i < calls; i = next++) {
          const t0 = performance.now();
          await run.tool(tool, { id: ids++, lane }, read);
          latencies[i] = performance.now() - t0;
        }
      }),
    ),
  );
  return { seconds: (performance.now() - started) / 1000, latencies };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Counts commands sent by the client (one request, one reply each). */
function commandCounter(stores: RedisStores): () => number {
  let sent = 0;
  const client = stores.redis;
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((...args: unknown[]) => {
    sent++;
    return (send as (...a: unknown[]) => unknown)(...args);
  }) as typeof client.sendCommand;
  return () => sent;
}

/** Scripts the server ran (commands inside a script are not requests, so they are not counted). */
async function serverScripts(stores: RedisStores): Promise<number> {
  const info = await stores.redis.info('commandstats');
  const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return calls('evalsha') + calls('eval');
}

async function level(
  stores: RedisStores,
  sent: () => number,
  concurrency: number,
  calls: number,
  tool = 'kb.read',
): Promise<Level> {
  const governor = createGovernor({ policy, stores });
  await measure(governor, concurrency, Math.min(2000, calls), tool); // warm-up
  await stores.redis.ping();
  const clientBefore = sent();
  const serverBefore = await serverScripts(stores);
  const { seconds, latencies } = await measure(governor, concurrency, calls, tool);
  await stores.redis.ping(); // the last writes' results leave before counting
  // Minus the INFO and PING this measurement sent itself.
  const clientCount = sent() - clientBefore - 2;
  const serverCount = (await serverScripts(stores)) - serverBefore;
  governor.close();
  latencies.sort();
  return {
    concurrency,
    callsPerSecond: calls / seconds,
    p50Us: quantile(latencies, 0.5) * 1000,
    p99Us: quantile(latencies, 0.99) * 1000,
    clientPerCall: clientCount / calls,
    serverPerCall: serverCount / calls,
  };
}

async function memoryBaseline(concurrency: number, calls: number): Promise<number> {
  const governor = createGovernor({ policy, stores: {} as Partial<Stores> });
  await measure(governor, concurrency, 2000, 'kb.read');
  const { seconds } = await measure(governor, concurrency, calls, 'kb.read');
  return calls / seconds;
}

async function pingBaseline(stores: RedisStores, concurrency: number, count: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await stores.redis.ping();
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** REDIS_URL, or a redis-server of our own; undefined when neither is possible. */
async function redisUrl(): Promise<{ url: string; server?: ChildProcess } | undefined> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL };
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  const port = await freePort();
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  return { url: `redis://127.0.0.1:${port}`, server };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main() {
  const redis = await redisUrl();
  if (!redis) {
    console.log('Bounded Redis benchmark: skipped (REDIS_URL is not set and there is no redis-server on PATH).');
    return;
  }
  let stores: RedisStores | undefined;
  try {
    for (let attempt = 0; !stores; attempt++) {
      try {
        stores = await redisStores({ url: redis.url, prefix: `bench:${process.pid}:` });
      } catch (error) {
        if (attempt > 40) throw error;
        await sleep(50); // our own server is still starting
      }
    }
    const version = /redis_version:(\S+)/.exec(await stores.redis.info('server'))?.[1];
    const where = redis.server ? `a redis-server of its own, ${version}` : `REDIS_URL, redis ${version}`;
    console.log(`Bounded Redis benchmark (${environment()}; ${where})`);
    const sent = commandCounter(stores);

    const levels: Level[] = [];
    for (const [concurrency, calls] of [
      [1, 5_000],
      [16, 30_000],
      [64, 60_000],
    ] as const) {
      levels.push(await level(stores, sent, concurrency, calls));
    }
    const writes = await level(stores, sent, 64, 20_000, 'crm.update');
    const memory = await memoryBaseline(64, 60_000);
    const pings = await pingBaseline(stores, 64, 60_000);

    console.log(
      '\nGoverned tool calls through Redis, one process (kill switch, 3 cross-run limits and a USD reservation per call)',
    );
    console.log(
      '  concurrent runs     calls/s   added latency p50        p99   round trips/call   scripts run/call (server)',
    );
    const row = (name: string, l: Level) =>
      console.log(
        `  ${name.padEnd(16)}${fmt(l.callsPerSecond).padStart(10)}   ${`${fmt(l.p50Us)} µs`.padStart(17)}` +
          `${`${fmt(l.p99Us)} µs`.padStart(11)}   ${fmt(l.clientPerCall, 2).padStart(16)}   ${fmt(l.serverPerCall, 2).padStart(25)}`,
      );
    for (const l of levels) row(String(l.concurrency), l);
    row('64, writes', writes);
    console.log(
      `\n  baselines, same process: in-memory stores at 64 concurrent runs ${fmt(memory)} calls/s; ` +
        `bare PING to the same Redis at 64 concurrent ${fmt(pings)} /s.` +
        '\n  (a deduplicated write makes two round trips: one to admit it, one to record its result)',
    );
    const top = levels.at(-1)!;
    const met = top.callsPerSecond >= 10_000 && Math.abs(top.clientPerCall - 1) < 0.01;
    console.log(
      `  target: >= 10,000 calls/s at 64 concurrent runs, 1 round trip per call: ${fmt(top.callsPerSecond)} calls/s, ` +
        `${fmt(top.clientPerCall, 2)} round trips -> ${met ? 'met' : 'MISSED'}`,
    );
    const keys = await stores.redis.keys(`bench:${process.pid}:*`);
    for (let i = 0; i < keys.length; i += 500) await stores.redis.del(...keys.slice(i, i + 500));
  } finally {
    await stores?.close();
    redis.server?.kill();
  }
}

await main();
