// The shape every token-usage reader returns: the four token kinds, the model, and where each number came from.

/** Response formats the readers understand; the name doubles as the pricing-key prefix. */
export type LlmProvider = 'openai' | 'anthropic' | 'gemini';

/** Token usage of one LLM response, in the units of SPEC §6 (input is uncached input). */
export interface TokenUsage {
  /** Format the usage was read from (pricing prefix); null when nothing was recognised. */
  provider: LlmProvider | null;
  /** Model as the response (or, failing that, the request) named it. */
  model: string | null;
  /** Uncached input tokens. */
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  /** True when the input side (input + cache) is a characters / 4 estimate. */
  inputEstimated: boolean;
  /** True when the output side is a characters / 4 estimate. */
  outputEstimated: boolean;
}

/** What the provider reported, before estimation fills the gaps. Null fields were not reported. */
export interface ReportedUsage {
  provider: LlmProvider;
  model: string | null;
  inputTokens: number | null;
  cacheReadTokens: number | null;
  cacheWriteTokens: number | null;
  outputTokens: number | null;
}
