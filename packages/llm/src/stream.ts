// Token usage from server-sent events, one event at a time (OpenAI chat/responses, Anthropic, Gemini).
import { anthropicUsage, geminiUsage, usageFromJson } from './json';
import { asObject, asString, modelName, reportedTokens, type Json } from './fields';
import { textChars } from './estimate';
import { exceedsContainers } from './answer-bounds';
import type { LlmProvider, ReportedUsage } from './types';

/** One parsed server-sent event (as an SSE parser such as `eventsource-parser` yields it). */
export interface SseEvent {
  event?: string;
  data: string;
}

/** True when `text`, past JSON's leading whitespace, starts with `{`. */
function opensObject(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b) return true;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return false;
}

/**
 * Reads usage incrementally: feed every event with `push`, then read `reported` and `outputChars`.
 * It keeps only counters, never the stream. Rules (SPEC §6):
 * - OpenAI chat: the chunk carrying a non-null `usage` (the last one wins);
 * - OpenAI responses: `response.completed` / `.incomplete` / `.failed` carry `response.usage`;
 * - Anthropic: `message_start.message.usage`, then every field present in a `message_delta` usage
 *   (cumulative) REPLACES the same field, never adds to it;
 * - Gemini: every chunk's `usageMetadata` is cumulative; the last one wins.
 */
export class StreamUsageReader {
  private usage: ReportedUsage | null = null;
  private model: string | null = null;
  private provider: LlmProvider | null = null;
  private chars = 0;
  /** True once the provider sent its final usage (not just a partial one such as message_start). */
  complete = false;
  /** Events that were not JSON (or not objects), ignored. */
  skipped = 0;

  /** Feeds one event; returns the parsed data object (or null) so a caller can reuse the parse. */
  push(ev: SseEvent): Json | null {
    const raw = ev.data;
    if (raw === '' || raw === '[DONE]') return null;
    // Only a JSON object is read: anything else is skipped without JSON.parse, whose SyntaxError per event made a
    // stream of small non-JSON events cost ~1 ms of CPU per kilobyte.
    if (!opensObject(raw)) {
      this.skipped++;
      return null;
    }
    let parsed: unknown;
    if (exceedsContainers(raw)) {
      this.skipped++;
      return null;
    }
    try {
      parsed = JSON.parse(raw);
    } catch {
      this.skipped++;
      return null;
    }
    const data = asObject(parsed);
    if (!data) {
      this.skipped++;
      return null;
    }
    this.read(data, ev.event);
    return data;
  }

  /** Feeds one chunk already parsed: an element of a stream sent as a JSON array (Gemini without `alt=sse`). */
  pushObject(data: Json): void {
    this.read(data, undefined);
  }

  private read(data: Json, eventName: string | undefined): void {
    const type = asString(data.type) ?? eventName ?? null;
    if (type === 'message_start') {
      const message = asObject(data.message);
      this.provider = 'anthropic';
      this.model = modelName(message?.model) ?? this.model;
      const u = asObject(message?.usage);
      if (u) this.usage = anthropicUsage(u, this.model);
      return;
    }
    if (type === 'message_delta') {
      this.provider = 'anthropic';
      const u = asObject(data.usage);
      if (u) {
        const next = anthropicUsage(u, this.model);
        const cur = this.usage ?? anthropicUsage({}, this.model);
        // Cumulative fields: a reported value replaces the earlier one; a missing one keeps it; one
        // present but absurd makes the field unreported (estimated), not the stale earlier value.
        const field = (key: string, n: number | null, earlier: number | null) =>
          u[key] === undefined || u[key] === null ? earlier : n;
        this.usage = {
          provider: 'anthropic',
          model: this.model,
          inputTokens: field('input_tokens', next.inputTokens, cur.inputTokens),
          cacheReadTokens: field('cache_read_input_tokens', next.cacheReadTokens, cur.cacheReadTokens),
          cacheWriteTokens: field('cache_creation_input_tokens', next.cacheWriteTokens, cur.cacheWriteTokens),
          outputTokens: field('output_tokens', next.outputTokens, cur.outputTokens),
        };
        this.complete = true;
      }
      return;
    }
    if (type === 'content_block_delta' || type === 'content_block_start') {
      this.provider = 'anthropic';
      this.chars += textChars(data.delta) + textChars(data.content_block);
      return;
    }
    if (type !== null && type.startsWith('response.')) {
      this.provider = 'openai';
      if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta') {
        if (typeof data.delta === 'string') this.chars += data.delta.length;
      }
      const response = asObject(data.response);
      if (response) {
        this.model = modelName(response.model) ?? this.model;
        if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
          const u = usageFromJson({ ...response, object: 'response' });
          if (u) {
            this.usage = u;
            this.complete = true;
          }
        }
      }
      return;
    }
    const meta = asObject(data.usageMetadata);
    if (meta || Array.isArray(data.candidates)) {
      this.provider = 'gemini';
      this.model = modelName(data.modelVersion) ?? modelName(data.model) ?? this.model;
      this.chars += textChars(data.candidates);
      if (meta) {
        const u = geminiUsage(meta, this.model);
        if (u) {
          this.usage = u;
          this.complete = true;
        }
      }
      return;
    }
    if (Array.isArray(data.choices) || 'usage' in data) {
      this.provider = 'openai';
      this.model = modelName(data.model) ?? this.model;
      if (Array.isArray(data.choices)) {
        for (const choice of data.choices) {
          const c = asObject(choice);
          if (c) this.chars += textChars(c.delta) + textChars(c.text, 'text');
        }
      }
      const u = asObject(data.usage);
      if (u && reportedTokens(u.prompt_tokens) !== null) {
        this.usage = usageFromJson({ usage: u, model: this.model });
        this.complete = true;
      }
    }
  }

  /** Provider-reported usage so far (possibly partial: see `complete`), with the stream's model. */
  get reported(): ReportedUsage | null {
    return this.usage ? { ...this.usage, model: this.model ?? this.usage.model } : null;
  }

  /** Characters of generated text seen so far (for estimating output when usage never arrived). */
  get outputChars(): number {
    return this.chars;
  }

  /** Format recognised from the events, or null if none looked like an LLM stream. */
  get format(): LlmProvider | null {
    return this.provider;
  }

  get streamModel(): string | null {
    return this.model;
  }
}
