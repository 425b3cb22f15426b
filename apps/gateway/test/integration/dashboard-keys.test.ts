// The dashboard's API keys view in headless Chromium, against a whole gateway: create (the secret shown once, with a
// copy button), list with prefix, name, created, last used and usage, revoke; under the page's CSP, with no errors.
import { chromium, type Browser, type Page } from 'playwright-core';
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from '../support/llm-upstream';
import { startGateway, token, type RunningGateway } from '../support/kit';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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

describe('dashboard API keys view in headless Chromium', () => {
  let upstream: LlmUpstream;
  let db: { url: string; drop: () => Promise<void> };
  let gw: RunningGateway;
  let browser: Browser;
  const jwt = token({ sub: 'erin', tenant_id: 'keysdash', tier: 'free', email: 'erin@example.com' });

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase('gw_dash_keys');
    gw = await startGateway(
      { UPSTREAM_URL: upstream.url, DATABASE_URL: db.url, FLUSHER: 'inline', FLUSH_INTERVAL_MS: '600000' },
      { store: new MemoryStore(), config: { plans: { free: { limits: { requests: { day: 1000 } } } } } },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  it('creates a key (secret shown once, copied), lists its prefix, name, last use and usage, and revokes it', async () => {
    const context = await browser.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.url });
    const page = await context.newPage();
    const problems = await watchProblems(page);
    await page.goto(`${gw.url}/dashboard#token=${jwt}`);
    await page.waitForSelector('#keys[data-loaded="true"]');
    expect(await page.textContent('#key-table tbody')).toContain('No API keys yet.');

    await page.fill('#key-name', 'build server');
    await page.click('#key-create');
    await page.waitForSelector('#key-created:not([hidden])');
    const secret = (await page.textContent('#key-secret'))!;
    expect(secret).toMatch(/^tg_[0-9A-Za-z]{32}$/);
    await page.click('#key-copy');
    await page.waitForSelector('#key-copied:has-text("Copied.")');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await page.waitForSelector('#key-table tr[data-key-id]');
    const row = async () =>
      page.$eval('#key-table tr[data-key-id]', (tr) => ({
        id: tr.getAttribute('data-key-id'),
        cells: Array.from(tr.querySelectorAll('td')).map((td) => td.textContent),
      }));
    const first = await row();
    expect(first.cells[0]).toBe('build server');
    expect(first.cells[1]).toBe(`tg_${secret.slice(3, 11)}…`);
    expect(first.cells[3]).toBe('never');
    expect(first.cells[4]).toBe('0');

    // Three calls with the key, flushed to the ledger, and its last use written.
    for (let i = 0; i < 3; i++)
      expect((await fetch(`${gw.url}/api/hello`, { headers: { 'x-api-key': secret } })).status).toBe(200);
    await gw.gateway.idle();
    await gw.gateway.flusher!.flushOnce();
    await gw.gateway.apiKeys!.flushLastUsed();

    // A reload never shows the secret again, and the row has its usage and last use.
    await page.reload();
    await page.waitForSelector('#keys[data-loaded="true"]');
    expect(await page.isHidden('#key-created')).toBe(true);
    expect(await page.content()).not.toContain(secret);
    const used = await row();
    expect(used.cells[4]).toBe('3');
    expect(used.cells[3]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);

    await page.click(`#key-table tr[data-key-id="${used.id}"] button.revoke`);
    await page.waitForSelector(`#key-table tr.revoked[data-key-id="${used.id}"]`);
    expect((await row()).cells[5]).toMatch(/^revoked /);
    expect((await fetch(`${gw.url}/api/hello`, { headers: { 'x-api-key': secret } })).status).toBe(401);

    expect(await problems()).toEqual([]);
    await context.close();
  });
});
