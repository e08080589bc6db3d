import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { captureIo } from './test-utils/io.js';

/**
 * The kill switch and the approval queue across processes, through a real Redis: a child process runs governed runs
 * with the Redis stores; this process throws the kill switch and decides approvals with the CLI. `.ci/run` starts
 * Redis and sets REDIS_URL.
 */
const url = process.env.REDIS_URL;
if (!url && process.env.CI === 'true') throw new Error('CI=true but REDIS_URL is not set: .ci/run must start Redis');
const SECRET = 'a-test-secret-of-at-least-32-bytes!!';

// biome-ignore lint/suspicious/noExplicitAny: reports are whatever JSON the worker sends
type Report = { type: string; [key: string]: any };

interface Worker {
  send(command: object): void;
  next(type: string): Promise<Report>;
  stop(): Promise<void>;
}

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map(worker => worker.stop()));
});

function spawnWorker(params: object): Worker {
  const script = fileURLToPath(new URL('../src/test-workers/governed.mjs', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [script, JSON.stringify(params)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const reports: Report[] = [];
  const waiters: Array<{ type: string; resolve: (report: Report) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', line => {
    const report = JSON.parse(line) as Report;
    const waiter = waiters.findIndex(w => w.type === report.type);
    if (waiter >= 0) waiters.splice(waiter, 1)[0]!.resolve(report);
    else reports.push(report);
  });
  const exited = new Promise(resolve => child.on('exit', resolve));
  const worker: Worker = {
    send: command => child.stdin!.write(`${JSON.stringify(command)}\n`),
    next: type =>
      new Promise((resolve, reject) => {
        const index = reports.findIndex(r => r.type === type);
        if (index >= 0) return resolve(reports.splice(index, 1)[0]!);
        const timer = setTimeout(() => reject(new Error(`no "${type}" report from the worker in 15 s`)), 15_000);
        waiters.push({
          type,
          resolve: report => {
            clearTimeout(timer);
            resolve(report);
          },
        });
      }),
    async stop() {
      child.stdin!.write(`${JSON.stringify({ do: 'exit' })}\n`);
      const timer = setTimeout(() => child.kill(), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  workers.push(worker);
  return worker;
}

async function cli(...argv: string[]) {
  const captured = captureIo({ env: { BOUNDED_APPROVAL_SECRET: SECRET, USER: 'tester' } });
  const code = await runCli(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

it.skipIf(Boolean(url))('needs Redis: set REDIS_URL (.ci/run does)', () => {});

describe.skipIf(!url)('kill, revive and approvals against runs in another process, through Redis', () => {
  it("kill --agent stops the other process's run in flight and refuses new ones; revive lets them run again", async () => {
    const prefix = `bounded-test-${randomUUID().slice(0, 8)}:`;
    const agent = 'support-agent';
    const worker = spawnWorker({ url, prefix, secret: SECRET, agent });
    await worker.next('ready');
    worker.send({ do: 'hang' });
    const running = await worker.next('running');

    const killed = await cli(
      'kill',
      '--agent',
      agent,
      '--reason',
      'runaway agent',
      '--by',
      'oncall',
      '--redis',
      url!,
      '--prefix',
      prefix,
    );
    expect(killed.stderr).toBe('');
    expect(killed.code).toBe(0);
    expect(killed.stdout).toBe(
      `killed agent ${agent}: runaway agent (by oncall); bounded revive --agent ${agent} undoes it\n`,
    );
    const result = await worker.next('result');
    expect(result).toMatchObject({ kind: 'hang', status: 'stopped', stopReason: 'killed' });
    expect(result.detail).toContain('runaway agent');

    worker.send({ do: 'quick' });
    expect(await worker.next('result')).toMatchObject({ kind: 'quick', status: 'stopped', stopReason: 'killed' });

    const list = await cli('kill', '--list', '--json', '--redis', url!, '--prefix', prefix);
    expect(JSON.parse(list.stdout).kills).toEqual([
      expect.objectContaining({ target: { scope: 'agent', agent }, reason: 'runaway agent', by: 'oncall' }),
    ]);

    const revived = await cli('revive', '--agent', agent, '--redis', url!, '--prefix', prefix);
    expect(revived.stdout).toBe(`revived agent ${agent}\n`);
    await new Promise(resolve => setTimeout(resolve, 200));
    worker.send({ do: 'quick' });
    expect(await worker.next('result')).toMatchObject({ kind: 'quick', status: 'ok' });
    expect((await cli('revive', '--agent', agent, '--redis', url!, '--prefix', prefix)).stdout).toContain(
      'nothing to revive',
    );
    expect(running.runId).toBeTypeOf('string');
  }, 30_000);

  it('kill --run stops one run; kill --global every run', async () => {
    const prefix = `bounded-test-${randomUUID().slice(0, 8)}:`;
    const worker = spawnWorker({ url, prefix, secret: SECRET, agent: 'a' });
    await worker.next('ready');
    worker.send({ do: 'hang' });
    const { runId } = await worker.next('running');
    expect((await cli('kill', '--run', runId, '--redis', url!, '--prefix', prefix)).code).toBe(0);
    const result = await worker.next('result');
    expect(result).toMatchObject({ status: 'stopped', stopReason: 'killed' });
    expect(result.detail).toContain('killed from the command line');
    worker.send({ do: 'quick' }); // another run of the same agent is not affected
    expect(await worker.next('result')).toMatchObject({ status: 'ok' });

    worker.send({ do: 'hang' });
    await worker.next('running');
    expect((await cli('kill', '--global', '--redis', url!, '--prefix', prefix)).code).toBe(0);
    expect(await worker.next('result')).toMatchObject({ status: 'stopped', stopReason: 'killed' });
    expect((await cli('revive', '--global', '--redis', url!, '--prefix', prefix)).code).toBe(0);
  }, 30_000);

  it("approvals list shows the other process's waiting write; approve runs it, reject stops the run", async () => {
    const prefix = `bounded-test-${randomUUID().slice(0, 8)}:`;
    const worker = spawnWorker({ url, prefix, secret: SECRET, agent: 'billing-agent' });
    await worker.next('ready');
    worker.send({ do: 'write' });
    const requested = await worker.next('requested');

    const list = await cli('approvals', 'list', '--json', '--redis', url!, '--prefix', prefix);
    expect(list.code).toBe(0);
    const [pending] = JSON.parse(list.stdout).pending;
    expect(pending).toMatchObject({
      id: requested.id,
      tool: 'crm.update',
      agent: 'billing-agent',
      args: { customer: 'cus_1', plan: 'priority', n: 1 },
    });
    const text = await cli('approvals', 'list', '--redis', url!, '--prefix', prefix);
    expect(text.stdout).toMatch(new RegExp(`^${requested.id} +crm\\.update +billing-agent `, 'm'));

    const approved = await cli(
      'approvals',
      'approve',
      requested.id.slice(0, 8),
      '--by',
      'alice',
      '--reason',
      'contract on file',
      '--redis',
      url!,
      '--prefix',
      prefix,
    );
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(
      new RegExp(`^approved ${requested.id}: crm\\.update for billing-agent \\(run .+\\), by alice$`, 'm'),
    );
    expect(await worker.next('result')).toMatchObject({ kind: 'write', status: 'ok', executed: 1 });

    worker.send({ do: 'write' });
    const second = await worker.next('requested');
    const rejected = await cli('approvals', 'reject', second.id, '--by', 'bob', '--redis', url!, '--prefix', prefix);
    expect(rejected.code).toBe(0);
    expect(await worker.next('result')).toMatchObject({
      status: 'stopped',
      stopReason: 'approval_rejected:crm.update',
      executed: 1,
    });

    const again = await cli('approvals', 'approve', second.id, '--by', 'bob', '--redis', url!, '--prefix', prefix);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no waiting request ${second.id}`);
    expect((await cli('approvals', 'list', '--redis', url!, '--prefix', prefix)).stdout).toBe(
      'no write is waiting for approval\n',
    );
  }, 30_000);

  it('says what is missing: a target, --by, the secret, a reachable Redis', async () => {
    expect((await cli('kill', '--redis', url!)).stderr).toContain(
      'name the target: --global, --agent <name> or --run <id>',
    );
    expect((await cli('kill', '--global', '--agent', 'x', '--redis', url!)).stderr).toContain('name one target');
    expect((await cli('approvals', 'approve', 'abc', '--redis', url!)).stderr).toContain('approve needs --by <who>');
    const noSecret = captureIo({ env: {} });
    expect(await runCli(['approvals', 'approve', 'abc', '--by', 'bob', '--redis', url!], noSecret.io)).toBe(2);
    expect(noSecret.stderr()).toContain('no signing secret: set BOUNDED_APPROVAL_SECRET');
    // Looking needs no secret.
    const lister = captureIo({ env: {} });
    const emptyPrefix = `bounded-test-${randomUUID().slice(0, 8)}:`;
    expect(await runCli(['approvals', 'list', '--redis', url!, '--prefix', emptyPrefix], lister.io)).toBe(0);
    expect(lister.stdout()).toContain('no write is waiting for approval');
    const down = await cli('kill', '--global', '--redis', 'redis://127.0.0.1:1');
    expect(down.code).toBe(6);
    expect(down.stderr).toContain('cannot reach Redis');
  }, 30_000);
});
