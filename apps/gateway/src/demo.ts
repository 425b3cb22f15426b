// Demo mode: a JWT secret kept under TOLLGATE_DATA_DIR (so printed tokens survive restarts), a demo token, the curl line.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import jwt, { type Algorithm } from 'jsonwebtoken';
import type { JwtSettings } from './env';

/** Reads the demo secret from `<dataDir>/demo-jwt-secret`, creating it (mode 0600) on first start. */
export function persistentDemoSecret(dataDir: string): string {
  const file = path.join(dataDir, 'demo-jwt-secret');
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    if (text.length >= 32) return text;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export interface DemoIdentity {
  userId: string;
  tenantId: string;
  tier: string;
  email: string;
  role: string;
}

export const DEMO_IDENTITY: DemoIdentity = {
  userId: 'demo-user',
  tenantId: 'demo-tenant',
  tier: 'free',
  email: 'demo@example.com',
  role: 'member',
};

/** A token the gateway accepts (HS256, the configured claim names, issuer and audience), valid 30 days. */
export function demoToken(s: JwtSettings, who: DemoIdentity = DEMO_IDENTITY): string | null {
  if (!s.secret || !s.algorithms.includes('HS256')) return null;
  const c = s.claims;
  const payload: Record<string, string> = {
    [c.userId]: who.userId,
    [c.tenantId]: who.tenantId,
    [c.tier]: who.tier,
    [c.email]: who.email,
    [c.role]: who.role,
  };
  const options: jwt.SignOptions = { algorithm: 'HS256' as Algorithm, expiresIn: '30d' };
  if (s.issuer) options.issuer = s.issuer;
  if (s.audience) options.audience = s.audience[0];
  return jwt.sign(payload, s.secret, options);
}

/** The banner `npm start` prints: the demo token and a curl line that works as printed. */
export function demoBanner(baseUrl: URL, token: string, upstream: string, embedded: string): string {
  const base = baseUrl.toString().replace(/\/$/, '');
  const body = JSON.stringify({
    model: 'demo-model',
    messages: [{ role: 'user', content: 'Hello, Tollgate!' }],
  });
  return [
    '',
    `Tollgate gateway on ${base}  (upstream: ${upstream}; ${embedded})`,
    '',
    `Demo JWT (user ${DEMO_IDENTITY.userId}, tenant ${DEMO_IDENTITY.tenantId}, plan ${DEMO_IDENTITY.tier}; valid 30 days):`,
    `  ${token}`,
    '',
    'Try it:',
    `  curl -s ${base}/api/v1/chat/completions -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" -d '${body}'`,
    `  curl -s ${base}/usage/quota -H "Authorization: Bearer ${token}"`,
    `  open ${base}/dashboard#token=${token}`,
    '',
  ].join('\n');
}
