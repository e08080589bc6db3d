import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { captureIo, tempDir } from './test-utils/io.js';

const POLICY = `budgets:
  max_tool_calls: 20
  per_tool:
    "db.*": 5
tools:
  allow: ["kb.read", "db.*", "payments.*"]
  deny: ["payments.delete", "db.drop"]
writes:
  tools: ["db.write", "payments.*"]
  approval_timeout_seconds: 120
  auto_approve:
    - tool: "payments.refund"
      name: small refunds
      when:
        amount: { lte: 50 }
pricing:
  tools:
    "db.*": 0.002
`;

let dir: Awaited<ReturnType<typeof tempDir>>;
let policy: string;

beforeAll(async () => {
  dir = await tempDir();
  policy = await dir.write('policy.yaml', POLICY);
});

afterAll(async () => {
  await dir.remove();
});

async function explain(...argv: string[]) {
  const captured = captureIo();
  const code = await runCli(['explain', ...argv], captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

/** The `label  value` lines as a map (continuation lines are left out). */
function fields(stdout: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of stdout.trimEnd().split('\n')) {
    const match = /^(\S(?:.*?\S)?) {2,}(.*)$/.exec(line);
    if (match && !map.has(match[1]!)) map.set(match[1]!, match[2]!);
  }
  return map;
}

describe('bounded explain', () => {
  it('explains an allowed tool: the allow rule, limits and cost; exit 0', async () => {
    const { code, stdout, stderr } = await explain(policy, '--tool', 'kb.read');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const f = fields(stdout);
    expect(f.get('policy')).toBe(policy);
    expect(f.get('tool')).toBe('kb.read');
    expect(f.get('decision')).toBe('allow');
    expect(f.get('rule')).toBe('tools.allow[0] "kb.read"');
    expect(f.get('detail')).toBe('"kb.read" is allowed');
    expect(f.get('write')).toBe('no');
    expect(f.get('idempotent')).toBe('no');
    expect(f.get('per-tool limit')).toBe('none');
    expect(f.get('cost')).toBe('$0.00 per call');
    expect(f.has('stop reason')).toBe(false);
    // Values start in one column.
    const starts = new Set(
      stdout
        .trimEnd()
        .split('\n')
        .map(line => /^\S.*? {2,}/.exec(line)?.[0].length),
    );
    expect(starts.size).toBe(1);
  });

  it('explains a tool on the deny list: the deny rule and the stop reason; exit 3', async () => {
    const { code, stdout } = await explain(policy, '--tool', 'payments.delete');
    expect(code).toBe(3);
    const f = fields(stdout);
    expect(f.get('decision')).toBe('deny');
    expect(f.get('rule')).toBe('tools.deny[0] "payments.delete"');
    expect(f.get('stop reason')).toBe('tool_denied:payments.delete');
    expect(f.get('on refusal')).toBe('the run stops (tools.on_refusal: stop)');
    expect(stdout).toContain('The tool is not allowed');
  });

  it('explains a glob deny rule and a tool missing from the allow list', async () => {
    const glob = await dir.write('glob.yaml', 'tools:\n  deny: ["payments.*"]\n  on_refusal: continue\n');
    const denied = await explain(glob, '--tool', 'payments.refund');
    expect(denied.code).toBe(3);
    expect(fields(denied.stdout).get('rule')).toBe('tools.deny[0] "payments.*"');
    expect(fields(denied.stdout).get('on refusal')).toBe(
      'only this call fails; the run goes on (tools.on_refusal: continue)',
    );

    const notAllowed = await explain(policy, '--tool', 'shell.exec');
    expect(notAllowed.code).toBe(3);
    const f = fields(notAllowed.stdout);
    expect(f.get('rule')).toBe('tools.allow');
    expect(f.get('detail')).toBe('"shell.exec" is not on the allow list (kb.read, db.*, payments.*)');
    expect(f.get('stop reason')).toBe('tool_denied:shell.exec');
  });

  it('explains a write that needs approval: the approval rule, timeout and what a refusal does; exit 0', async () => {
    const { code, stdout } = await explain(policy, '--tool', 'db.write');
    expect(code).toBe(0);
    const f = fields(stdout);
    expect(f.get('decision')).toBe('approval required');
    expect(f.get('rule')).toBe('writes.require_approval');
    expect(f.get('detail')).toBe('"db.write" is a write (writes.tools[0] "db.write") and writes need approval');
    expect(f.get('if rejected')).toBe('approval_rejected:db.write');
    expect(f.get('if no answer')).toBe('approval_timeout:db.write after 120s');
    expect(f.get('write')).toBe('yes (writes.tools[0] "db.write")');
    expect(f.get('idempotent')).toBe('yes');
    expect(f.get('per-tool limit')).toBe('5 calls per run (budgets.per_tool["db.*"])');
    expect(f.get('cost')).toBe('$0.002 per call');
  });

  it('checks auto-approve conditions against --args', async () => {
    const small = await explain(policy, '--tool', 'payments.refund', '--args', '{"amount": 20}');
    expect(small.code).toBe(0);
    const f = fields(small.stdout);
    expect(f.get('args')).toBe('{"amount":20}');
    expect(f.get('decision')).toBe('auto-approved');
    expect(f.get('rule')).toBe('writes.auto_approve[0] "small refunds"');

    const large = await explain(policy, '--tool', 'payments.refund', '--args={"amount": 500}');
    expect(large.code).toBe(0);
    expect(fields(large.stdout).get('decision')).toBe('approval required');
    expect(fields(large.stdout).has('note')).toBe(false);

    const none = await explain(policy, '--tool', 'payments.refund');
    expect(fields(none.stdout).get('decision')).toBe('approval required');
    expect(fields(none.stdout).get('note')).toContain('pass --args');
  });

  it('says so when the policy runs in shadow mode', async () => {
    const shadow = await dir.write('shadow.yaml', 'enforcement: shadow\ntools:\n  deny: ["shell.*"]\n');
    const { code, stdout } = await explain(shadow, '--tool', 'shell.exec');
    expect(code).toBe(3);
    expect(fields(stdout).get('enforcement')).toMatch(/^shadow: /);
  });

  it('--json prints the whole verdict with stable keys', async () => {
    const denied = await explain(policy, '--tool', 'db.drop', '--json');
    expect(denied.code).toBe(3);
    expect(JSON.parse(denied.stdout)).toEqual({
      ok: true,
      file: policy,
      tool: 'db.drop',
      args: null,
      verdict: {
        tool: 'db.drop',
        decision: 'deny',
        rule: 'tools.deny[1] "db.drop"',
        detail: '"db.drop" matches tools.deny[1] "db.drop"',
        reason: 'tool_denied:db.drop',
        write: false,
        idempotent: false,
        perToolLimit: 5,
        costUsd: 0.002,
        recordContent: false,
      },
      enforcement: 'enforce',
      onRefusal: 'stop',
    });

    const allowed = await explain(policy, '--json', '--tool', 'payments.refund', '--args', '{"amount": 1}');
    expect(allowed.code).toBe(0);
    const result = JSON.parse(allowed.stdout);
    expect(result.args).toEqual({ amount: 1 });
    expect(result.verdict).toMatchObject({ decision: 'auto_approved', reason: null, write: true, perToolLimit: null });
  });

  it('exits 2 and names the problem when --args is not JSON', async () => {
    const { code, stdout, stderr } = await explain(policy, '--tool', 'kb.read', '--args', '{amount: 1}');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^bounded explain: --args is not valid JSON: .*position 1/);
    expect(stderr).toContain('Run "bounded explain --help" for usage.');

    const json = await explain(policy, '--tool', 'kb.read', '--args', '[1,', '--json');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      error: { code: 'usage', message: expect.stringContaining('--args is not valid JSON') },
    });
  });

  it('exits 2 without --tool, or with --tool missing its value', async () => {
    const missing = await explain(policy);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing --tool <name>');

    const swallowed = await explain(policy, '--tool', '--json');
    expect(swallowed.code).toBe(2);
    expect(swallowed.stdout).toContain('--tool needs a value');

    const empty = await explain(policy, '--tool', '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('non-empty tool name');
  });

  it('exits 1 with every issue when the policy is invalid, and 2 when it cannot be read', async () => {
    const bad = await dir.write('bad.yaml', 'tools:\n  alow: ["kb.read"]\n');
    const invalid = await explain(bad, '--tool', 'kb.read');
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toMatch(/:2:3 +tools\.alow +unknown key "alow"/);

    const missing = await explain(join(dir.path, 'nope.yaml'), '--tool', 'kb.read');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('file not found');
  });
});
