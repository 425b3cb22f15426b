// How long a subject's sum of request statistics alone (latency, bytes, errors, rejected, closed leases) waits
// before it is written: 10 x usageBatchMs, between usageBatchMs and 1 s; usageBatchMs itself when a limit reads one.
import { parseConfig } from '@tollgate/core';
import { statsDelayMs } from '../../src/settlement';

const base = { subject: 'tenant', timezone: 'UTC', defaultPlan: 'free' } as const;
const unlimitedStats = parseConfig({ ...base, plans: { free: { limits: { requests: { day: 100 } } } } });

describe('statsDelayMs', () => {
  it('is ten times usageBatchMs, at most 1 s, never below usageBatchMs', () => {
    expect(statsDelayMs(10, unlimitedStats)).toBe(100);
    expect(statsDelayMs(1, unlimitedStats)).toBe(10);
    expect(statsDelayMs(250, unlimitedStats)).toBe(1000);
    expect(statsDelayMs(5000, unlimitedStats)).toBe(5000);
  });

  it('is 0 when usageBatchMs is 0 (every turn)', () => {
    expect(statsDelayMs(0, unlimitedStats)).toBe(0);
  });

  it.each(['errors', 'bytes_in', 'bytes_out', 'latency_ms'])(
    'is usageBatchMs when a plan limits %s',
    (meter) => {
      const config = parseConfig({ ...base, plans: { free: { limits: { [meter]: { day: 1000 } } } } });
      expect(statsDelayMs(10, config)).toBe(10);
    },
  );

  it('is usageBatchMs when a user cap limits a statistic', () => {
    const config = parseConfig({
      ...base,
      plans: { free: { limits: { requests: { day: 100 } } } },
      userLimits: { free: { errors: { day: 10 } } },
    });
    expect(statsDelayMs(10, config)).toBe(10);
  });

  it('an unlimited (-1) statistic still counts as limited: a later override may make it a limit', () => {
    const config = parseConfig({ ...base, plans: { free: { limits: { bytes_out: { day: -1 } } } } });
    expect(statsDelayMs(10, config)).toBe(10);
  });
});
