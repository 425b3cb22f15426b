// Options of createTollgate() and trackUsage(): every default, every bound and the message naming each bad value.
import { ConfigError, MemoryStore, parseConfig } from '@tollgate/core';
import { consoleLogger } from '../../src/logger';
import { resolveTollgateOptions, resolveTrackUsageOptions } from '../../src/options';

const config = parseConfig({ plans: { free: { limits: { requests: { day: 5 } } } } });
const store = new MemoryStore();
afterAll(() => store.close());

function messageOf(options: Record<string, unknown>): string {
  try {
    resolveTrackUsageOptions({ store, config, ...options } as never);
  } catch (err) {
    if (err instanceof ConfigError)
      return err.message.replace('Invalid Tollgate config in trackUsage() options: ', '');
    throw err;
  }
  return 'accepted';
}

describe('option defaults', () => {
  it('fills in every createTollgate() default', () => {
    const { store: _store, config: _config, ...rest } = resolveTollgateOptions({ store, config });
    expect(rest).toEqual({
      mode: 'enforce',
      failMode: 'open',
      storeTimeoutMs: 100,
      failOpenBuffer: 100_000,
      replayIntervalMs: 1000,
      reservationTtlMs: 300_000,
      usageBatchMs: 10,
      durability: 'delivered',
      logger: consoleLogger,
    });
  });

  it('fills in every trackUsage() default, and a fresh paths array each time', () => {
    const { store: _store, config: _config, ...rest } = resolveTrackUsageOptions({ store, config });
    expect(rest).toEqual({
      mode: 'enforce',
      failMode: 'open',
      storeTimeoutMs: 100,
      failOpenBuffer: 100_000,
      replayIntervalMs: 1000,
      reservationTtlMs: 300_000,
      usageBatchMs: 10,
      durability: 'delivered',
      logger: consoleLogger,
      paths: ['/api'],
      trustGatewayHeaders: true,
      signatureMaxAgeSeconds: 60,
      requireIdentity: false,
      rateLimitHeaders: true,
      leaseMs: 50,
    });
    rest.paths.push('/mutated');
    expect(resolveTrackUsageOptions({ store, config }).paths).toEqual(['/api']);
  });
});

describe('option bounds', () => {
  it.each([
    ['storeTimeoutMs', 1, 60_000],
    ['replayIntervalMs', 10, 3_600_000],
    ['reservationTtlMs', 1000, 86_400_000],
    ['usageBatchMs', 0, 60_000],
    ['leaseMs', 0, 1000],
    ['signatureMaxAgeSeconds', 1, 86_400],
  ])('takes %s from %d to %d, and nothing outside', (option, min, max) => {
    expect(messageOf({ [option]: min })).toBe('accepted');
    expect(messageOf({ [option]: max })).toBe('accepted');
    expect(messageOf({ [option]: min - 1 })).toBe(
      `${option}: Number must be greater than or equal to ${min}`,
    );
    expect(messageOf({ [option]: max + 1 })).toBe(`${option}: Number must be less than or equal to ${max}`);
  });

  it('takes any failOpenBuffer from 0', () => {
    expect(messageOf({ failOpenBuffer: 0 })).toBe('accepted');
    expect(messageOf({ failOpenBuffer: 1e9 })).toBe('accepted');
    expect(messageOf({ failOpenBuffer: -1 })).toBe(
      'failOpenBuffer: Number must be greater than or equal to 0',
    );
  });
});

describe('option messages', () => {
  it.each<[Record<string, unknown>, string]>([
    [{ storeTimeoutMs: 1.5 }, 'storeTimeoutMs: Expected integer, received float'],
    [{ storeTimeoutMs: '5' }, 'storeTimeoutMs: Expected number, received string'],
    [{ mode: 'x' }, "mode: Invalid enum value. Expected 'enforce' | 'shadow', received 'x'"],
    [{ failMode: 1 }, "failMode: Expected 'open' | 'closed', received number"],
    [{ durability: 'x' }, "durability: Invalid enum value. Expected 'delivered' | 'batched', received 'x'"],
    [{ baseline: { used: 1 } }, 'baseline: Invalid input'],
    [{ onThreshold: 1 }, 'onThreshold: must be a function'],
    [{ onRejected: {} }, 'onRejected: must be a function'],
    [{ logger: 1 }, 'logger: Expected object, received number'],
    [{ logger: {} }, 'logger.warn: must be a function; logger.error: must be a function'],
    [{ logger: { warn() {}, error() {}, info: 1 } }, 'logger.info: must be a function'],
    [{ paths: [] }, 'paths: needs at least one path (use ["/"] to meter everything)'],
    [{ paths: 'api' }, 'paths: Expected array, received string'],
    [{ paths: ['api'] }, 'paths.0: must start with "/"'],
    [{ paths: [1] }, 'paths.0: Invalid input'],
    [{ identify: 1 }, 'identify: must be a function'],
    [{ skip: true }, 'skip: must be a function'],
    [{ trustGatewayHeaders: 1 }, 'trustGatewayHeaders: Expected boolean, received number'],
    [{ requireIdentity: 'y' }, 'requireIdentity: Expected boolean, received string'],
    [{ rateLimitHeaders: 0 }, 'rateLimitHeaders: Expected boolean, received number'],
    [{ signingSecret: 'x' }, 'signingSecret: must be at least 16 characters'],
    [{ signingSecret: 5 }, 'signingSecret: Expected string, received number'],
    [{ reserve: 5 }, 'reserve: Invalid input'],
    [{ reserve: { tokens: -1 } }, 'reserve.tokens: Number must be greater than or equal to 0'],
    [{ reserve: { tokens: 1.5 } }, 'reserve.tokens: Expected integer, received float'],
    [{ reserve: { nope: 1 } }, 'reserve.nope: unknown meter "nope"'],
    [{ bogus: 1, other: 2 }, 'unknown option(s) bogus, other'],
    [{ config: undefined }, 'config: is required (loadConfig(...) or a config object)'],
  ])('names %j: %s', (options, message) => {
    expect(messageOf(options)).toBe(message);
  });

  it('refuses the HTTP options in createTollgate()', () => {
    expect(() => resolveTollgateOptions({ store, config, paths: ['/'] } as never)).toThrow(
      'Invalid Tollgate config in createTollgate() options: unknown option(s) paths',
    );
  });
});
