// Character-count token estimates (characters / 4, rounded up), used when a provider reports nothing.

/** Tokens for `chars` characters of text: ceil(chars / 4). */
export function estimateTokens(chars: number): number {
  if (!Number.isFinite(chars) || chars <= 0) return 0;
  return Math.ceil(chars / 4);
}

// Keys whose string values are text a model reads or writes; URLs, ids and base64 payloads are not.
const TEXT_KEYS: ReadonlySet<string> = new Set([
  'content',
  'text',
  'prompt',
  'input',
  'system',
  'instructions',
  'arguments',
  'thinking',
  'partial_json',
  'reasoning_content',
  'refusal',
]);

/**
 * Characters of model-visible text under `value`: strings reached through a text key (at any
 * depth, through arrays and objects), so `messages[].content`, `content[].text`,
 * `contents[].parts[].text`, `system` and `input` count and image data or URLs do not.
 */
export function textChars(value: unknown, key: string | null = null, depth = 0): number {
  if (depth > 32 || value === null || value === undefined) return 0;
  if (typeof value === 'string') return key !== null && TEXT_KEYS.has(key) ? value.length : 0;
  if (Array.isArray(value)) {
    let n = 0;
    for (const item of value) n += textChars(item, key, depth + 1);
    return n;
  }
  if (typeof value === 'object') {
    let n = 0;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) n += textChars(v, k, depth + 1);
    return n;
  }
  return 0;
}
