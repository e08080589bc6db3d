import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callbackApprover } from './approvals.js';
import { auditLog, verifyAuditLog } from './audit.js';
import { createGovernor } from './governor.js';

async function writeLog(options: { key?: string } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'bounded-audit-'));
  const path = join(dir, 'audit.jsonl');
  const audit = auditLog({ path, ...options });
  const governor = createGovernor({
    policy: { tools: { allow: ['kb.read', 'crm.update'] }, writes: { tools: ['crm.*'] } },
    observers: [audit],
    approver: callbackApprover(() => ({ approved: true, by: 'alice' })),
  });
  await governor.run({ agent: 'support' }, async run => {
    await run.tool('kb.read', { id: 1 }, async () => 'a');
    await run.tool('crm.update', { id: 1 }, async () => 'b');
  });
  await governor.run({ agent: 'support' }, run => run.tool('shell.exec', {}, async () => 'never'));
  await audit.close();
  return { path, audit };
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).trimEnd().split('\n');
}

describe('audit log', () => {
  it('records every decision with who, what and which rule, in a verifiable chain', async () => {
    const { path, audit } = await writeLog();
    const records = (await lines(path)).map(line => JSON.parse(line));
    expect(records.length).toBe(audit.written);
    expect(records.map(r => r.seq)).toEqual(records.map((_, i) => i + 1));
    expect(records.find(r => r.type === 'tool.decision' && r.tool === 'crm.update')).toMatchObject({
      decision: 'approved',
      approvedBy: 'alice',
      rule: 'writes.require_approval',
    });
    expect(records.find(r => r.type === 'tool.decision' && r.tool === 'shell.exec')).toMatchObject({
      decision: 'deny',
      rule: 'tools.allow',
      reason: 'tool_denied:shell.exec',
    });
    expect(records.some(r => 'args' in r)).toBe(false);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: records.length });
  });

  it('finds an edited record', async () => {
    const { path } = await writeLog();
    const all = await lines(path);
    all[3] = all[3]!.replace('"agent":"support"', '"agent":"someone-else"');
    await writeFile(path, `${all.join('\n')}\n`);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, problems: [{ line: 4, kind: 'edited' }] });
  });

  it('finds a removed record', async () => {
    const { path } = await writeLog();
    const all = await lines(path);
    all.splice(2, 1);
    await writeFile(path, `${all.join('\n')}\n`);
    expect(await verifyAuditLog(path)).toMatchObject({
      ok: false,
      problems: [{ line: 3, kind: 'removed', message: 'records 3..3 are missing before record 4' }],
    });
  });

  it('finds an inserted record, even one with a correct hash of its own', async () => {
    const { path } = await writeLog();
    const all = await lines(path);
    const forged = JSON.parse(all[1]!);
    // A forger copies record 2's place in the chain and rehashes: the record after it no longer follows.
    forged.decision = 'approved';
    const { createHash } = await import('node:crypto');
    const { canonicalJson } = await import('./canonical.js');
    const { hash: _old, ...unsigned } = forged;
    forged.hash = createHash('sha256').update(canonicalJson(unsigned)).digest('hex');
    all.splice(2, 0, JSON.stringify(forged));
    await writeFile(path, `${all.join('\n')}\n`);
    const result = await verifyAuditLog(path);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toMatchObject({ line: 3, kind: 'inserted' });
  });

  it('continues the chain across writers', async () => {
    const { path } = await writeLog();
    const before = (await lines(path)).length;
    const audit = auditLog({ path });
    const governor = createGovernor({ policy: {}, observers: [audit] });
    await governor.run({ agent: 'next-process' }, run => run.tool('kb.read', {}, async () => 1));
    await audit.close();
    const after = await lines(path);
    expect(after.length).toBeGreaterThan(before);
    expect(JSON.parse(after[before]!).seq).toBe(before + 1);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true, records: after.length });
  });

  it('continues the chain after a last record longer than a read of the file tail', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bounded-audit-'));
    const path = join(dir, 'audit.jsonl');
    const write = async (error: string) => {
      const audit = auditLog({ path });
      const governor = createGovernor({ policy: {}, observers: [audit] });
      await governor.run({ agent: 'a' }, async run => {
        await run.tool('kb.read', {}, async () => 'ok');
        throw new Error(error);
      });
      await audit.close();
    };
    // The run's end carries the error: its record is the file's last, and longer than 64 KiB.
    await write('x'.repeat(100_000));
    expect((await lines(path)).at(-1)!.length).toBeGreaterThan(64 * 1024);
    await write('small');
    expect(await verifyAuditLog(path)).toMatchObject({ ok: true });
  });

  it('after a crash mid-record, goes on from the last whole record and leaves the damage for verify to find', async () => {
    const { path } = await writeLog();
    const whole = await lines(path);
    const cut = `${whole.join('\n')}\n${whole.at(-1)!.slice(0, 40)}`;
    await writeFile(path, cut);
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code === 'BOUNDED_AUDIT_DAMAGED') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      const audit = auditLog({ path });
      const governor = createGovernor({ policy: {}, observers: [audit] });
      await governor.run({ agent: 'after-the-crash' }, run => run.tool('kb.read', {}, async () => 1));
      await audit.close();
      await new Promise(resolve => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`the chain goes on from record ${whole.length}`);
    const after = await lines(path);
    expect(JSON.parse(after[whole.length + 1]!).seq).toBe(whole.length + 1);
    const verified = await verifyAuditLog(path);
    expect(verified).toMatchObject({ ok: false, problems: [{ line: whole.length + 1, kind: 'malformed' }] });
  });

  it('with a key, only key holders can produce a valid chain', async () => {
    const { path } = await writeLog({ key: 'audit-secret' });
    expect(await verifyAuditLog(path, { key: 'audit-secret' })).toMatchObject({ ok: true });
    expect(await verifyAuditLog(path, { key: 'wrong' })).toMatchObject({ ok: false });
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false });
  });

  it('a write failure never reaches the run', async () => {
    const errors: unknown[] = [];
    const audit = auditLog({
      path: join(tmpdir(), 'no-such-dir-bounded', 'x', 'audit.jsonl'),
      onError: e => errors.push(e),
    });
    const governor = createGovernor({ policy: {}, observers: [audit] });
    const result = await governor.run({ agent: 'a' }, run => run.tool('kb.read', {}, async () => 'fine'));
    await new Promise(resolve => setTimeout(resolve, 20));
    expect(result).toMatchObject({ status: 'ok', output: 'fine' });
    expect(audit.failures).toBe(1);
    expect(String(errors[0])).toContain('ENOENT');
    await audit.flush();
    await audit.close();
  });
});
