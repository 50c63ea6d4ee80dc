/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download), against the real stack with the analytics scenario's links. Screenshots land in
 * test-artifacts/ (gitignored).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { type CreatedLink, expectedFigures, PLAN, runPlan } from '../helpers/analytics-scenario';
import { type Stack, startStack } from '../helpers/stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let stack: Stack;
let links: CreatedLink[];
let context: BrowserContext;
let userDataDir: string;
const cspViolations: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  links = await runPlan(stack, PLAN);
  userDataDir = mkdtempSync(join(tmpdir(), 'paylinks-chromium-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  context = await chromium.launchPersistentContext(userDataDir, {
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
    viewport: { width: 1280, height: 900 },
  });
  context.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
});
afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await stack?.stop();
});

/** axe-core's serious and critical violations on the page as it is now. */
async function accessibilityProblems(page: Page) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (o: unknown) => Promise<{ violations: any[] }> } })
      .axe;
    const result = await axe.run({ resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.map((n: { target: string[] }) => n.target.join(' ')),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

const text = (page: Page, selector: string) => page.locator(selector).textContent();

async function signIn(page: Page) {
  await page.goto(`${stack.baseUrl}/dashboard`);
  await page.getByLabel('API key').fill(stack.account.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => text(page, '#total-created')).toBe(String(PLAN.length));
}

describe('the dashboard', () => {
  it('signs in with a key and shows the figures of the test links, in numbers and charts', async () => {
    const page = await context.newPage();
    await signIn(page);
    const totals = expectedFigures(links, 'currency');
    const sum = (
      field:
        | 'links_sent'
        | 'links_viewed'
        | 'sessions_started'
        | 'links_paid'
        | 'links_expired'
        | 'links_cancelled',
    ) => String(totals.reduce((n, g) => n + g[field], 0));
    expect(await text(page, '#total-sent')).toBe(sum('links_sent'));
    expect(await text(page, '#total-viewed')).toBe(sum('links_viewed'));
    expect(await text(page, '#total-sessions')).toBe(sum('sessions_started'));
    expect(await text(page, '#total-paid')).toBe(sum('links_paid'));
    expect(await text(page, '#total-expired')).toBe(sum('links_expired'));
    expect(await text(page, '#total-cancelled')).toBe(sum('links_cancelled'));
    const collected = Object.fromEntries(totals.flatMap((g) => Object.entries(g.amount_collected)));
    expect(await text(page, '#total-collected')).toBe(
      `€${((collected.EUR ?? 0) / 100).toFixed(2)}, $${((collected.USD ?? 0) / 100).toFixed(2)}`,
    );

    // The chart draws the API's daily figures: the same numbers the test expects.
    const days = expectedFigures(links, 'day');
    const chart = await page.evaluate(() => {
      const c = (globalThis as any).Chart.getChart('volume-chart');
      return {
        labels: c.data.labels,
        datasets: c.data.datasets.map((d: any) => ({ label: d.label, data: d.data })),
      };
    });
    expect(chart.labels).toEqual(days.map((d) => d.key));
    expect(chart.datasets).toEqual([
      { label: 'Created', data: days.map((d) => d.links_created) },
      { label: 'Sent', data: days.map((d) => d.links_sent) },
      { label: 'Viewed', data: days.map((d) => d.links_viewed) },
      { label: 'Paid', data: days.map((d) => d.links_paid) },
    ]);
    expect(
      await page.locator('#rates-chart').evaluate((c) => (c as unknown as { width: number }).width),
    ).toBeGreaterThan(0);
    const dayRows = await page.locator('#daily-table tbody tr').allInnerTexts();
    expect(dayRows.map((r) => r.split('\t').slice(0, 11))).toEqual(
      days.map((d) =>
        [
          d.key,
          d.links_created,
          d.links_sent,
          d.links_delivered,
          d.links_viewed,
          d.sessions_started,
          d.payments_succeeded,
          d.payments_failed,
          d.links_paid,
          d.links_expired,
          d.links_cancelled,
        ].map(String),
      ),
    );

    // Campaign funnels.
    const campaigns = expectedFigures(links, 'campaign');
    const funnelRows = await page.locator('#campaign-table tbody tr').allInnerTexts();
    expect(funnelRows.map((r) => r.split('\t').slice(0, 6))).toEqual(
      campaigns.map((c) =>
        [
          c.key ?? '(no campaign)',
          c.links_created,
          c.links_sent,
          c.links_viewed,
          c.sessions_started,
          c.links_paid,
        ].map(String),
      ),
    );
    const funnel = await page.evaluate(
      () => (globalThis as any).Chart.getChart('campaign-chart').data.labels,
    );
    expect(funnel).toEqual(campaigns.map((c) => c.key ?? '(no campaign)'));

    // Recent links with their status.
    for (const link of links) {
      const linkRow = page.locator('#links-table tbody tr', {
        has: page.getByRole('link', { name: link.id }),
      });
      await expect.poll(() => linkRow.locator('td').nth(3).textContent()).toBe(link.plan.end);
    }

    expect(await accessibilityProblems(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-desktop.png'), fullPage: true });
    await page.close();
  });

  it("follows a link to its timeline, by keyboard, and keeps the key for the tab's session", async () => {
    const page = await context.newPage();
    await signIn(page);
    const paid = links.find((l) => l.plan.end === 'paid' && l.plan.attempts.length === 2) as CreatedLink;
    const anchor = page.getByRole('link', { name: paid.id });
    await anchor.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/dashboard/links/${paid.id}`);
    await expect.poll(() => text(page, '#link-status')).toBe('paid');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Link timeline');
    const entries = (await page.locator('#events-table tbody tr').allInnerTexts()).map(
      (r) => r.split('\t')[1],
    );
    expect(entries).toEqual(
      expect.arrayContaining(['payment_link.created', 'payment_link.sent', 'link.viewed']),
    );
    expect(entries.filter((e) => e === 'payment_session.started')).toHaveLength(2);
    expect(entries.filter((e) => e === 'payment_session.failed')).toHaveLength(1);
    expect(entries.at(-1) === 'payment_link.paid' || entries.includes('payment_link.paid')).toBe(true);
    expect(await accessibilityProblems(page)).toEqual([]);

    await page.getByRole('link', { name: 'Back to the dashboard' }).click();
    await expect.poll(() => text(page, '#total-created')).toBe(String(PLAN.length));
    await page.close();
  });

  it('is usable at 390 px: nothing wider than the screen, accessible, screenshot saved', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page);
    await expect.poll(() => page.locator('#links-table tbody tr').count()).toBe(PLAN.length);
    expect(
      await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(390);
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-mobile.png'), fullPage: true });
    await page.goto(`${stack.baseUrl}/dashboard/links/${links[0]?.id}`);
    await expect.poll(() => text(page, '#link-status')).toBe('paid');
    expect(
      await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, 'timeline-mobile.png'), fullPage: true });
    await page.close();
  });

  it('a wrong key is refused with a message; no page broke the content security policy', async () => {
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/dashboard`);
    await page.evaluate(() => (globalThis as any).sessionStorage.clear());
    await page.reload();
    await page.getByLabel('API key').fill('pl_test_not_a_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => text(page, '#login-error')).toContain('refused');
    expect(await page.locator('#app').isHidden()).toBe(true);
    expect(cspViolations).toEqual([]);
    await page.close();
  });
});
