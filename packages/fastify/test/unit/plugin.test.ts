// The Fastify plugin's registration: options validated at register, decorators guarded, usage on every request.
import Fastify from 'fastify';
import { ConfigError, MemoryStore, parseConfig } from '@tollgate/core';
import { tollgate } from '../../src';

const config = parseConfig({ plans: { free: { limits: { requests: { day: 5 } } } } });
const logger = { warn: jest.fn(), error: jest.fn() };

describe('@tollgate/fastify registration', () => {
  const store = new MemoryStore();
  afterAll(() => store.close());

  it('fails app.register with a ConfigError naming a bad option', async () => {
    const app = Fastify();
    app.register(tollgate, { store, config, failMode: 'sometimes' } as never);
    const err = await app.ready().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.path)).toEqual(['failMode']);
    await app.close();
  });

  it('ignores the keys Fastify itself reads from register options', async () => {
    const app = Fastify();
    await app.register(tollgate, { store, config, prefix: '/x', logLevel: 'warn' } as never);
    expect(app.tollgate.options.failMode).toBe('open');
    await app.close();
  });

  it('registers twice without a duplicate-decorator error, and gives every request a usage object', async () => {
    const app = Fastify();
    await app.register(tollgate, { store, config, logger });
    await app.register(tollgate, { store, config, logger });
    app.get('/health', async (request) => ({ metered: request.usage.metered }));
    app.get('/api/x', async (request) => ({ metered: request.usage.metered, plan: request.usage.plan }));
    // A listening server (light-my-request's inject does not load under jest's CommonJS transform).
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const headers = { 'x-tenant-id': 't1' };
    const health = await fetch(`${url}/health`, { headers });
    const api = await fetch(`${url}/api/x`, { headers });
    expect(await health.json()).toEqual({ metered: false });
    expect(await api.json()).toEqual({ metered: true, plan: 'free' });
    expect(api.headers.get('ratelimit')).toMatch(/^"tenant-requests-day";r=4;t=\d+$/);
    expect(logger.warn.mock.calls.map(([obj]) => (obj as { code: string }).code)).toEqual([
      'ERR_TOLLGATE_DOUBLE_COUNT',
    ]);
    await app.close();
  });
});
