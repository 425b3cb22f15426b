// Issue 19: a Gemini path whose model segment holds a malformed %-escape made inspectLlmRequest throw (a 500 at the gateway).
import { inspectLlmRequest } from '../../src';

describe('a Gemini model path with a malformed escape', () => {
  it('reads the segment as written instead of throwing URIError', () => {
    expect(() => inspectLlmRequest('gemini', '/v1beta/models/%E0%A4%A:generateContent', {})).not.toThrow();
    expect(inspectLlmRequest('gemini', '/v1beta/models/gemini-2.0%20flash:generateContent', {}).model).toBe(
      'gemini-2.0 flash',
    );
  });
});
