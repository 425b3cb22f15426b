// HS256 caller verification for tests that mount the usage API on its own (without the whole gateway).
import type { Request } from 'express';
import jwt from 'jsonwebtoken';
import { unauthorized } from '../../src/problem';
import type { Caller } from '../../src/usage-api/identity';

/** An `authenticate` for `createUsageApi` that verifies HS256 tokens signed with `secret`. */
export function hs256Authenticate(secret: string): (req: Request) => Caller {
  return (req) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) throw unauthorized('a Bearer token is required');
    try {
      const c = jwt.verify(m[1]!, secret, { algorithms: ['HS256'] }) as Record<string, string | undefined>;
      return {
        userId: c.sub ?? null,
        tenantId: c.tenant_id ?? null,
        tier: c.tier ?? null,
        role: c.role ?? null,
        email: c.email ?? null,
      };
    } catch (err) {
      throw unauthorized((err as Error).message);
    }
  };
}
