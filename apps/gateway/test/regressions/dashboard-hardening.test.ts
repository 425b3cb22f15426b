// Regression: /dashboard sent no Content-Security-Policy, X-Frame-Options, nosniff or Referrer-Policy (it could be
// framed, and a token-bearing page's address could leave in a Referer), and a token fragment that does not decode
// (`#token=%E0%A4%A`) threw a URIError before any listener was set: a blank page with no way to paste a token.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { chromium, type Browser } from 'playwright-core';
import { MemoryStore, QuotaEngine, parseConfig } from '@tollgate/core';
import { openSqlClient, type SqlClient } from '@tollgate/ledger';
import { createUsageApi, usageErrorHandler } from '../../src/usage-api';
import { hs256Authenticate } from '../support/usage-auth';
import { DATABASE_URL } from '../../../../test-support/services';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PUBLIC = path.resolve(__dirname, '../../public');

let sql: SqlClient;
let app: express.Express;

beforeAll(async () => {
  // The page and its assets never query the ledger (the pool connects on a first query only).
  sql = await openSqlClient({ databaseUrl: DATABASE_URL });
  const engine = new QuotaEngine({
    store: new MemoryStore(),
    config: parseConfig({ plans: { free: { limits: {} } } }),
  });
  app = express();
  app.use(createUsageApi({ engine, sql, authenticate: hs256Authenticate('dashboard-hardening-0123456789') }));
  app.use(usageErrorHandler);
});
afterAll(() => sql.close());

describe('dashboard security headers', () => {
  it.each(['/dashboard', '/dashboard/assets/dashboard.js', '/dashboard/assets/dashboard.css'])(
    '%s carries CSP, X-Frame-Options, nosniff and Referrer-Policy',
    async (url) => {
      const res = await request(app).get(url);
      expect(res.status).toBe(200);
      const csp = String(res.headers['content-security-policy']);
      for (const directive of [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
      ]) {
        expect(csp.split('; ')).toContain(directive);
      }
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    },
  );

  it('dashboard.html has no inline script, style or event handler the CSP would block', () => {
    const html = readFileSync(path.join(PUBLIC, 'dashboard.html'), 'utf8');
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
    expect(html).not.toMatch(/<style/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });
});

describe('a token fragment that does not decode', () => {
  let browser: Browser;
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it('shows a message and the paste field, not a blank page', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/dashboard#token=%E0%A4%A`);
    // The old page stayed blank for good: fail in seconds, not at the test's timeout.
    await page.waitForSelector('#signin:not([hidden])', { timeout: 10_000 });
    expect(await page.textContent('#signin p')).toBe(
      'The token in the link could not be read; paste it below.',
    );
    expect(await page.isVisible('#token-input')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
