// Regression: an OpenAI Responses call with `background: true` answers at once (status "queued", usage null) and is
// generated afterwards, fetched with GET /v1/responses/<id>, which is no LLM call: the output was never metered.
import { inspectLlmRequest } from '../../src';
import { requestFieldProblem } from '../../src/internal';

describe('a background Responses call', () => {
  const problem = (body: Record<string, unknown>) =>
    requestFieldProblem(body, inspectLlmRequest('openai-responses', '/v1/responses', body));

  it.each([true, 'true', 1])('background: %p is refused naming the field', (background) => {
    expect(problem({ model: 'gpt-4o', input: 'hi', background })?.field).toBe('background');
  });

  it('takes background false or absent, and leaves other styles alone', () => {
    expect(problem({ model: 'gpt-4o', input: 'hi', background: false })).toBeNull();
    expect(problem({ model: 'gpt-4o', input: 'hi' })).toBeNull();
    const chat = { model: 'gpt-4o', messages: [], background: true };
    expect(
      requestFieldProblem(chat, inspectLlmRequest('openai-chat', '/v1/chat/completions', chat)),
    ).toBeNull();
  });
});
