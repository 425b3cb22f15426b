// CSV fields and exact decimal conversions used by the usage queries.
import { csvField, numericToPico, usdString } from '../../src';

describe('CSV fields', () => {
  it('quotes commas, quotes and line breaks (RFC 4180)', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
  });

  it('defuses text a spreadsheet would run as a formula, but not numbers', () => {
    expect(csvField('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-5', false)).toBe('-5');
  });
});

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
    expect(usdString('0.0025')).toBe('0.002500');
    expect(usdString('0.000000000001')).toBe('0.000000000001');
    expect(usdString('10')).toBe('10.000000');
  });
});
