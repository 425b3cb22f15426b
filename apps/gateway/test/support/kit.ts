// Gateway test kit: settings from a test env, a running gateway, tokens, and ledger/counter readers.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jwt, { type SignOptions } from 'jsonwebtoken';
import { parseConfig, type TollgateConfigInput } from '@tollgate/core';
import type { SqlClient } from '@tollgate/ledger';
import { createGateway, type CreateGatewayOptions, type Gateway } from '../../src/app';
import { parseEnv } from '../../src/env';

export const SECRET = 'gateway-test-secret-0123456789abcdef';

export function token(claims: Record<string, unknown>, options: SignOptions = {}, secret = SECRET): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn: '1h', ...options });
}

/** Generous limits on every token meter, so every counter exists and can be read back. */
export const METERED_CONFIG: TollgateConfigInput = {
  defaultPlan: 'free',
  plans: {
    free: {
      limits: {
        requests: { day: 100_000 },
        tokens: { day: 10_000_000 },
        input_tokens: { day: 10_000_000 },
        cache_read_tokens: { day: 10_000_000 },
        cache_write_tokens: { day: 10_000_000 },
        output_tokens: { day: 10_000_000 },
        cost: { day: '1000.00' },
      },
    },
  },
  pricing: {
    'openai/gpt-4o': { input: '2.50', output: '10.00', cacheRead: '1.25' },
    'anthropic/claude-sonnet-4': { input: '3.00', output: '15.00', cacheRead: '0.30', cacheWrite: '3.75' },
  },
};

export interface RunningGateway {
  gateway: Gateway;
  url: string;
  close(): Promise<void>;
}

/** Starts a gateway from a test env (JWT_SECRET and LOG_LEVEL=silent preset) on a free port. */
export async function startGateway(
  env: Record<string, string>,
  options: { config?: TollgateConfigInput } & Omit<Partial<CreateGatewayOptions>, 'settings'> = {},
): Promise<RunningGateway> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gw-test-'));
  const settings = parseEnv({
    JWT_SECRET: SECRET,
    LOG_LEVEL: 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    TOLLGATE_DATA_DIR: dataDir,
    // Exactness is promised while the store answers: a loaded CI machine must not trip the 100 ms default.
    STORE_TIMEOUT_MS: '2000',
    ...env,
  });
  if (options.config) settings.config = parseConfig(options.config);
  const { config: _c, ...rest } = options;
  void _c;
  const gateway = await createGateway({ settings, ...rest });
  const url = (await gateway.listen()).toString().replace(/\/$/, '');
  return { gateway, url, close: () => gateway.close() };
}

/** Writes a config file and returns its path (for TOLLGATE_CONFIG). */
export function configFile(config: TollgateConfigInput): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-config-'));
  const file = path.join(dir, 'tollgate.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Day counters of one subject, by meter (cost in pico-dollars). */
export async function dayCounters(
  gateway: Gateway,
  who: { tenantId?: string; userId?: string; plan?: string },
): Promise<Record<string, number>> {
  const { counters, subject } = await gateway.engine.counters(who);
  const out: Record<string, number> = {};
  for (const c of counters)
    if (c.period === 'day' && c.scope === subject.owner.scope && c.id === subject.owner.id)
      out[c.meter] = c.used;
  return out;
}

/** Ledger sums of one user by meter: amount, exact cost in pico-dollars (as a string), and the models. */
export async function ledgerByMeter(
  sql: SqlClient,
  userId: string,
): Promise<Record<string, { amount: number; costPico: string; models: string }>> {
  const res = await sql.query<{ meter: string; amount: string; cost: string; models: string }>(
    `SELECT meter, sum(amount)::text AS amount,
            (coalesce(sum(cost_usd), 0) * 1000000000000)::numeric(40,0)::text AS cost,
            coalesce(string_agg(DISTINCT model, ','), '') AS models
       FROM usage_ledger WHERE user_id = $1 GROUP BY meter`,
    [userId],
  );
  const out: Record<string, { amount: number; costPico: string; models: string }> = {};
  for (const r of res.rows) out[r.meter] = { amount: Number(r.amount), costPico: r.cost, models: r.models };
  return out;
}

/** Pico-dollars of `tokens` at `usdPerMillion` (6 decimals at most), exact. */
export function pico(tokens: number, usdPerMillion: string): bigint {
  const [whole, frac = ''] = usdPerMillion.split('.');
  const perMillion = BigInt(whole!) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
  return perMillion * BigInt(tokens);
}
