// Month arithmetic behind on-demand partitions and retention.
import { addMonths, monthOf, oldestKeptMonth, parsePartitionName, partitionName } from '../../src/internal';

describe('ledger partitions', () => {
  it('names a partition by the UTC month of a bucket', () => {
    expect(partitionName(monthOf(Date.UTC(2025, 0, 31, 23)))).toBe('usage_ledger_p202501');
    expect(partitionName(monthOf(Date.UTC(2025, 1, 1, 0)))).toBe('usage_ledger_p202502');
    expect(parsePartitionName('usage_ledger_p199912')).toEqual({ year: 1999, month: 12 });
    expect(parsePartitionName('usage_ledger_default')).toBeNull();
  });

  it('adds months across year ends in both directions', () => {
    expect(addMonths({ year: 2024, month: 11 }, 3)).toEqual({ year: 2025, month: 2 });
    expect(addMonths({ year: 2024, month: 1 }, -1)).toEqual({ year: 2023, month: 12 });
    expect(addMonths({ year: 2024, month: 3 }, -15)).toEqual({ year: 2022, month: 12 });
  });

  it('keeps the current month and the N before it', () => {
    expect(oldestKeptMonth(Date.UTC(2025, 2, 15), 12)).toEqual({ year: 2024, month: 3 });
    expect(oldestKeptMonth(Date.UTC(2025, 0, 1), 1)).toEqual({ year: 2024, month: 12 });
  });
});
