// Regression: `/v1/chat/%2563ompletions` (an escape escaped again) and `/v1/chat/completions.` (a bare trailing dot)
// were no LLM route to the gateway, while a decoding proxy in front of a decoding router (nginx before Go's ServeMux)
// reads the first as `/v1/chat/completions`, and Windows servers drop the trailing dot of the second.
import { llmApiStyle } from '../../src';

describe('LLM routes behind one more decoding layer, or with a trailing dot', () => {
  it.each([
    ['/v1/chat/%2563ompletions', 'openai-chat'],
    ['/v1/chat/%252563ompletions', 'openai-chat'],
    ['/v1/chat%252Fcompletions', 'openai-chat'],
    ['/v1/x/%252e%252e/messages', 'anthropic'],
    ['/v1/chat/completions.', 'openai-chat'],
    ['/v1/messages./', 'anthropic'],
  ])('%s is %s', (path, style) => {
    expect(llmApiStyle(path)).toBe(style);
  });

  it('leaves a literal percent alone', () => {
    expect(llmApiStyle('/v1/chat/completions%25')).toBeNull();
    expect(llmApiStyle('/v1/chat/%25zzcompletions')).toBeNull();
  });
});
