// What an LLM request asks for, read before it is forwarded: style, model, prompt size, output cap, streaming.
import { asObject, asString, tokenCount } from './fields';
import { estimateTokens, textChars } from './estimate';
import type { LlmProvider } from './types';

/** API families the gateway recognises by path; `null` for anything else. */
export type LlmApiStyle = 'openai-chat' | 'openai-responses' | 'openai-embeddings' | 'anthropic' | 'gemini';

export interface LlmRequestInfo {
  style: LlmApiStyle;
  provider: LlmProvider;
  /** `model` from the body, or from a Gemini path (`/models/<model>:generateContent`). */
  model: string | null;
  /** Characters of prompt text (messages, system, input, contents). */
  promptChars: number;
  /** The output cap the client asked for (times `n` choices), or null when it set none. */
  maxTokens: number | null;
  stream: boolean;
  /**
   * OpenAI chat streams only: true when the client asked for the usage chunk itself
   * (`stream_options.include_usage: true`). Null for other styles and non-streaming requests.
   */
  clientIncludesUsage: boolean | null;
}

const GEMINI_PATH = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

/** Recognises an LLM endpoint from the request path (query excluded), or null. */
export function llmApiStyle(path: string): LlmApiStyle | null {
  if (/\/chat\/completions$/.test(path) || /\/v\d+\/completions$/.test(path)) return 'openai-chat';
  if (/\/responses$/.test(path)) return 'openai-responses';
  if (/\/embeddings$/.test(path)) return 'openai-embeddings';
  if (/\/messages$/.test(path)) return 'anthropic';
  if (GEMINI_PATH.test(path)) return 'gemini';
  return null;
}

function providerOf(style: LlmApiStyle): LlmProvider {
  return style === 'anthropic' ? 'anthropic' : style === 'gemini' ? 'gemini' : 'openai';
}

/** The model segment of a Gemini path, decoded (as written when its escapes are malformed: no throw). */
function pathModel(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Reads an LLM request. `body` is the parsed JSON (anything else reads as an empty request). */
export function inspectLlmRequest(style: LlmApiStyle, path: string, body: unknown): LlmRequestInfo {
  const obj = asObject(body) ?? {};
  const gemini = style === 'gemini' ? GEMINI_PATH.exec(path) : null;
  const model = asString(obj.model) ?? (gemini ? pathModel(gemini[1]!) : null);
  const promptChars =
    textChars(obj.messages) +
    textChars(obj.system, 'system') +
    textChars(obj.prompt, 'prompt') +
    textChars(obj.input, 'input') +
    textChars(obj.instructions, 'instructions') +
    textChars(obj.contents) +
    textChars(asObject(obj.systemInstruction));
  const cap =
    tokenCount(obj.max_completion_tokens) ??
    tokenCount(obj.max_tokens) ??
    tokenCount(obj.max_output_tokens) ??
    tokenCount(asObject(obj.generationConfig)?.maxOutputTokens);
  const n = tokenCount(obj.n) ?? tokenCount(asObject(obj.generationConfig)?.candidateCount) ?? 1;
  const stream = gemini ? gemini[2] === 'streamGenerateContent' : obj.stream === true;
  const clientIncludesUsage =
    style === 'openai-chat' && stream ? asObject(obj.stream_options)?.include_usage === true : null;
  return {
    style,
    provider: providerOf(style),
    model,
    promptChars,
    maxTokens: cap === null ? null : cap * Math.max(1, n),
    stream,
    clientIncludesUsage,
  };
}

/**
 * The body to forward for an OpenAI chat stream that did not ask for usage: the same request with
 * `stream_options.include_usage: true`, so the final chunk carries the provider's count.
 * Returns null when nothing needs to change.
 */
export function withIncludeUsage(body: unknown, info: LlmRequestInfo): Record<string, unknown> | null {
  if (info.style !== 'openai-chat' || !info.stream || info.clientIncludesUsage !== false) return null;
  const obj = asObject(body);
  if (!obj) return null;
  return { ...obj, stream_options: { ...(asObject(obj.stream_options) ?? {}), include_usage: true } };
}

/** Tokens to reserve before forwarding: the prompt estimate plus the output cap (or `defaultMaxTokens`). */
export function reservationEstimate(
  info: LlmRequestInfo,
  defaultMaxTokens: number,
): { inputTokens: number; outputTokens: number } {
  return { inputTokens: estimateTokens(info.promptChars), outputTokens: info.maxTokens ?? defaultMaxTokens };
}
