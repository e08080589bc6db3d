import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { writeAuditLog } from './test-utils/audit.js';
import { captureIo, tempDir } from './test-utils/io.js';
import { scriptedSpans, toJaeger } from './test-utils/traces.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let audit: string;

beforeAll(async () => {
  dir = await tempDir();
  audit = `${dir.path}/audit.jsonl`;
  await writeAuditLog(audit);
});

afterAll(async () => {
  await dir.remove();
});

async function cli(...argv: string[]) {
  const captured = captureIo({ env: { SECRET: 'k'.repeat(32) } });
  const code = await runCli(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

describe('bounded report', () => {
  it('summarizes every run of an audit log, escalations under their workflow', async () => {
    const { code, stdout, stderr } = await cli('report', audit);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^6 runs in .*audit\.jsonl: 4 ok, 2 stopped$/);
    expect(lines[2]).toMatch(/^run +agent +mode +started +duration +outcome +tools +refused +tokens +cost$/);
    expect(stdout).toMatch(/^\S+ +desk +workflow +[\d:.]+ +[\d.]+ ms +ok +1 +0 +0 +\$0$/m);
    expect(stdout).toMatch(/^\S+ +└ desk-agent +agent .* ok +1 +0 +220 +\$0$/m);
    expect(stdout).toMatch(/^\S+ +researcher +agent .* max_tool_calls +4 +1 +550 /m);
    expect(stdout).toMatch(/^\S+ +researcher +agent .* tool_denied:admin\.delete_user +0 +1 /m);
  });

  it('--json gives each run with its path and outcome; --agent and --run filter', async () => {
    const { code, stdout } = await cli('report', audit, '--json', '--agent', 'researcher');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.runs.map((r: { stopReason: string | null }) => r.stopReason)).toEqual([
      'max_tool_calls',
      'tool_denied:admin.delete_user',
      null,
    ]);
    expect(report.runs[0]).toMatchObject({
      status: 'stopped',
      toolCalls: 5,
      refused: 1,
      path: Array(4).fill('search.read'),
    });
    const one = await cli('report', audit, '--json', '--run', report.runs[2].runId.slice(0, 8));
    expect(JSON.parse(one.stdout).runs).toHaveLength(1);
    const none = await cli('report', audit, '--agent', 'nobody');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no runs match --agent / --run');
  });

  it('reads traces too, and writes a self-contained HTML page with a timeline per run', async () => {
    const spans = await scriptedSpans([
      { count: 1, turns: [{ tool: 'kb.read' }, { answer: 'ok' }] },
      { count: 1, turns: [{ tool: 'search.read' }] },
    ]);
    const traces = await dir.write('traces.json', JSON.stringify(toJaeger(spans)));
    const html = `${dir.path}/traces.html`;
    const { code, stdout } = await cli('report', traces, '--html', html);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^2 runs in .*traces\.json: 1 ok, 1 stopped$/m);
    expect(stdout).toContain(`wrote ${html} (a timeline per run)`);
    const page = await readFile(html, 'utf8');
    expect(page.match(/<section class="run /g)).toHaveLength(2);
    expect(page).toContain('data-stop-reason="max_tool_calls"');
    expect(page).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
  });
});

describe('bounded audit verify', () => {
  it('says a chain is intact, and names each tampered record', async () => {
    const intact = await cli('audit', 'verify', audit);
    expect(intact.code).toBe(0);
    expect(intact.stdout.trimEnd()).toMatch(/^intact .*audit\.jsonl: \d+ records, last hash [0-9a-f]{64}$/);
    const lastHash = intact.stdout.trim().split(' ').at(-1)!;
    expect((await cli('audit', 'verify', audit, '--last-hash', lastHash)).code).toBe(0);

    const lines = (await readFile(audit, 'utf8')).trimEnd().split('\n');
    const edited = [...lines];
    edited[2] = edited[2]!.replace('"agent":"desk"', '"agent":"desk2"');
    const tampered = await dir.write('tampered.jsonl', `${edited.join('\n')}\n`);
    const broken = await cli('audit', 'verify', tampered, '--json');
    expect(broken.code).toBe(5);
    expect(JSON.parse(broken.stdout).problems[0]).toMatchObject({ line: 3, kind: 'edited' });

    const cut = await dir.write('cut.jsonl', `${lines.slice(0, -2).join('\n')}\n`);
    const short = await cli('audit', 'verify', cut, '--last-hash', lastHash);
    expect(short.code).toBe(5);
    expect(short.stdout).toContain('records were cut from the end');
  });

  it('checks an HMAC chain with the key from an environment variable', async () => {
    const keyed = `${dir.path}/keyed.jsonl`;
    await writeAuditLog(keyed, 'k'.repeat(32));
    expect((await cli('audit', 'verify', keyed, '--key-env', 'SECRET')).code).toBe(0);
    expect((await cli('audit', 'verify', keyed)).code).toBe(5);
    expect((await cli('audit', 'verify', keyed, '--key-env', 'NOPE')).stderr).toContain(
      'NOPE: that environment variable is not set',
    );
    await writeFile(`${dir.path}/x`, '');
    expect((await cli('audit', 'check', keyed)).stderr).toContain('unknown verb "check"');
  });
});
