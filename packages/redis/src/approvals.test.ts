import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGovernor, type PendingApproval } from '@bounded/core';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { pendingApprovals, type RedisApprovalQueue, redisApprovals } from './approvals.js';
import { RedisStoreOptionsError } from './errors.js';
import { type RefusedDecision, signDecision } from './index.js';
import { requestDigest } from './signing.js';
import { describeWithRedis, uniquePrefix } from './test-utils/redis.js';

const policy = { writes: { tools: ['payments.*'], approval_timeout_seconds: 5 } };

describeWithRedis('RedisApprovalQueue', url => {
  const secret = randomBytes(32);
  let prefix: string;
  // The queue the governor waits on (one process), and an admin's queue that decides (another).
  let waiting: RedisApprovalQueue;
  let admin: RedisApprovalQueue;
  let raw: Redis;
  beforeEach(async () => {
    prefix = uniquePrefix();
    [waiting, admin] = await Promise.all([
      redisApprovals({ url, prefix, secret, pollMs: 50 }),
      redisApprovals({ url, prefix, secret }),
    ]);
    raw = new Redis(url);
  });
  afterEach(async () => {
    await Promise.all([waiting.close(), admin.close(), raw.quit()]);
  });

  /** Starts a run whose write waits for approval; resolves with the pending request once the admin can see it. */
  async function startWrite() {
    const governor = createGovernor({ policy, approver: waiting });
    let executions = 0;
    const seen = new Promise<PendingApproval>(resolve => admin.onRequest(resolve));
    const result = governor.run({ agent: 'billing', tenant: 'acme' }, run =>
      run.tool('payments.refund', { order: 'o-1', cents: 4200 }, async () => ++executions),
    );
    const pending = await seen;
    return { pending, result, executions: () => executions };
  }

  /** Writes a decision straight into Redis, as someone with access to Redis but not to the secret could. */
  async function plant(id: string, decision: object) {
    await raw.set(`${prefix}approval:${id}`, JSON.stringify(decision));
    await raw.publish(`${prefix}approvals`, JSON.stringify({ type: 'decided', id }));
  }

  it('a write waits until another process approves it; the approver is recorded', async () => {
    const { pending, result, executions } = await startWrite();
    expect(pending).toMatchObject({ agent: 'billing', tenant: 'acme', tool: 'payments.refund', args: { cents: 4200 } });
    expect(await admin.pending()).toEqual([pending]);
    // Listing needs no secret.
    expect(await pendingApprovals({ url, prefix })).toEqual([pending]);
    expect(await admin.approve(pending.id, { by: 'alice@example.com', reason: 'ticket 881' })).toEqual({ ok: true });
    expect(await result).toMatchObject({ status: 'ok', output: 1, usage: { decisions: { approved: 1 } } });
    expect(executions()).toBe(1);
    expect(await admin.pending()).toEqual([]);
    // Decided once: a second decision finds nothing pending.
    expect(await admin.reject(pending.id, { by: 'bob' })).toEqual({ ok: false, reason: 'not_pending' });
  });

  it('a rejection from another process stops the run with approval_rejected', async () => {
    const { pending, result, executions } = await startWrite();
    await admin.reject(pending.id, { by: 'bob', reason: 'duplicate refund' });
    expect(await result).toMatchObject({
      stopReason: 'approval_rejected:payments.refund',
      detail: 'rejected by bob: duplicate refund',
    });
    expect(executions()).toBe(0);
  });

  it('refuses forged, tampered, misdirected and expired decisions; the request keeps waiting', async () => {
    const refused: RefusedDecision[] = [];
    waiting.onRefused(r => refused.push(r));
    const { pending, result, executions } = await startWrite();
    const stored = await raw.hget(`${prefix}approvals`, pending.id);
    const digest = requestDigest(JSON.parse(stored!));
    const now = Date.now();
    const genuine = { id: pending.id, approved: true, by: 'mallory', reason: null, request: digest };

    // Forged: signed with a key that is not the secret.
    await plant(pending.id, signDecision(randomBytes(32), { ...genuine, decidedAt: now, expiresAt: now + 60_000 }));
    await sleep(150);
    // Tampered: a real rejection, flipped to an approval.
    const rejection = signDecision(secret, { ...genuine, approved: false, decidedAt: now, expiresAt: now + 60_000 });
    await plant(pending.id, { ...rejection, approved: true });
    await sleep(150);
    // Misdirected: validly signed, but for another request (other arguments).
    await plant(
      pending.id,
      signDecision(secret, {
        ...genuine,
        request: requestDigest({ other: true }),
        decidedAt: now,
        expiresAt: now + 60_000,
      }),
    );
    await sleep(150);
    // Expired: validly signed for this request, but its time is up (a late or replayed decision).
    await plant(pending.id, signDecision(secret, { ...genuine, decidedAt: now - 120_000, expiresAt: now - 60_000 }));
    await sleep(150);
    // Not even JSON.
    await raw.set(`${prefix}approval:${pending.id}`, 'approve!');
    await sleep(150);

    expect(refused).toEqual([
      { id: pending.id, reason: 'bad_signature' },
      { id: pending.id, reason: 'bad_signature' },
      { id: pending.id, reason: 'wrong_request' },
      { id: pending.id, reason: 'expired' },
      { id: pending.id, reason: 'malformed' },
    ]);
    expect(executions()).toBe(0);
    // Still pending, and still decidable by someone who holds the secret.
    expect((await admin.pending()).map(p => p.id)).toEqual([pending.id]);
    expect(await admin.approve(pending.id, { by: 'alice' })).toEqual({ ok: true });
    expect(await result).toMatchObject({ status: 'ok', output: 1 });
    expect(executions()).toBe(1);
  });

  it('a request that times out leaves the queue', async () => {
    const governor = createGovernor({
      policy: { writes: { tools: ['payments.*'], approval_timeout_seconds: 0.2 } },
      approver: waiting,
    });
    const result = await governor.run({ agent: 'billing' }, run => run.tool('payments.refund', {}, async () => 1));
    expect(result).toMatchObject({ stopReason: 'approval_timeout:payments.refund' });
    await sleep(20);
    expect(await admin.pending()).toEqual([]);
  });

  it('lists what waits for someone who may only read Redis (no secret, no scripts, no subscriptions)', async () => {
    const { pending, result } = await startWrite();
    const user = `viewer-${prefix.replace(/\W/g, '')}`;
    await raw.call('ACL', 'SETUSER', user, 'on', '>viewer-pass', '~*', '+@read', '+@connection');
    try {
      const viewer = new URL(url);
      viewer.username = user;
      viewer.password = 'viewer-pass';
      expect(await pendingApprovals({ url: viewer.href, prefix })).toEqual([pending]);
    } finally {
      await raw.call('ACL', 'DELUSER', user);
    }
    await admin.reject(pending.id, { by: 'alice' });
    await result;
  });

  it('refuses a signing secret shorter than 32 bytes', async () => {
    await expect(redisApprovals({ url, secret: 'too-short' })).rejects.toBeInstanceOf(RedisStoreOptionsError);
  });
});
