// Token-usage extraction from LLM requests and responses (JSON and server-sent events), framework-free.
export * from './types';
export { estimateTokens, textChars } from './estimate';
export { usageFromJson, outputCharsFromJson, modelFromJson } from './json';
export * from './request';
export * from './request-limits';
export * from './stream';
export * from './settle';
export * from './openai-stream';
