// The framework's `next` runs the handler, so it can throw: after an async identify() that must be logged, never
// left as an unhandled rejection (which ends a Node process by default).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestMeter, type TollgateLogger } from '../../src';
import { MemoryStore, parseConfig } from '@tollgate/core';

const config = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  plans: { free: { limits: {} } },
});

describe('a throwing framework callback after an async identify()', () => {
  it('is logged as a callback failure, with no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const errors: unknown[] = [];
    const logger: TollgateLogger = { error: (obj) => errors.push(obj), warn: () => {} };
    const meter = new RequestMeter<object, object>(
      { store: new MemoryStore(), config, logger, identify: async () => null },
      { setHeader: () => {} },
    );
    const raw = { method: 'GET', headers: {} } as IncomingMessage;
    const rawRes = { destroyed: false } as ServerResponse;
    const metered = meter.begin({}, {}, raw, rawRes, '/api/x', () => {
      throw new Error('the handler blew up');
    });
    expect(metered).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    process.off('unhandledRejection', onUnhandled);
    await meter.close();
    expect(unhandled).toEqual([]);
    expect(errors).toEqual([expect.objectContaining({ callback: 'next', err: 'the handler blew up' })]);
  });
});
