// @tollgate/llm: token-usage extraction from LLM requests and responses (JSON and server-sent events), framework-free.
//
// Every name here is meant for users (the package README describes them); each type a public signature mentions is
// exported too. What only the gateway and Tollgate's tests need is in `@tollgate/llm/internal` (unstable).

// What a request asks for: its API style, model, prompt size and output cap; the tokens to reserve for it.
export {
  inspectLlmRequest,
  llmApiStyle,
  reservationEstimate,
  withIncludeUsage,
  type LlmApiStyle,
  type LlmRequestInfo,
} from './request';
export { estimateTokens } from './estimate';
export type { LlmProvider, ReportedUsage, TokenUsage } from './types';

// What an answer reports: from a JSON body, or from a server-sent-event stream.
export { modelFromJson, outputCharsFromJson, usageFromJson } from './json';
export { StreamUsageReader, type SseEvent } from './stream';
export { BoundedSseParser, type ParsedEvent, type SseParserOptions } from './sse-parser';
export type { Json } from './fields';

// The final usage (reported, else estimated) and its usage records for `record()`.
export { finalUsage, tokenUsageRecords, type UsageFacts } from './settle';

// Hides the usage chunks `stream_options.include_usage` adds from a client that did not ask for them.
export { SseUsageFilter, type SseUsageFilterOptions } from './sse-usage-filter';
