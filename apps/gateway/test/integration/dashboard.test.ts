import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import express from 'express';
import jwt from 'jsonwebtoken';
import { chromium, type Browser, type Page } from 'playwright-core';
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { Flusher, migrate, openSqlClient, type SqlClient } from '@tollgate/ledger';
import { createTestDatabase } from '../../../../test-support/services';
import { DASHBOARD_CSP } from '../../src/usage-api/dashboard';
import { createUsageApi, keyRoutes, usageErrorHandler } from '../../src/usage-api';
import { hs256Authenticate } from '../support/usage-auth';

const SECRET = 'dashboard-test-secret-0123456789';
const DAY = 86_400_000;
const RESULTS = path.resolve(__dirname, '../../../../test-results');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const config = parseConfig({
  meters: { file_uploads: { kind: 'counter' } },
  plans: { free: { limits: { requests: { day: 100 }, tokens: { day: 10000 }, file_uploads: { day: 50 } } } },
  pricing: { 'demo-model': { input: '1.00', output: '2.00' } },
});

const authenticate = hs256Authenticate(SECRET);

/** Console errors, uncaught errors and CSP violations of a page: a page that works under its CSP has none. */
async function watchProblems(page: Page): Promise<() => Promise<string[]>> {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') seen.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.push(`pageerror: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) seen.push(`HTTP ${r.status()}: ${new URL(r.url()).pathname}`);
  });
  await page.addInitScript(() => {
    const w = window as unknown as { cspViolations: string[] };
    w.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return async () => [
    ...seen,
    ...(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)),
  ];
}

describe('dashboard in headless Chromium', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sql: SqlClient;
  let store: MemoryStore;
  let server: http.Server;
  let base: string;
  let browser: Browser;
  const token = jwt.sign(
    { sub: 'dana', tenant_id: 'dash', tier: 'free', email: 'dana@example.com' },
    SECRET,
    {
      algorithm: 'HS256',
      expiresIn: '1h',
    },
  );

  beforeAll(async () => {
    db = await createTestDatabase('dashboard');
    sql = await openSqlClient({ databaseUrl: db.url });
    await migrate(sql);
    store = new MemoryStore();
    let offset = 0;
    const engine = new QuotaEngine({ store, config, now: () => Date.now() + offset });
    const flusher = new Flusher({ store, sql, intervalMs: 60_000 });
    const who = { tenantId: 'dash', userId: 'dana', plan: 'free' };
    // 90 days of history: day d has (d % 7) + 1 requests and 10 tokens per request.
    for (let d = 89; d >= 1; d--) {
      offset = -d * DAY;
      const n = (d % 7) + 1;
      for (let i = 0; i < n; i++) await engine.consume(who, { requests: 1 });
      await engine.record(who, [{ meter: 'input_tokens', amount: 10 * n, model: 'demo-model' }]);
    }
    offset = 0;
    // Today: requests 85% (amber), tokens 100% (red), uploads 20% (green).
    for (let i = 0; i < 85; i++) await engine.consume(who, { requests: 1 });
    await engine.record(who, [
      { meter: 'input_tokens', amount: 6000, model: 'demo-model' },
      { meter: 'output_tokens', amount: 4000, model: 'demo-model' },
      { meter: 'file_uploads', amount: 10 },
    ]);
    await flusher.flushOnce();
    await flusher.close();

    const app = express();
    // What the gateway mounts beside the usage API (API_KEYS=on): the page lists the caller's keys.
    app.use(keyRoutes({ sql, config, authenticate: async (req) => authenticate(req), onChange: () => {} }));
    app.use(createUsageApi({ engine, sql, authenticate }));
    app.use(usageErrorHandler);
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
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
    mkdirSync(RESULTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
    await store?.close();
    await sql?.close();
    await db?.drop();
  });

  it('renders a card per meter with the right percentages and colours, redraws for 7 days, downloads CSV', async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
    const page = await context.newPage();
    const problems = await watchProblems(page);
    const assets: Array<Record<string, string>> = [];
    page.on('response', (r) => {
      if (r.url().includes('/dashboard/assets/')) assets.push(r.headers());
    });
    const started = Date.now();
    const response = await page.goto(`${base}/dashboard#token=${token}`);
    await page.waitForSelector('[data-meter] [role="progressbar"]');
    await page.waitForSelector('body[data-loaded="true"]');
    // The page and both assets carry the CSP it renders under, with no violation and no console error.
    for (const headers of [response!.headers(), ...assets]) {
      expect(headers).toMatchObject({
        'content-security-policy': DASHBOARD_CSP,
        'x-frame-options': 'DENY',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
    }
    expect(assets).toHaveLength(2);
    const loadMs = Date.now() - started;
    console.log(`dashboard: page load to cards visible ${loadMs} ms (90 days of ledger data, loopback)`);

    // The token moved from the fragment to sessionStorage.
    expect(await page.evaluate(() => sessionStorage.getItem('tollgate.token'))).toBe(token);
    expect(page.url()).not.toContain('token=');

    const cards = await page.$$eval('#cards [data-meter]', (els) =>
      els.map((e) => ({
        meter: e.getAttribute('data-meter'),
        value: e.querySelector('[role="progressbar"]')!.getAttribute('aria-valuenow'),
        colour: ['green', 'amber', 'red'].find((c) => e.classList.contains(c)),
      })),
    );
    expect(cards).toEqual([
      { meter: 'file_uploads', value: '20', colour: 'green' },
      { meter: 'requests', value: '85', colour: 'amber' },
      { meter: 'tokens', value: '100', colour: 'red' },
    ]);

    // 30 days by default, one bar per day; today's bar is the last.
    expect(await page.$$eval('#chart rect', (r) => r.length)).toBe(30);
    expect(await page.$eval('#chart rect:last-of-type', (r) => r.getAttribute('data-date'))).toBe(
      new Date().toISOString().slice(0, 10),
    );
    await page.screenshot({ path: path.join(RESULTS, 'dashboard-1280x800.png'), fullPage: true });

    await page.click('button[data-days="7"]');
    await page.waitForSelector('#chart[data-days="7"]');
    expect(await page.$$eval('#chart rect', (r) => r.length)).toBe(7);

    // Breakdown by meter and model with exact cost: 6000+... tokens of demo-model.
    const modelRow = await page.$eval('#breakdown tr[data-meter="tokens"][data-model="demo-model"]', (tr) =>
      Array.from(tr.querySelectorAll('td')).map((td) => td.textContent),
    );
    expect(modelRow[0]).toBe('tokens');
    expect(modelRow[1]).toBe('demo-model');
    expect(await page.$$eval('#warnings li', (li) => li.map((l) => l.textContent).join('\n'))).toMatch(
      /tokens: 100% /,
    );

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv-link')]);
    const file = await download.path();
    const csv = readFileSync(file!, 'utf8');
    expect(csv.split('\r\n')[0]).toBe(
      'bucket_start,tenant_id,user_id,meter,model,amount,cost_usd,estimated,batch_id,recorded_at',
    );
    expect(csv.split('\r\n').length).toBeGreaterThan(10);
    expect(await problems()).toEqual([]);

    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const p2 = await phone.newPage();
    await p2.goto(`${base}/dashboard#token=${token}`);
    await p2.waitForSelector('body[data-loaded="true"]');
    // On a phone the cards stack in one column and nothing overflows sideways.
    const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await p2.screenshot({ path: path.join(RESULTS, 'dashboard-390x844.png'), fullPage: true });
    await phone.close();
    await context.close();
  });

  it.each(['%E0%A4%A', '%', '', '%20'])(
    'a token fragment that cannot be read (#token=%s) shows a message and the paste field, not a blank page',
    async (fragment) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const problems = await watchProblems(page);
      // A token from earlier in this tab is not shown instead of the one the link meant.
      await page.goto(`${base}/dashboard#token=${token}`);
      await page.waitForSelector('body[data-loaded="true"]');
      await page.goto(`${base}/dashboard?again#token=${fragment}`);
      await page.waitForSelector('#signin:not([hidden])');
      expect(await page.textContent('#signin p')).toBe(
        'The token in the link could not be read; paste it below.',
      );
      expect(await page.isVisible('#token-input')).toBe(true);
      expect(await page.isHidden('#app')).toBe(true);
      expect(page.url()).not.toContain('token=');
      expect(await page.evaluate(() => sessionStorage.getItem('tollgate.token'))).toBeNull();
      await page.fill('#token-input', token);
      await page.click('#token-form button[type="submit"]');
      await page.waitForSelector('body[data-loaded="true"]');
      expect(await page.$$eval('#cards [data-meter]', (c) => c.length)).toBe(3);
      expect(await problems()).toEqual([]);
      await context.close();
    },
  );

  it('asks for a token when there is none, and accepts a pasted one', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/dashboard`);
    await page.waitForSelector('#signin:not([hidden])');
    await page.fill('#token-input', token);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('body[data-loaded="true"]');
    expect(await page.$$eval('#cards [data-meter]', (c) => c.length)).toBe(3);
    await context.close();
  });
});
