// Model prices (USD per 1M tokens) and the lookup rule of SPEC §3: exact, then minus a version suffix, then '*'.
import { usdToPico } from './money';
import type { TokenMeter } from './meters';

/** Price of one token of each kind, in pico-dollars (USD per 1M tokens × 10^6). */
export interface ModelPrice {
  input: bigint;
  output: bigint;
  cacheRead: bigint;
  cacheWrite: bigint;
}

export interface PriceInput {
  input: string;
  output: string;
  cacheRead?: string;
  cacheWrite?: string;
}

export interface PriceMatch {
  /** The pricing key that matched ('*' for the fallback). */
  key: string;
  price: ModelPrice;
}

export type UnpricedPolicy = 'allow' | 'flag' | 'block';

/** Per-1M-token USD string -> pico-dollars per token. At most 6 decimals keeps it an integer. */
export function perTokenPico(perMillionUsd: string): bigint {
  return usdToPico(perMillionUsd, 6) / 1_000_000n;
}

export function compilePrice(p: PriceInput): ModelPrice {
  const input = perTokenPico(p.input);
  return {
    input,
    output: perTokenPico(p.output),
    cacheRead: p.cacheRead === undefined ? input : perTokenPico(p.cacheRead),
    cacheWrite: p.cacheWrite === undefined ? input : perTokenPico(p.cacheWrite),
  };
}

/**
 * `-2024-08-06`, `-20250514`, `-0613`, `-latest`, `-v2`, and Gemini's `-001`: a date or version only,
 * never a word like `-mini`.
 */
const VERSION_SUFFIX = /-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3,4}|latest|v\d+(?:\.\d+)*)$/;

export function stripVersionSuffix(model: string): string | null {
  const stripped = model.replace(VERSION_SUFFIX, '');
  return stripped === model || stripped === '' ? null : stripped;
}

export class PriceBook {
  private readonly prices = new Map<string, ModelPrice>();
  private readonly cache = new Map<string, PriceMatch | null>();

  constructor(pricing: Record<string, PriceInput>) {
    for (const [key, p] of Object.entries(pricing)) this.prices.set(key, compilePrice(p));
  }

  /**
   * Finds the price for `model` as the provider reported it. `provider` (openai, anthropic, gemini)
   * comes from the response format; a `provider/` prefix on the model wins over it.
   */
  lookup(model: string, provider?: string): PriceMatch | null {
    const cacheKey = `${provider ?? ''}\u0000${model}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const found = this.find(model, provider);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(cacheKey, found);
    return found;
  }

  private find(model: string, provider?: string): PriceMatch | null {
    let bare = model;
    let prov = provider;
    const slash = model.indexOf('/');
    if (slash > 0) {
      prov = model.slice(0, slash);
      bare = model.slice(slash + 1);
    }
    const names = [bare];
    let stripped = stripVersionSuffix(bare);
    // A name can carry two suffixes (`-v2-20250101`); strip at most twice.
    for (let i = 0; stripped && i < 2; i++) {
      names.push(stripped);
      stripped = stripVersionSuffix(stripped);
    }
    for (const name of names) {
      const candidates = prov ? [`${prov}/${name}`, name] : [name];
      for (const key of candidates) {
        const price = this.prices.get(key);
        if (price) return { key, price };
      }
    }
    const star = this.prices.get('*');
    return star ? { key: '*', price: star } : null;
  }
}

/** Exact cost in pico-dollars of `tokens` tokens of `meter` at `price`. */
export function tokenCostPico(price: ModelPrice, meter: TokenMeter, tokens: number): bigint {
  const perToken =
    meter === 'input_tokens'
      ? price.input
      : meter === 'output_tokens'
        ? price.output
        : meter === 'cache_read_tokens'
          ? price.cacheRead
          : price.cacheWrite;
  return perToken * BigInt(tokens);
}
