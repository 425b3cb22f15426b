// The warnings a stats answer carries: every limit at or past the lowest `warnAt` threshold, fullest first.
import type { QuotaStatus } from '@tollgate/core';

export function quotaWarnings(status: QuotaStatus, warnAt: number[]): Array<Record<string, unknown>> {
  const floor = warnAt.length > 0 ? Math.min(...warnAt) : 80;
  const out: Array<Record<string, unknown>> = [];
  for (const [scope, group] of [
    ['subject', status.quotas],
    ['user', status.userQuotas],
  ] as const) {
    for (const [meter, periods] of Object.entries(group)) {
      for (const [period, line] of Object.entries(periods)) {
        if (!line || line.percentage < floor) continue;
        const what = scope === 'user' ? 'your per-user cap' : 'the limit';
        out.push({
          scope,
          meter,
          period,
          percentage: line.percentage,
          limit: line.limit,
          used: line.used,
          resetsAt: line.resetsAt,
          message: `${meter}: ${line.percentage}% of ${what} for this ${period}${line.percentage >= 100 ? ' (exhausted)' : ''}`,
        });
      }
    }
  }
  return out.sort((a, b) => (b.percentage as number) - (a.percentage as number));
}
