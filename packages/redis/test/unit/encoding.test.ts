import type { ApplyOp } from '@tollgate/core';
import { currentWindows } from '@tollgate/core/internal';
import { Candidates, decodeApply, encodeApply, ShardKeys } from '@tollgate/redis/internal';

const now = Date.UTC(2026, 0, 15, 12, 30);
const windows = currentWindows(now);
const tenant = { scope: 'tenant' as const, id: 'acme' };
const user = { scope: 'user' as const, id: 'alice' };

function op(): ApplyOp {
  return {
    opId: 'op-1',
    tag: 't:acme',
    now,
    mode: 'enforce',
    scopes: [tenant, user],
    windows,
    limits: [
      { ...tenant, meter: 'requests', period: 'day', limit: 100 },
      { ...user, meter: 'tokens', period: 'month', limit: 5000 },
    ],
    amounts: [{ meter: 'requests', amount: 1 }],
    reserve: { id: 'r1', expiresAt: now + 60_000, amounts: [{ meter: 'tokens', amount: 700 }] },
    usage: [],
    warnAt: [80],
    seed: 'auto',
  };
}

describe('apply encoding', () => {
  it('numbers candidates scope by scope, meter by meter, window by window', () => {
    const c = new Candidates([tenant, user], ['requests', 'tokens'], windows);
    expect(c.length).toBe(20);
    expect(c.at(0)).toEqual({ scope: tenant, meter: 'requests', window: windows[0] });
    expect(c.at(7)).toEqual({ scope: tenant, meter: 'tokens', window: windows[2] });
    expect(c.at(19)).toEqual({ scope: user, meter: 'tokens', window: windows[4] });
    expect(() => c.at(20)).toThrow(/unknown candidate 21/);
  });

  it('sends each meter once per scope with its total, reserved part and plan limit per window', () => {
    const { args } = encodeApply(op(), new ShardKeys('tg:', 't:acme'), 'tg:q', 600_000);
    const groups = args.slice(args.indexOf('tenant:acme:requests'));
    // prefix, amount (incl. reserved), reserved, then one plan limit per window (minute .. total)
    expect(groups.slice(0, 8)).toEqual(['tenant:acme:requests', '1', '0', '', '', '100', '', '']);
    expect(groups.slice(8, 16)).toEqual(['tenant:acme:tokens', '700', '700', '', '', '', '', '']);
    expect(groups.slice(24, 32)).toEqual(['user:alice:tokens', '700', '700', '', '', '', '5000', '']);
  });

  it('maps an applied reply back to counter states and threshold crossings', () => {
    const { candidates } = encodeApply(op(), new ShardKeys('tg:', 't:acme'), 'tg:q', 600_000);
    // The crossing carries the used amount (80): the counter (81) less what reservations hold.
    const result = decodeApply(['A', [3, 100, 81, 19, 5000, 700], [3, 80, 80]], candidates);
    expect(result).toEqual({
      status: 'applied',
      counters: [
        expect.objectContaining({ scope: 'tenant', meter: 'requests', period: 'day', limit: 100, used: 81 }),
        expect.objectContaining({ scope: 'user', meter: 'tokens', period: 'month', limit: 5000, used: 700 }),
      ],
      crossed: [expect.objectContaining({ meter: 'requests', period: 'day', used: 80, threshold: 80 })],
    });
  });
});
