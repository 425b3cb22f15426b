// Token usage from a complete JSON response body: OpenAI (chat, responses, embeddings), Anthropic, Gemini.
import { asObject, minus, modelName, optionalTokens, reportedTokens, type Json } from './fields';
import type { ReportedUsage } from './types';
import { textChars } from './estimate';

/** OpenAI chat/completions/embeddings `usage`: input = prompt_tokens - cached_tokens. */
function openAiChatUsage(usage: Json, model: string | null): ReportedUsage | null {
  const prompt = reportedTokens(usage.prompt_tokens);
  if (prompt === null) return null;
  const cached = reportedTokens(asObject(usage.prompt_tokens_details)?.cached_tokens);
  return {
    provider: 'openai',
    model,
    inputTokens: minus(prompt, cached),
    cacheReadTokens: cached ?? 0,
    cacheWriteTokens: 0,
    outputTokens: optionalTokens(usage.completion_tokens),
  };
}

/** OpenAI Responses API `usage`: input_tokens includes cached tokens, like prompt_tokens. */
function openAiResponsesUsage(usage: Json, model: string | null): ReportedUsage | null {
  const input = reportedTokens(usage.input_tokens);
  if (input === null) return null;
  const cached = reportedTokens(asObject(usage.input_tokens_details)?.cached_tokens);
  return {
    provider: 'openai',
    model,
    inputTokens: minus(input, cached),
    cacheReadTokens: cached ?? 0,
    cacheWriteTokens: 0,
    outputTokens: optionalTokens(usage.output_tokens),
  };
}

/** Anthropic `usage`: input_tokens already excludes cache reads and writes. Fields may be missing (null). */
export function anthropicUsage(usage: Json, model: string | null): ReportedUsage {
  return {
    provider: 'anthropic',
    model,
    inputTokens: reportedTokens(usage.input_tokens),
    cacheReadTokens: reportedTokens(usage.cache_read_input_tokens),
    cacheWriteTokens: reportedTokens(usage.cache_creation_input_tokens),
    outputTokens: reportedTokens(usage.output_tokens),
  };
}

/**
 * Gemini `usageMetadata`: promptTokenCount includes cached content; thinking tokens are billed as
 * output, so output = candidatesTokenCount + thoughtsTokenCount.
 */
export function geminiUsage(meta: Json, model: string | null): ReportedUsage | null {
  const prompt = reportedTokens(meta.promptTokenCount);
  const candidates = reportedTokens(meta.candidatesTokenCount);
  if (prompt === null && candidates === null) return null;
  const cached = reportedTokens(meta.cachedContentTokenCount);
  const toolPrompt = optionalTokens(meta.toolUsePromptTokenCount);
  const thoughts = optionalTokens(meta.thoughtsTokenCount);
  // A field present but absurd leaves its side unreported (estimated), never read as 0.
  const promptKnown = (prompt !== null || meta.promptTokenCount === undefined) && toolPrompt !== null;
  const outputKnown = (candidates !== null || meta.candidatesTokenCount === undefined) && thoughts !== null;
  return {
    provider: 'gemini',
    model,
    inputTokens: promptKnown ? minus((prompt ?? 0) + toolPrompt!, cached) : null,
    cacheReadTokens: cached ?? 0,
    cacheWriteTokens: 0,
    outputTokens: outputKnown ? (candidates ?? 0) + thoughts! : null,
  };
}

/** Reads provider-reported usage from a parsed JSON response, or null when it carries none. */
export function usageFromJson(body: unknown): ReportedUsage | null {
  const obj = asObject(body);
  if (!obj) return null;
  const model = modelName(obj.model) ?? modelName(obj.modelVersion);
  const meta = asObject(obj.usageMetadata);
  if (meta) return geminiUsage(meta, model);
  const usage = asObject(obj.usage);
  if (!usage) return null;
  if (obj.type === 'message') return anthropicUsage(usage, model);
  if ('prompt_tokens' in usage) return openAiChatUsage(usage, model);
  if (obj.object === 'response') return openAiResponsesUsage(usage, model);
  // Anthropic-shaped usage without `type` (proxies, older SDK mocks) is read as Anthropic.
  if ('input_tokens' in usage || 'output_tokens' in usage) {
    return 'input_tokens_details' in usage
      ? openAiResponsesUsage(usage, model)
      : anthropicUsage(usage, model);
  }
  return null;
}

/** Characters of generated text in a JSON response (for estimating output when no usage was reported). */
export function outputCharsFromJson(body: unknown): number {
  const obj = asObject(body);
  if (!obj) return 0;
  return textChars(obj.choices) + textChars(obj.content) + textChars(obj.candidates) + textChars(obj.output);
}

/** The model a JSON response names, if any (and if it is a plausible name: see `modelName`). */
export function modelFromJson(body: unknown): string | null {
  const obj = asObject(body);
  return obj ? (modelName(obj.model) ?? modelName(obj.modelVersion)) : null;
}
