// Regression: `/v1/chat/completions.json` (any format extension) was no LLM route to the gateway, while Rails, Django
// REST framework's format suffixes and Spring's suffix pattern match route it as `/v1/chat/completions`.
import { llmApiStyle } from '../../src';

describe('an LLM route with a format extension', () => {
  it.each([
    ['/v1/chat/completions.json', 'openai-chat'],
    ['/v1/chat/completions.JSON/', 'openai-chat'],
    ['/v1/completions.xml', 'openai-chat'],
    ['/v1/responses.json', 'openai-responses'],
    ['/v1/embeddings.json', 'openai-embeddings'],
    ['/v1/messages.json', 'anthropic'],
    ['/v1beta/models/gemini-1.5-pro:generateContent.json', 'gemini'],
  ])('%s is %s', (path, style) => {
    expect(llmApiStyle(path)).toBe(style);
  });

  it('is still no route for other names', () => {
    expect(llmApiStyle('/v1/chat/completionsx')).toBeNull();
    expect(llmApiStyle('/v1/chat/completions.json/more')).toBeNull();
  });
});
