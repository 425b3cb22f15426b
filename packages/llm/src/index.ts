// @tollgate/llm: token-usage extraction from LLM requests and responses (JSON and server-sent events), framework-free.
export * from './types';
export { estimateTokens, textChars } from './estimate';
export { usageFromJson, outputCharsFromJson, modelFromJson } from './json';
export * from './request';
export * from './request-limits';
export * from './stream';
export * from './settle';
export * from './openai-stream';
export { BoundedSseParser, type ParsedEvent, type SseParserOptions } from './sse-parser';
export { SseUsageFilter, MAX_FILTERED_EVENT_BYTES, type SseUsageFilterOptions } from './sse-usage-filter';
