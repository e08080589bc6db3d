import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { writeAuditLog } from './test-utils/audit.js';
import { captureIo, tempDir } from './test-utils/io.js';

/**
 * The HTML report in a real browser: Debian's Chromium driven by Playwright. `.ci/services.sh` installs Chromium;
 * where it is missing (a laptop) the test is skipped, except under CI=true.
 */
const CHROMIUM = process.env.BOUNDED_CHROMIUM ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.CI === 'true') {
  throw new Error(`CI=true but there is no Chromium at ${CHROMIUM}: .ci/services.sh must install it`);
}

let dir: Awaited<ReturnType<typeof tempDir>>;
let html: string;

beforeAll(async () => {
  dir = await tempDir();
  const audit = join(dir.path, 'audit.jsonl');
  await writeAuditLog(audit);
  html = join(dir.path, 'report.html');
  const captured = captureIo();
  expect(await runCli(['report', audit, '--html', html], captured.io)).toBe(0);
});

afterAll(async () => {
  await dir?.remove();
});

it.skipIf(available)(`needs Chromium at ${CHROMIUM} (apt-get install chromium; .ci/services.sh does)`, () => {});

describe.skipIf(!available)('the HTML report in Chromium', () => {
  it('shows one timeline per run: tool calls as bars coloured by decision, the stop marked', async () => {
    const profile = await mkdtemp(join(dir.path, 'profile-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await context.newPage();
      const requests: string[] = [];
      page.on('request', request => {
        if (!request.url().startsWith('file:')) requests.push(request.url());
      });
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto(pathToFileURL(html).href);

      await expect(page.title()).resolves.toBe('Bounded run report');
      await expect(page.locator('#counts').textContent()).resolves.toBe('6 runs: 4 ok, 2 stopped');
      const runs = page.locator('section.run');
      await expect(runs.count()).resolves.toBe(6);
      for (let i = 0; i < 6; i++) await expect(runs.nth(i).locator('.timeline').count()).resolves.toBe(1);

      // The run stopped at its tool-call budget: four allowed searches, the fifth refused, the stop line drawn.
      const thrash = page.locator('section.run[data-stop-reason="max_tool_calls"]');
      await expect(thrash.locator('h2').textContent()).resolves.toContain('max_tool_calls');
      await expect(thrash.locator('.bar.d-allow').count()).resolves.toBe(4);
      await expect(thrash.locator('.bar.d-deny').count()).resolves.toBe(1);
      await expect(thrash.locator('.stop-mark').textContent()).resolves.toBe('max_tool_calls');
      const deny = await thrash.locator('.bar.d-deny').boundingBox();
      expect(deny!.width).toBeGreaterThan(0);
      const color = await thrash
        .locator('.bar.d-deny')
        .evaluate(
          el =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(
              el,
            ).backgroundColor,
        );
      expect(color).toBe('rgb(207, 34, 46)');
      await expect(thrash.locator('.bar.d-deny').getAttribute('title')).resolves.toMatch(
        /^search\.read: deny, reason max_tool_calls, rule budgets\.max_tool_calls/,
      );

      // The escalated write: approved by a person, the approval on the run's events.
      const escalated = page.locator('section.run', { hasText: 'escalated from' });
      await expect(escalated.locator('.bar.d-approved').count()).resolves.toBe(1);
      await expect(escalated.locator('.events').textContent()).resolves.toContain('crm.update approved by alice');
      // The workflows' steps on their own lane.
      await expect(page.locator('section.run.ok .bar.step').count()).resolves.toBeGreaterThanOrEqual(2);
      await expect(page.locator('.stop-mark').count()).resolves.toBe(2);

      // The filter hides the runs that ended ok.
      await page.locator('#only-stopped').check();
      await expect(page.locator('section.run:visible').count()).resolves.toBe(2);
      await page.locator('#only-stopped').uncheck();

      const screenshot = join(dir.path, 'report.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      expect((await stat(screenshot)).size).toBeGreaterThan(10_000);
      // To look at it: BOUNDED_REPORT_SCREENSHOT=/some/where.png (the temp dir is removed after the test).
      if (process.env.BOUNDED_REPORT_SCREENSHOT) await copyFile(screenshot, process.env.BOUNDED_REPORT_SCREENSHOT);
      expect(requests).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
