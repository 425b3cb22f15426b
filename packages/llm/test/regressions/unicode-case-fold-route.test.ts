// Regression: an LLM route spelt with a non-ASCII letter whose Unicode case mapping is ASCII (dotless ı, long ſ, ß,
// the Kelvin sign, the st ligature) was no LLM route to the gateway, while an upstream that decodes the path and
// ignores case by Unicode rules (Java equalsIgnoreCase, .NET OrdinalIgnoreCase, JS toUpperCase) serves it as one.
import { llmApiStyle } from '../../src';

describe('route letters a Unicode case-insensitive upstream reads as ASCII', () => {
  it.each([
    ['/v1/chat/complet\u0131ons', 'openai-chat'],
    ['/v1/chat/complet%C4%B1ons', 'openai-chat'],
    ['/v1/chat/completion\u017f', 'openai-chat'],
    ['/v1/me\u00c3\u009fages', 'anthropic'],
    ['/v1/me%c3%9fages', 'anthropic'],
    ['/v1/response\u017f/', 'openai-responses'],
    ['/v1/embedd\u0130ngs', 'openai-embeddings'],
    ['/v1beta/models/gemini-2.0-flash:\ufb06reamGenerateContent', 'gemini'],
    // Node hands the request line over as latin1: the UTF-8 bytes of ı arrive as two latin1 characters.
    ['/v1/chat/complet\u00c4\u00b1ons', 'openai-chat'],
  ])('%s is %s', (path, style) => {
    expect(llmApiStyle(path)).toBe(style);
  });

  it('leaves other non-ASCII paths alone', () => {
    expect(llmApiStyle('/v1/chat/compl\u00e9tions')).toBeNull();
    expect(llmApiStyle('/v1/\u212bmessages')).toBeNull();
  });
});
