// OpenAI chat-stream chunks the gateway must hide from a client that did not ask for usage.
import { asObject, type Json } from './fields';

/** The extra final chunk `include_usage` adds: no choices, a usage object. */
export function isUsageOnlyChunk(data: Json): boolean {
  return Array.isArray(data.choices) && data.choices.length === 0 && asObject(data.usage) !== null;
}

/** With `include_usage`, every other chunk carries `"usage": null`; a client that did not ask never sees it. */
export function hasNullUsage(data: Json): boolean {
  return 'usage' in data && data.usage === null;
}
