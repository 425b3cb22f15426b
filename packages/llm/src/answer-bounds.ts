// What an upstream's answer may build when it is parsed for its usage: its bytes are capped elsewhere
// (MAX_RESPONSE_JSON_BYTES), but a few MiB of `[` builds millions of arrays, seconds of JSON.parse on the gateway's one
// thread and hundreds of MiB (20 MiB of nested brackets, 20 KiB gzip-encoded: 7.9 s and 1.1 GiB).

/**
 * Most arrays and objects an answer (or one stream event) is parsed with. Real answers hold far fewer: one with
 * logprobs of 20 alternatives over 4,096 tokens holds ~180,000; past it the answer is not parsed (its usage is
 * estimated, as for one that is not JSON).
 */
export const MAX_ANSWER_CONTAINERS = 1_000_000;

/** True when `text` opens more than `max` arrays and objects outside its strings: one pass, nothing built. */
export function exceedsContainers(text: string, max = MAX_ANSWER_CONTAINERS): boolean {
  // Each container opens with a character of its own: a text no longer than `max` cannot hold more (every real answer).
  if (text.length <= max) return false;
  let containers = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skipped to its closing quote (an escaped character is never one).
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if ((c === 0x7b || c === 0x5b) && ++containers > max) return true;
  }
  return false;
}
