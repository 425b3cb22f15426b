// Exact money conversions for Postgres numeric text (moved from the ledger's csv-and-decimals test with the code).
import {
  counterDigits,
  counterPico,
  numericToPico,
  numericToUsd,
  picoAmount,
  picoToNumeric,
} from '../../src/internal';

describe('exact decimals', () => {
  it('parses numeric sums into pico-dollars without floats', () => {
    expect(numericToPico('0.000000000001')).toBe(1n);
    expect(numericToPico('12345678901234.567890123456')).toBe(12345678901234567890123456n);
    expect(numericToPico('-0.5')).toBe(-500000000000n);
    expect(numericToPico('3')).toBe(3000000000000n);
    expect(numericToPico('1.500000000000000000')).toBe(1500000000000n);
    expect(numericToPico(null)).toBe(0n);
    expect(() => numericToPico('0.0000000000001')).toThrow(RangeError);
  });

  it('formats cost strings with at least six decimals', () => {
    expect(numericToUsd('0.0025')).toBe('0.002500');
    expect(numericToUsd('0.000000000001')).toBe('0.000000000001');
    expect(numericToUsd('10')).toBe('10.000000');
  });
});

describe('pico-dollars to the ledger and the stores', () => {
  it('writes pico-dollar strings as exact numeric text with 12 decimals', () => {
    expect(picoToNumeric('1200000000')).toBe('0.001200000000');
    expect(picoToNumeric('-2500000000000')).toBe('-2.500000000000');
    expect(picoToNumeric('000')).toBe('0');
    expect(numericToPico(picoToNumeric('12345678901234567890123456'))).toBe(12345678901234567890123456n);
    expect(() => picoToNumeric('1.5')).toThrow(RangeError);
  });

  it('keeps counter values past 2^53 exact in digits and in bigint', () => {
    expect(counterDigits(42)).toBe('42');
    expect(counterDigits(2 ** 70)).toBe('1180591620717411303424');
    expect(counterPico(2 ** 60)).toBe(1152921504606846976n);
    expect(picoAmount(5n)).toBe(5);
    expect(picoAmount(2n ** 60n)).toBe(Number.MAX_SAFE_INTEGER);
  });
});
