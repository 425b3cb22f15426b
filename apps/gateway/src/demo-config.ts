// The gateway's built-in demo config: plans and prices for `npm start` when no TOLLGATE_CONFIG is given.
import type { TollgateConfigInput } from '@tollgate/core';

/** The built-in demo config used when no config file is given. */
export const DEMO_CONFIG: TollgateConfigInput = {
  subject: 'tenant',
  timezone: 'UTC',
  defaultPlan: 'free',
  warnAt: [80, 90, 100],
  plans: {
    free: { limits: { requests: { day: 1000 }, tokens: { day: 10000, month: 100000 } } },
    basic: { limits: { requests: { day: 10000 }, tokens: { day: 100000 } } },
    pro: { limits: { requests: { day: -1 }, tokens: { day: -1 } } },
  },
  userLimits: { free: { tokens: { day: 2000 } } },
  pricing: {
    'openai/gpt-4o': { input: '2.50', output: '10.00', cacheRead: '1.25' },
    'openai/gpt-4o-mini': { input: '0.15', output: '0.60', cacheRead: '0.075' },
    'anthropic/claude-sonnet-4': { input: '3.00', output: '15.00', cacheRead: '0.30', cacheWrite: '3.75' },
    'demo-model': { input: '1.00', output: '2.00' },
  },
  unpricedModel: 'flag',
};
