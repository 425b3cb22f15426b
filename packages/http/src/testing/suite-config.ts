// The config every behavioural test runs with: one plan per behaviour under test.
import { parseConfig } from '@tollgate/core';

export const SUITE_CONFIG = parseConfig({
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  warnAt: [50, 100],
  plans: {
    free: { limits: { requests: { day: 5 } } },
    hundred: { limits: { requests: { day: 100 } } },
    busy: { limits: { requests: { day: 1000 } } },
    capped: { limits: { requests: { day: 5 } } },
    burst: { limits: { requests: { minute: 2, month: 2 } } },
    trial: { limits: { requests: { total: 2 } } },
    budget: { limits: { tokens: { day: 5000 } } },
    metered: { limits: { requests: { day: 10_000 }, tokens: { day: 100_000 } } },
    four: { limits: { requests: { day: 4 } } },
    unlimited: { limits: { requests: { day: -1 } } },
  },
  userLimits: { capped: { requests: { day: 3 } } },
  pricing: {
    'gpt-4o': { input: '2.50', output: '10.00' },
    'demo-model': { input: '1.00', output: '2.00' },
  },
});
