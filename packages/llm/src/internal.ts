// @tollgate/llm/internal: UNSTABLE. For Tollgate's own packages, tests and benches; not part of the public API, and
// it may change in any release. Users import `@tollgate/llm`.

// The gateway's bounds on request fields (model names, output caps).
export {
  MAX_MODEL_LENGTH,
  MAX_REQUESTED_OUTPUT_TOKENS,
  requestFieldProblem,
  type RequestFieldProblem,
} from './request-limits';

// Helpers of the gateway's stream handling.
export { isUsageOnlyChunk } from './openai-stream';
export { SseUsageRewriter } from './sse-usage-filter';
export { MAX_ANSWER_CONTAINERS, exceedsContainers } from './answer-bounds';
export { totalTokens } from './settle';
