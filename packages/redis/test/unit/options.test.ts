import Redis from 'ioredis';
import { ConfigError } from '@tollgate/core';
import { RedisStore } from '@tollgate/redis';

describe('RedisStore options', () => {
  // lazyConnect: these clients never open a connection.
  const client = new Redis({ lazyConnect: true });
  afterAll(() => client.disconnect());

  it('defaults the prefix and dedup window', () => {
    const store = new RedisStore({ client });
    expect(store.prefix).toBe('tollgate:');
    expect(store.dedupWindowMs).toBe(600_000);
    expect(store.cluster).toBe(false);
  });

  it('ignores undefined values instead of overriding the defaults with them', () => {
    expect(new RedisStore({ client, prefix: undefined, dedupWindowMs: undefined }).prefix).toBe('tollgate:');
  });

  it('rejects a missing client, a prefix with braces and a dedup window that is not a whole number of ms', () => {
    expect(() => new RedisStore({ client: {} as Redis })).toThrow(ConfigError);
    expect(() => new RedisStore({ client, prefix: 'a{b}' })).toThrow(/prefix/);
    expect(() => new RedisStore({ client, dedupWindowMs: 0 })).toThrow(/dedupWindowMs/);
    expect(() => new RedisStore({ client, dedupWindowMs: Number.NaN })).toThrow(/dedupWindowMs/);
  });

  it('rejects a client keyPrefix with braces, which would pick the hash slot', () => {
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: '{app}:' });
    expect(() => new RedisStore({ client: prefixed })).toThrow(/keyPrefix/);
    prefixed.disconnect();
  });

  it('rejects a Buffer keyPrefix: the store adds the prefix to the keys a many-call packs, as a string', () => {
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: Buffer.from('app:') as unknown as string });
    expect(() => new RedisStore({ client: prefixed })).toThrow(/keyPrefix.*must be a string/);
    prefixed.disconnect();
  });
});
