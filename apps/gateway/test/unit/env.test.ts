import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SettingError, parseEnv } from '../../src/env';

const SECRET = 'x'.repeat(32);

function errorOf(env: Record<string, string>, demo = false): SettingError {
  try {
    parseEnv(env, { demo });
  } catch (err) {
    if (err instanceof SettingError) return err;
    throw err;
  }
  throw new Error('expected a SettingError');
}

describe('gateway settings from env', () => {
  it('applies the documented defaults', () => {
    const s = parseEnv({ JWT_SECRET: SECRET });
    expect(s).toMatchObject({
      port: 8080,
      upstreamUrl: null,
      redisUrl: null,
      databaseUrl: null,
      flushIntervalMs: 5000,
      flusher: 'inline',
      failMode: 'open',
      signingSecret: null,
      storeTimeoutMs: 100,
      failOpenBuffer: 100000,
      stripPrefix: null,
      upstreamAuthorization: null,
      logLevel: 'info',
      redisKeyPrefix: 'tollgate:',
      maxBodyBytes: 4194304,
      maxResponseJsonBytes: 20971520,
      headersTimeoutMs: 10000,
      requestTimeoutMs: 30000,
    });
    expect(s.jwt.algorithms).toEqual(['HS256']);
    expect(s.dataDir).toMatch(/\.tollgate$/);
    expect(s.config.defaultPlan).toBe('free');
  });

  it('turns the flusher off by default only when both Redis and Postgres are external', () => {
    const both = parseEnv({
      JWT_SECRET: SECRET,
      REDIS_URL: 'redis://r:6379',
      DATABASE_URL: 'postgres://p/db',
    });
    expect(both.flusher).toBe('off');
    expect(parseEnv({ JWT_SECRET: SECRET, REDIS_URL: 'redis://r:6379' }).flusher).toBe('inline');
    expect(parseEnv({ JWT_SECRET: SECRET, DATABASE_URL: 'postgres://p/db' }).flusher).toBe('inline');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['UPSTREAM_URL', 'not a url'],
    ['UPSTREAM_URL', 'ftp://x'],
    ['REDIS_URL', 'http://localhost'],
    ['REDIS_CLUSTER_NODES', 'a:1,b'],
    ['DATABASE_URL', 'mysql://x'],
    ['FLUSH_INTERVAL_MS', '10'],
    ['FLUSHER', 'sometimes'],
    ['FAIL_MODE', 'maybe'],
    ['STORE_TIMEOUT_MS', '-5'],
    ['FAIL_OPEN_BUFFER', '1.5'],
    ['STRIP_PREFIX', 'api'],
    ['STRIP_PREFIX', '/api/'],
    ['LOG_LEVEL', 'loud'],
    ['JWT_ALGORITHMS', 'none'],
    ['JWT_ALGORITHMS', 'HS257'],
    ['GATEWAY_SIGNING_SECRET', 'short'],
    ['JWT_SECRET', 'short'],
    ['MAX_BODY_BYTES', '100'],
    ['MAX_BODY_BYTES', '2147483648'],
    ['MAX_RESPONSE_JSON_BYTES', '10'],
    ['HEADERS_TIMEOUT_MS', '0'],
    ['HEADERS_TIMEOUT_MS', '5s'],
    ['REQUEST_TIMEOUT_MS', '50'],
    ['REQUEST_TIMEOUT_MS', '-1'],
    ['UPSTREAM_AUTHORIZATION', 'Bearer \u5bc6\u94a5'],
    ['UPSTREAM_AUTHORIZATION', 'Bearer a\r\nX-Admin: 1'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', 'proxy.internal'],
    ['TRUST_PROXY', ','],
    ['JWT_REQUIRE_EXP', 'maybe'],
  ])('stops on a bad %s (%s) with a message naming it', (name, value) => {
    const err = errorOf({ JWT_SECRET: SECRET, [name]: value });
    expect(err.setting).toBe(name);
    expect(err.message.startsWith(`${name}: `)).toBe(true);
  });

  it('never echoes a secret value in the message', () => {
    const err = errorOf({ JWT_SECRET: SECRET, GATEWAY_SIGNING_SECRET: 'hunter2' });
    expect(err.message).not.toContain('hunter2');
    expect(errorOf({ JWT_SECRET: SECRET, PORT: 'abc' }).message).toContain('"abc"');
  });

  it('requires a JWT key outside demo mode and makes one up in demo mode', () => {
    expect(errorOf({}).setting).toBe('JWT_SECRET');
    const s = parseEnv({}, { demo: true, demoSecret: () => 'persisted-demo-secret-0123456789' });
    expect(s.jwt.secret).toBe('persisted-demo-secret-0123456789');
    expect(s.demo).toBe(true);
  });

  it('rejects an unknown plan in the config file with the config error', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'gw-env-')), 'c.json');
    writeFileSync(file, JSON.stringify({ defaultPlan: 'gold', plans: { free: { limits: {} } } }));
    const err = errorOf({ JWT_SECRET: SECRET, TOLLGATE_CONFIG: file });
    expect(err.setting).toBe('TOLLGATE_CONFIG');
    expect(err.message).toContain('defaultPlan');
  });

  it('derives the algorithm from a public key and checks JWT_ALGORITHMS against the keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    }) as string;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    }) as string;
    expect(parseEnv({ JWT_PUBLIC_KEY: rsa }).jwt.algorithms).toEqual(['RS256']);
    expect(parseEnv({ JWT_PUBLIC_KEY: ec.replace(/\n/g, '\\n') }).jwt.algorithms).toEqual(['ES256']);
    expect(errorOf({ JWT_PUBLIC_KEY: rsa, JWT_ALGORITHMS: 'HS256' }).setting).toBe('JWT_ALGORITHMS');
    expect(errorOf({ JWT_PUBLIC_KEY: ec, JWT_ALGORITHMS: 'ES384' }).setting).toBe('JWT_ALGORITHMS');
    expect(errorOf({ JWT_SECRET: SECRET, JWT_ALGORITHMS: 'RS256' }).setting).toBe('JWT_ALGORITHMS');
    expect(errorOf({ JWT_PUBLIC_KEY: 'garbage' }).setting).toBe('JWT_PUBLIC_KEY');
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together', () => {
    expect(
      errorOf({ JWT_SECRET: SECRET, REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'a:1,b:2' }).setting,
    ).toBe('REDIS_CLUSTER_NODES');
    expect(parseEnv({ JWT_SECRET: SECRET, REDIS_CLUSTER_NODES: 'a:7000, b:7001' }).redisClusterNodes).toEqual(
      [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
    );
  });

  it('refuses HEADERS_TIMEOUT_MS above REQUEST_TIMEOUT_MS (Node would not start with it)', () => {
    const err = errorOf({ JWT_SECRET: SECRET, HEADERS_TIMEOUT_MS: '20000', REQUEST_TIMEOUT_MS: '15000' });
    expect(err.setting).toBe('HEADERS_TIMEOUT_MS');
    expect(err.message).toContain('REQUEST_TIMEOUT_MS');
    expect(
      parseEnv({ JWT_SECRET: SECRET, HEADERS_TIMEOUT_MS: '15000', REQUEST_TIMEOUT_MS: '15000' }),
    ).toMatchObject({ headersTimeoutMs: 15000, requestTimeoutMs: 15000 });
  });

  it('reads TRUST_PROXY as IPv4 and IPv6 ranges, none by default, and names it when an entry is wrong', () => {
    expect(parseEnv({ JWT_SECRET: SECRET }).trustProxy).toEqual([]);
    expect(parseEnv({ JWT_SECRET: SECRET, TRUST_PROXY: '10.0.0.0/8, ::1' }).trustProxy).toEqual([
      { address: '10.0.0.0', family: 'ipv4', prefix: 8 },
      { address: '::1', family: 'ipv6', prefix: 128 },
    ]);
    expect(errorOf({ JWT_SECRET: SECRET, TRUST_PROXY: '10.0.0.1, nginx' }).message).toBe(
      'TRUST_PROXY: "nginx" is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, ::1) (got "10.0.0.1, nginx")',
    );
  });

  it('requires exp in tokens unless JWT_REQUIRE_EXP is false', () => {
    expect(parseEnv({ JWT_SECRET: SECRET }).jwt.requireExp).toBe(true);
    expect(parseEnv({ JWT_SECRET: SECRET, JWT_REQUIRE_EXP: 'false' }).jwt.requireExp).toBe(false);
    expect(parseEnv({ JWT_SECRET: SECRET, JWT_REQUIRE_EXP: '1' }).jwt.requireExp).toBe(true);
  });

  it('reads JWT_JWKS_URL as a list of http(s) URLs that stands in for a JWT key, and not beside JWT_PUBLIC_KEY', () => {
    const s = parseEnv({ JWT_JWKS_URL: 'https://a.example/jwks.json, https://b.example/keys' });
    expect(s.jwt.jwksUrls.map(String)).toEqual(['https://a.example/jwks.json', 'https://b.example/keys']);
    expect(s.jwt.secret).toBeNull();
    expect(s.jwt.algorithms).toEqual(expect.arrayContaining(['RS256', 'ES256', 'EdDSA']));
    expect(s.jwt.algorithms).not.toContain('HS256');
    expect(parseEnv({ JWT_JWKS_URL: 'https://a.example/j', JWT_SECRET: SECRET }).jwt.algorithms).toContain(
      'HS256',
    );
    expect(errorOf({ JWT_JWKS_URL: 'ftp://a.example/j' }).message).toMatch(/JWT_JWKS_URL.*http\(s\) URLs/);
    const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    }) as string;
    expect(errorOf({ JWT_JWKS_URL: 'https://a.example/j', JWT_PUBLIC_KEY: pem }).message).toMatch(
      /JWT_PUBLIC_KEY.*not both/,
    );
    expect(errorOf({ JWT_SECRET: SECRET, JWT_ALGORITHMS: 'EdDSA' }).message).toMatch(
      /EdDSA needs JWT_JWKS_URL/,
    );
  });

  it('treats an empty variable as unset', () => {
    expect(parseEnv({ JWT_SECRET: SECRET, PORT: '', UPSTREAM_URL: '' })).toMatchObject({
      port: 8080,
      upstreamUrl: null,
    });
  });
});
