// Regression: once the Gemini path's model is the one metered (whatever the body names), a 300-character model in
// the path beside a short `model` in the body went unchecked: only the body's name was bounded.
import { inspectLlmRequest } from '../../src';
import { requestFieldProblem } from '../../src/internal';

describe('a Gemini path model beside a model in the body', () => {
  it('is bounded like any model name', () => {
    const path = `/v1beta/models/${'g'.repeat(300)}:generateContent`;
    const body = { model: 'gemini-2.0-flash', contents: [] };
    expect(requestFieldProblem(body, inspectLlmRequest('gemini', path, body))?.field).toBe('model');
  });
});
