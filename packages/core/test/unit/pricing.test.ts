import fc from 'fast-check';
import { PriceBook, picoToUsd, usdToPico } from '../../src';
import { stripVersionSuffix, tokenCostPico, compilePrice } from '../../src/internal';

const decimal6 = fc
  .tuple(
    fc.integer({ min: 0, max: 999 }),
    fc.integer({ min: 0, max: 999_999 }),
    fc.integer({ min: 0, max: 6 }),
  )
  .map(([whole, frac, places]) =>
    places === 0 ? String(whole) : `${whole}.${String(frac).padStart(6, '0').slice(0, places)}`,
  );

/** Independent reference: cost in USD as an exact decimal string from string arithmetic on integers. */
function referenceCostUsd(pricePerMillion: string, tokens: number): string {
  const [w, f = ''] = pricePerMillion.split('.');
  const micro = BigInt(w!) * 1_000_000n + BigInt(f.padEnd(6, '0')); // price in 10^-6 USD per 1M tokens
  const pico = micro * BigInt(tokens); // (10^-6 USD / 10^6 tokens) * tokens = 10^-12 USD
  return picoToUsd(pico);
}

describe('exact cost', () => {
  it('prices tokens exactly, with no rounding, for any 6-decimal price', () => {
    fc.assert(
      fc.property(decimal6, fc.integer({ min: 0, max: 50_000_000 }), (price, tokens) => {
        const p = compilePrice({ input: price, output: price });
        expect(picoToUsd(tokenCostPico(p, 'input_tokens', tokens))).toBe(referenceCostUsd(price, tokens));
      }),
      { numRuns: 2000 },
    );
  });

  it('is additive: pricing a + b tokens equals pricing a and b separately', () => {
    fc.assert(
      fc.property(decimal6, fc.nat(10_000_000), fc.nat(10_000_000), (price, a, b) => {
        const p = compilePrice({ input: price, output: price });
        expect(tokenCostPico(p, 'output_tokens', a + b)).toBe(
          tokenCostPico(p, 'output_tokens', a) + tokenCostPico(p, 'output_tokens', b),
        );
      }),
    );
  });

  it('round-trips pico-dollars through decimal strings', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), (pico) => {
        expect(usdToPico(picoToUsd(pico))).toBe(pico);
      }),
    );
    expect(picoToUsd(2_500_000_000n)).toBe('0.002500');
    expect(picoToUsd(1n)).toBe('0.000000000001');
  });

  it('defaults cacheRead and cacheWrite to the input price', () => {
    const p = compilePrice({ input: '3.00', output: '15.00' });
    expect(p.cacheRead).toBe(p.input);
    expect(p.cacheWrite).toBe(p.input);
    expect(tokenCostPico(p, 'input_tokens', 1_000_000)).toBe(usdToPico('3'));
  });
});

describe('price lookup', () => {
  const book = new PriceBook({
    'openai/gpt-4o': { input: '2.50', output: '10.00' },
    'gpt-4o-mini': { input: '0.15', output: '0.60' },
    'claude-sonnet-4': { input: '3.00', output: '15.00' },
  });

  it('prices dated and versioned names as their base model', () => {
    expect(book.lookup('gpt-4o-2024-08-06', 'openai')?.key).toBe('openai/gpt-4o');
    expect(book.lookup('gpt-4o', 'openai')?.key).toBe('openai/gpt-4o');
    expect(book.lookup('openai/gpt-4o-2024-08-06')?.key).toBe('openai/gpt-4o');
    expect(book.lookup('claude-sonnet-4-20250514', 'anthropic')?.key).toBe('claude-sonnet-4');
    expect(book.lookup('gpt-4o-mini-2024-07-18', 'openai')?.key).toBe('gpt-4o-mini');
    const gemini = new PriceBook({ 'gemini/gemini-2.0-flash': { input: '0.10', output: '0.40' } });
    expect(gemini.lookup('gemini-2.0-flash-001', 'gemini')?.key).toBe('gemini/gemini-2.0-flash');
  });

  it('never prices a different model by prefix', () => {
    const noStar = new PriceBook({ 'gpt-4o': { input: '2.50', output: '10.00' } });
    expect(noStar.lookup('gpt-4o-mini', 'openai')).toBeNull();
    expect(noStar.lookup('gpt-4', 'openai')).toBeNull();
    expect(noStar.lookup('gpt-4o-audio-preview', 'openai')).toBeNull();
  });

  it('falls back to * when nothing else matches', () => {
    const star = new PriceBook({ '*': { input: '0', output: '0' }, 'gpt-4o': { input: '1', output: '1' } });
    expect(star.lookup('llama-3', 'openai')?.key).toBe('*');
  });

  it('strips only date or version suffixes, for any base name', () => {
    const base = fc.stringMatching(/^[a-z][a-z0-9]{0,8}(-[a-z][a-z0-9]{0,5}){0,2}$/);
    const suffix = fc.oneof(
      fc
        .date({ min: new Date('2020-01-01'), max: new Date('2030-12-31'), noInvalidDate: true })
        .map((d) => `-${d.toISOString().slice(0, 10)}`),
      fc.integer({ min: 20200101, max: 20301231 }).map((n) => `-${n}`),
      fc.integer({ min: 0, max: 9999 }).map((n) => `-${String(n).padStart(4, '0')}`),
      fc.integer({ min: 0, max: 999 }).map((n) => `-${String(n).padStart(3, '0')}`),
      fc.constant('-latest'),
      fc.integer({ min: 1, max: 9 }).map((n) => `-v${n}`),
    );
    const word = fc.constantFrom('-mini', '-turbo', '-preview', '-audio', '-nano', '-o');
    fc.assert(
      fc.property(base, suffix, word, (name, sfx, w) => {
        expect(stripVersionSuffix(`${name}${sfx}`)).toBe(name);
        expect(stripVersionSuffix(`${name}${w}`)).toBeNull();
        const b = new PriceBook({ [name]: { input: '1', output: '1' } });
        expect(b.lookup(`${name}${sfx}`)?.key).toBe(name);
        expect(b.lookup(`${name}${w}`)).toBeNull();
      }),
      { numRuns: 1000 },
    );
  });
});
