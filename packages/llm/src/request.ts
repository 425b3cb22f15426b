// What an LLM request asks for, read before it is forwarded: style, model, prompt size, output cap, streaming.
import { asObject, asString, tokenCount } from './fields';
import { estimateTokens, textChars } from './estimate';
import type { LlmProvider } from './types';
import { canonicalTarget, type CanonicalTargetOptions } from '@tollgate/core/internal';

/** API families the gateway recognises by path; `null` for anything else. */
export type LlmApiStyle = 'openai-chat' | 'openai-responses' | 'openai-embeddings' | 'anthropic' | 'gemini';

export interface LlmRequestInfo {
  style: LlmApiStyle;
  provider: LlmProvider;
  /** `model` from the body, or for Gemini from its path (`/models/<model>:generateContent`), which is what it runs. */
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

// Case-insensitive, with or without a trailing slash, and with or without a format extension (`.json`: Rails,
// Django REST framework and Spring's suffix pattern match route `/x.json` as `/x`) or a bare trailing dot (which
// Windows servers drop): lenient upstreams serve them all.
const END = '(?:\\.[a-z0-9]*)?\\/?$';
const OPENAI_CHAT = new RegExp(`\\/(?:chat\\/completions|v\\d+\\/completions)${END}`, 'i');
const OPENAI_RESPONSES = new RegExp(`\\/responses${END}`, 'i');
const OPENAI_EMBEDDINGS = new RegExp(`\\/embeddings${END}`, 'i');
const ANTHROPIC = new RegExp(`\\/messages${END}`, 'i');
// The model may hold a colon (the last one starts the method); a tuned model is served as `/tunedModels/<id>:...`.
const GEMINI_PATH = new RegExp(
  `\\/(?:tuned)?models\\/([^/]+):(generateContent|streamGenerateContent)${END}`,
  'i',
);
const LENIENT: CanonicalTargetOptions = { lenient: true };

/**
 * Non-ASCII letters (as the canonical form escapes their UTF-8) whose Unicode case mapping is ASCII: an upstream
 * that decodes the path and matches it ignoring case by Unicode rules (Java's equalsIgnoreCase, .NET's
 * OrdinalIgnoreCase, JS toUpperCase) routes `/v1/chat/complet\u0131ons` or `/v1/me\u00dfages` as the real route.
 */
const ASCII_CASE_FOLDS: Readonly<Record<string, string>> = {
  '%C4%B0': 'i', // İ
  '%C4%B1': 'i', // ı
  '%C5%BF': 's', // ſ
  '%C3%9F': 'ss', // ß
  '%E2%84%AA': 'k', // Kelvin sign
  '%EF%AC%80': 'ff',
  '%EF%AC%81': 'fi',
  '%EF%AC%82': 'fl',
  '%EF%AC%83': 'ffi',
  '%EF%AC%84': 'ffl',
  '%EF%AC%85': 'st',
  '%EF%AC%86': 'st',
};
const ASCII_CASE_FOLD = /%C4%B[01]|%C5%BF|%C3%9F|%E2%84%AA|%EF%AC%8[0-6]/g;
/** A `%25` that, decoded once more, starts an escape. */
const DOUBLE_ESCAPE = /%25(?=[0-9A-Fa-f]{2})/g;

function lenientCanonical(path: string): string {
  const canonical = canonicalTarget(path, LENIENT);
  return typeof canonical === 'string' ? canonical : path;
}

/**
 * The path as routes are matched on: canonical (see `canonicalTarget`; lenient, so a spelling some server
 * routes cannot slip past), without the query, escapes decoded up to three times (`%2563`),
 * without matrix parameters (`/completions;x`, which Servlet containers drop from each segment), `%3A` read as the `:` a decoding upstream sees, and the few
 * non-ASCII letters whose case mapping is ASCII read as those letters (see ASCII_CASE_FOLDS).
 */
function routePath(path: string): string {
  let p = lenientCanonical(path);
  const query = p.indexOf('?');
  if (query !== -1) p = p.slice(0, query);
  // A decoding proxy in front of a decoding router reads `%2563` as `c`: two more layers are read the same way.
  for (let layer = 0; layer < 2 && p.indexOf('%25') !== -1; layer++)
    p = lenientCanonical(p.replace(DOUBLE_ESCAPE, '%'));
  if (p.indexOf(';') !== -1) p = p.replace(/;[^/]*/g, '');
  if (p.indexOf('%') === -1) return p;
  p = p.replace(/%3A/g, ':');
  return p.replace(ASCII_CASE_FOLD, (escape) => ASCII_CASE_FOLDS[escape]!);
}

/** Recognises an LLM endpoint from the request path, or null. */
export function llmApiStyle(path: string): LlmApiStyle | null {
  const p = routePath(path);
  if (OPENAI_CHAT.test(p)) return 'openai-chat';
  if (OPENAI_RESPONSES.test(p)) return 'openai-responses';
  if (OPENAI_EMBEDDINGS.test(p)) return 'openai-embeddings';
  if (ANTHROPIC.test(p)) return 'anthropic';
  if (GEMINI_PATH.test(p)) return 'gemini';
  return null;
}

function decodedSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function providerOf(style: LlmApiStyle): LlmProvider {
  return style === 'anthropic' ? 'anthropic' : style === 'gemini' ? 'gemini' : 'openai';
}

/** Reads an LLM request. `body` is the parsed JSON (anything else reads as an empty request). */
export function inspectLlmRequest(style: LlmApiStyle, path: string, body: unknown): LlmRequestInfo {
  const obj = asObject(body) ?? {};
  const gemini = style === 'gemini' ? GEMINI_PATH.exec(routePath(path)) : null;
  // Gemini runs the path's model whatever the body says: a priced `model` field must not hide an unpriced path.
  const model = gemini ? decodedSegment(gemini[1]!) : asString(obj.model);
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
  const stream = gemini ? gemini[2]!.toLowerCase() === 'streamgeneratecontent' : obj.stream === true;
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
