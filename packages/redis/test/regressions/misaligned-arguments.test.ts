// Regression: a benchmark once sent apply arguments shifted by one; the script read a timestamp as a loop count,
// ran for hours and left the shared Redis answering BUSY. Every script must now refuse a misshapen call at once,
// before its first write. Runs on a Redis this file owns, never the shared one.
import type { ApplyOp } from '@tollgate/core';
import { currentWindows, hourBucket } from '@tollgate/core/internal';
import Redis from 'ioredis';
import {
  ACK_LUA,
  APPLY,
  APPLY_LUA,
  CLAIM_LUA,
  encodeApply,
  encodeRead,
  encodeSeed,
  PROBE_LUA,
  READ_LUA,
  SEED_LUA,
  ShardKeys,
} from '@tollgate/redis/internal';
import { OwnedRedis } from '../../../../test-support/services';
import { ready } from '../integration/helpers';

let owned: OwnedRedis;
let client: Redis;

beforeAll(async () => {
  owned = await OwnedRedis.start();
  // A script that looped would outlast this timeout: the call would fail with "Command timed out", not with
  // the script's own error, so "rejects with the script's message" also means "rejects at once".
  client = await ready(new Redis(owned.url, { commandTimeout: 2000, maxRetriesPerRequest: 0 }));
});
afterAll(async () => {
  client?.disconnect();
  // SIGKILL: also ends a Redis that a looping script would have left BUSY.
  await owned?.destroy();
});

const prefix = 'misaligned:';
const tenantId = 'acme';
const keys = new ShardKeys(prefix, `t:${tenantId}`);
const queue = `${prefix}q`;

function applyOp(): ApplyOp {
  const now = Date.now();
  return {
    opId: 'op-1',
    tag: keys.tag,
    now,
    mode: 'enforce',
    scopes: [
      { scope: 'tenant', id: tenantId },
      { scope: 'user', id: 'alice' },
    ],
    windows: currentWindows(now),
    limits: [{ scope: 'tenant', id: tenantId, meter: 'requests', period: 'day', limit: 100 }],
    amounts: [{ meter: 'requests', amount: 1 }],
    reserve: { id: 'res-1', expiresAt: now + 60_000, amounts: [{ meter: 'tokens', amount: 500 }] },
    usage: [
      {
        tenantId,
        userId: 'alice',
        meter: 'requests',
        model: null,
        bucketStart: hourBucket(now),
        amount: 1,
        costPico: '0',
      },
    ],
    onReject: { usage: [], events: [] },
    warnAt: [80, 100],
    seed: 'auto',
  };
}

/** KEYS then ARGV of a well-formed apply, as RedisStore sends it. */
function applyArgs(): string[] {
  return encodeApply(applyOp(), keys, queue, 600_000).args;
}

async function run(lua: string, numKeys: number, args: string[]): Promise<unknown> {
  return client.eval(lua, numKeys, ...args);
}

async function refusal(lua: string, numKeys: number, args: string[]): Promise<string> {
  const outcome = await run(lua, numKeys, args).then(
    (reply) => ({ reply }),
    (err: unknown) => ({ err }),
  );
  if (!('err' in outcome)) throw new Error(`expected an error reply, got ${JSON.stringify(outcome.reply)}`);
  return (outcome.err as Error).message;
}

async function keyCount(): Promise<number> {
  return client.dbsize();
}

afterEach(async () => {
  // Redis still answers (no script left running) and nothing was written by a refused call.
  expect(await client.ping()).toBe('PONG');
  expect(await keyCount()).toBe(0);
});

describe('scripts called with misaligned arguments', () => {
  it('refuses an apply sent with one key too few (every argument shifted by one)', async () => {
    const args = applyArgs();
    expect(await refusal(APPLY_LUA, 1, args)).toMatch(/tollgate apply: bad arguments: expects 2 keys, got 1/);
    expect(await refusal(APPLY_LUA, 3, args)).toMatch(/expects 2 keys, got 3/);
  });

  it('refuses an apply whose window count is a timestamp instead of looping on it', async () => {
    const args = applyArgs();
    // The threshold count right after the keys and fixed arguments, then the thresholds, the scopes, the windows.
    const warnCount = Number(args[APPLY.headLength]);
    const scopeCount = Number(args[APPLY.headLength + 1 + warnCount]);
    const windowCountAt = APPLY.headLength + 1 + warnCount + 1 + scopeCount;
    expect(args[windowCountAt]).toBe('5');
    args[windowCountAt] = String(Date.now());
    expect(await refusal(APPLY_LUA, 2, args)).toMatch(/window count \(ARGV\[\d+\]\) = \d+ does not fit the/);
  });

  it('refuses an apply whose counts are negative, fractional or not numbers', async () => {
    const countAt = APPLY.headLength; // threshold count
    for (const value of ['-1', '1.5', 'abc', '']) {
      const args = applyArgs();
      args[countAt] = value;
      expect(await refusal(APPLY_LUA, 2, args)).toMatch(/tollgate apply: bad arguments: threshold/);
    }
  });

  it('refuses every truncation of a well-formed apply and any trailing argument', async () => {
    const args = applyArgs();
    for (let n = 2; n < args.length; n++) {
      expect(await refusal(APPLY_LUA, 2, args.slice(0, n))).toMatch(/tollgate apply: bad arguments/);
    }
    expect(await refusal(APPLY_LUA, 2, [...args, 'extra'])).toMatch(/1 unexpected trailing arguments/);
  });

  it('refuses an apply with a non-integer amount or cost before writing anything', async () => {
    const args = applyArgs();
    // The tail is: usage count, field, amount, cost, event count, the two (empty) rejection lists, no settle ids,
    // no further reservations.
    const usageAmountAt = args.length - 7;
    expect(args.slice(-6)).toEqual(['0', '0', '0', '0', '0', '0']);
    const withBadCost = [...args];
    withBadCost[usageAmountAt + 1] = '0.5';
    expect(await refusal(APPLY_LUA, 2, withBadCost)).toMatch(/usage cost .* must be an integer, got "0.5"/);
    const withBadAmount = [...args];
    withBadAmount[usageAmountAt] = '1e3';
    expect(await refusal(APPLY_LUA, 2, withBadAmount)).toMatch(/usage amount .* must be an integer/);
  });

  it('refuses an apply whose settle-id list is miscounted or holds an empty id, before writing anything', async () => {
    const args = encodeApply({ ...applyOp(), settleIds: ['res-a', 'res-b'] }, keys, queue, 600_000).args;
    expect(args.slice(-4)).toEqual(['2', 'res-a', 'res-b', '0']);
    const countAt = args.length - 4;
    for (const value of ['3', '-1', '1.5', 'x', String(Date.now())]) {
      const bad = [...args];
      bad[countAt] = value;
      expect(await refusal(APPLY_LUA, 2, bad)).toMatch(
        /(settle id|reservation) count \(ARGV\[\d+\]\) = .* does not fit/,
      );
    }
    const shortCount = [...args];
    shortCount[countAt] = '1';
    expect(await refusal(APPLY_LUA, 2, shortCount)).toMatch(
      /reservation count \(ARGV\[\d+\]\) = res-b does not fit/,
    );
    const emptyId = [...args];
    emptyId[args.length - 2] = '';
    expect(await refusal(APPLY_LUA, 2, emptyId)).toMatch(/settle id \(ARGV\[\d+\]\) is empty/);
  });

  it('refuses an apply whose further reservations are miscounted or malformed, before writing anything', async () => {
    const now = Date.now();
    const op = {
      ...applyOp(),
      reserves: [
        { id: 'res-a', expiresAt: now + 60_000, amounts: [{ meter: 'tokens', amount: 300 }] },
        { id: 'res-b', expiresAt: now + 60_000, amounts: [{ meter: 'tokens', amount: 200 }] },
      ],
    };
    const args = encodeApply(op, keys, queue, 600_000).args;
    // 2 scopes x 2 meters (requests, tokens): 4 amounts per reservation after its id and expiry.
    const countAt = args.length - 13;
    expect(args.slice(countAt)).toEqual([
      '2',
      'res-a',
      String(now + 60_000),
      '0',
      '300',
      '0',
      '300',
      'res-b',
      String(now + 60_000),
      '0',
      '200',
      '0',
      '200',
    ]);
    for (const value of ['3', '-1', '1.5', 'x']) {
      const bad = [...args];
      bad[countAt] = value;
      expect(await refusal(APPLY_LUA, 2, bad)).toMatch(/reservation count \(ARGV\[\d+\]\) = .* does not fit/);
    }
    const one = [...args];
    one[countAt] = '1';
    expect(await refusal(APPLY_LUA, 2, one)).toMatch(/6 unexpected trailing arguments/);
    const noId = [...args];
    noId[countAt + 1] = '';
    expect(await refusal(APPLY_LUA, 2, noId)).toMatch(/reservation id \(ARGV\[\d+\]\) is empty/);
    const badExpiry = [...args];
    badExpiry[countAt + 2] = 'soon';
    expect(await refusal(APPLY_LUA, 2, badExpiry)).toMatch(
      /reservation expiry \(ARGV\[\d+\]\) must be an integer/,
    );
    const badAmount = [...args];
    badAmount[countAt + 4] = '1e3';
    expect(await refusal(APPLY_LUA, 2, badAmount)).toMatch(
      /reserved amount \(ARGV\[\d+\]\) must be an integer/,
    );
  });

  it('refuses a read, seed, claim, ack or probe of the wrong shape', async () => {
    const now = Date.now();
    const windows = currentWindows(now);
    const read = encodeRead(
      {
        tag: keys.tag,
        now,
        scopes: [{ scope: 'tenant', id: tenantId }],
        windows,
        limits: [],
        meters: ['requests', 'tokens'],
        seed: 'auto',
      },
      keys,
    ).args;
    expect(await refusal(READ_LUA, 0, read)).toMatch(/tollgate read: bad arguments: expects 1 keys, got 0/);
    expect(await refusal(READ_LUA, 1, read.slice(0, -1))).toMatch(/tollgate read: bad arguments/);
    expect(await refusal(READ_LUA, 1, [read[0]!])).toMatch(/expects at least 5 arguments, got 0/);
    const shiftedRead = [read[0]!, ...read.slice(2)];
    expect(await refusal(READ_LUA, 1, shiftedRead)).toMatch(/tollgate read: bad arguments/);

    const seed = encodeSeed(
      {
        tag: keys.tag,
        now,
        scopes: [{ scope: 'tenant', id: tenantId }],
        counters: [{ scope: 'tenant', id: tenantId, meter: 'requests', window: windows[2]!, used: 7 }],
        overrides: [{ scope: 'tenant', id: tenantId, meter: 'requests', period: 'day', limit: 9 }],
      },
      keys,
    );
    expect(await refusal(SEED_LUA, 2, seed)).toMatch(/tollgate seed: bad arguments: expects 3 keys/);
    const tooMany = [...seed];
    tooMany[3] = '1000000000';
    expect(await refusal(SEED_LUA, 3, tooMany)).toMatch(
      /scope count \(ARGV\[1\]\) = 1000000000 does not fit/,
    );
    const badScope = [...seed];
    badScope[3 + 3] = '2'; // the counter's position in the scope list: there is one scope
    expect(await refusal(SEED_LUA, 3, badScope)).toMatch(/counter scope \(ARGV\[4\]\) must be 1..1/);
    expect(await refusal(SEED_LUA, 3, seed.slice(0, -1))).toMatch(/field\/limit pairs/);

    const claim = [keys.claims, keys.unflushed, keys.events, queue, keys.batchStem];
    const claimArgv = [String(now), '60000', 'batch-1', keys.dirtyMember, keys.batchMemberSuffix];
    expect(await refusal(CLAIM_LUA, 4, [...claim, ...claimArgv])).toMatch(/tollgate claim: bad arguments/);
    expect(await refusal(CLAIM_LUA, 5, [...claim, ...claimArgv.slice(1)])).toMatch(/expects 5 arguments/);

    const ack = [keys.claims, queue, keys.batchStem];
    expect(await refusal(ACK_LUA, 3, [...ack, keys.batchMemberSuffix])).toMatch(/at least one batch id/);
    expect(await refusal(ACK_LUA, 2, [...ack, keys.batchMemberSuffix, 'b1'])).toMatch(/expects 3 keys/);

    expect(await refusal(PROBE_LUA, 0, ['60000', '0', queue])).toMatch(/tollgate probe: .* at least 1/);
    expect(await refusal(PROBE_LUA, 0, [queue, '10'])).toMatch(/tollgate probe: .* cutoff/);
  });

  it('still applies a well-formed call on the same Redis', async () => {
    const args = applyArgs();
    const applied = (await run(APPLY_LUA, 2, args)) as unknown[];
    expect(applied[0]).toBe('A');
    const day = currentWindows(Number(args[3]!)).find((w) => w.period === 'day')!;
    expect(await client.get(`${keys.base}:c:tenant:${tenantId}:requests:day:${day.key}`)).toBe('1');
    // This Redis is the file's own: emptied so the after-each check holds.
    await client.flushall();
  });
});
