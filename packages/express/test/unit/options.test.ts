// trackUsage() options: validated when the middleware is built, defaults filled in, bad values named.
import express from 'express';
import { ConfigError, MemoryStore, parseConfig, type CounterStore } from '@tollgate/core';
import { trackUsage } from '../../src';

const config = parseConfig({ plans: { free: { limits: { requests: { day: 5 } } } } });

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('trackUsage() options', () => {
  const store = new MemoryStore();
  afterAll(() => store.close());

  it('names a bad numeric option in a ConfigError', () => {
    const err = configError(() => trackUsage({ store, config, storeTimeoutMs: -5 }));
    expect(err.issues.map((i) => i.path)).toEqual(['storeTimeoutMs']);
    expect(err.message).toMatch(/^Invalid Tollgate config in trackUsage\(\) options: storeTimeoutMs: /);
  });

  it('rejects NaN and Infinity, which are not numbers of milliseconds', () => {
    expect(configError(() => trackUsage({ store, config, storeTimeoutMs: Number.NaN })).issues[0]!.path).toBe(
      'storeTimeoutMs',
    );
    expect(
      configError(() => trackUsage({ store, config, failOpenBuffer: Number.POSITIVE_INFINITY })).issues[0]!
        .path,
    ).toBe('failOpenBuffer');
  });

  it('validates a plain config that declares a built-in meter, and takes a copy of a parsed config as it is', () => {
    const plain = {
      meters: { requests: { kind: 'counter' } },
      plans: { free: { limits: { requests: { day: 5 } } } },
    };
    const err = configError(() => trackUsage({ store, config: plain as never }));
    expect(err.issues.map((i) => i.path)).toEqual(['meters.requests']);
    const copy = { ...config, warnAt: [50] };
    expect(trackUsage({ store, config: copy }).tollgate.config.warnAt).toEqual([50]);
  });

  it('warns once at startup when signingSecret would check nothing', () => {
    const warnings: string[] = [];
    const quiet = () => undefined;
    const logger = {
      error: quiet,
      info: quiet,
      debug: quiet,
      warn: (_obj: object, msg?: string) => void warnings.push(msg ?? ''),
    };
    const signingSecret = 'gateway-signing-secret-0123456789';
    trackUsage({ store, config, logger, signingSecret });
    expect(warnings).toEqual([]);
    trackUsage({ store, config, logger, signingSecret, identify: () => null });
    trackUsage({ store, config, logger, signingSecret, trustGatewayHeaders: false });
    expect(warnings).toEqual([
      'Tollgate: signingSecret is set but not used: identify() replaces the gateway identity headers it would check',
      'Tollgate: signingSecret is set but not used: trustGatewayHeaders is false, so no identity headers are read',
    ]);
  });

  it('rejects unknown options, so a typo never silently falls back to a default', () => {
    const err = configError(() => trackUsage({ store, config, failmode: 'closed' } as never));
    expect(err.message).toContain('unknown option(s) failmode');
  });

  it('names every bad enum, path and callback', () => {
    const err = configError(() =>
      trackUsage({
        store,
        config,
        mode: 'audit',
        failMode: 'maybe',
        paths: ['api'],
        onThreshold: 'log',
      } as never),
    );
    expect(err.issues.map((i) => i.path).sort()).toEqual(['failMode', 'mode', 'onThreshold', 'paths.0']);
  });

  it('treats undefined as "use the default" and 0 as a value', () => {
    const mw = trackUsage({ store, config, failMode: undefined, failOpenBuffer: 0, usageBatchMs: 0 });
    expect(mw.tollgate.options).toMatchObject({
      failMode: 'open',
      failOpenBuffer: 0,
      usageBatchMs: 0,
      storeTimeoutMs: 100,
      mode: 'enforce',
    });
  });

  it('rejects a store that is not a CounterStore with a TypeError naming what is missing', () => {
    expect(() =>
      trackUsage({ store: { apply: () => undefined } as unknown as CounterStore, config }),
    ).toThrow(/CounterStore: missing read, seed, setOverride/);
  });

  it('validates a raw config object and names the bad path', () => {
    const err = configError(() =>
      trackUsage({ store, config: { plans: { free: { limits: { requests: { day: -3 } } } } } }),
    );
    expect(err.issues.map((i) => i.path)).toEqual(['plans.free.limits.requests.day']);
  });

  it('requires a config', () => {
    expect(configError(() => trackUsage({ store } as never)).issues.map((i) => i.path)).toEqual(['config']);
  });

  it('names an unknown meter in a static reserve estimate', () => {
    expect(
      configError(() => trackUsage({ store, config, reserve: { tokenz: 10 } })).issues.map((i) => i.path),
    ).toEqual(['reserve.tokenz']);
  });

  it('requires a signing secret long enough to be a secret', () => {
    expect(
      configError(() => trackUsage({ store, config, signingSecret: 'short' })).issues.map((i) => i.path),
    ).toEqual(['signingSecret']);
  });

  it('enforces a limit of 0 (it is a limit, not "unset")', async () => {
    const zero = parseConfig({ plans: { free: { limits: { requests: { day: 0 } } } } });
    const app = express();
    const mw = trackUsage({ store, config: zero });
    app.use(mw);
    app.get('/api/x', (_req, res) => {
      res.send('ran');
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    const r = await fetch(`http://127.0.0.1:${port}/api/x`, { headers: { 'x-tenant-id': 'zero' } });
    expect(r.status).toBe(429);
    expect(await r.json()).toMatchObject({ meter: 'requests', limit: 0, used: 0 });
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await mw.close();
  });
});
