import { inspectLlmRequest, type LlmApiStyle } from '../../src';
import { MAX_MODEL_LENGTH, MAX_REQUESTED_OUTPUT_TOKENS, requestFieldProblem } from '../../src/internal';

const check = (
  body: Record<string, unknown>,
  style: LlmApiStyle = 'openai-chat',
  path = '/v1/chat/completions',
) => requestFieldProblem(body, inspectLlmRequest(style, path, body));

describe('requestFieldProblem: the fields the gateway meters by', () => {
  it('accepts an ordinary request, absent and null caps, and a model of exactly the longest length', () => {
    expect(check({ model: 'gpt-4o', messages: [] })).toBeNull();
    expect(check({ model: 'gpt-4o', max_tokens: null, n: null })).toBeNull();
    expect(check({ model: 'm'.repeat(MAX_MODEL_LENGTH), max_tokens: 4096, n: 8 })).toBeNull();
    expect(check({ max_tokens: MAX_REQUESTED_OUTPUT_TOKENS })).toBeNull();
    expect(check({ model: 'claude/opus 4.1 ünïcode' })).toBeNull();
  });

  it.each([
    [{ model: 'm'.repeat(MAX_MODEL_LENGTH + 1) }, 'model'],
    [{ model: '' }, 'model'],
    [{ model: null }, 'model'],
    [{ model: ['gpt-4o'] }, 'model'],
    [{ model: 'gpt-4o\u0000' }, 'model'],
    [{ model: 'gpt\u202e-4o' }, 'model'],
    [{ model: 'gpt-4o\u2028' }, 'model'],
    [{ model: 'gpt-4o\ud800' }, 'model'],
    [{ max_tokens: 2 ** 52, n: 4 }, 'max_tokens'],
    [{ max_tokens: 2 ** 53 }, 'max_tokens'],
    [{ max_tokens: -1 }, 'max_tokens'],
    [{ max_tokens: '100' }, 'max_tokens'],
    [{ max_completion_tokens: 1e300 }, 'max_completion_tokens'],
    [{ max_output_tokens: MAX_REQUESTED_OUTPUT_TOKENS + 1 }, 'max_output_tokens'],
    [{ max_tokens: 10, n: 0.5 }, 'n'],
    [{ max_tokens: 1_000_000, n: 1001 }, 'max_tokens'],
    [{ generationConfig: { maxOutputTokens: 1e9, candidateCount: 2 } }, 'generationConfig.maxOutputTokens'],
    [{ generationConfig: { candidateCount: -2 } }, 'generationConfig.candidateCount'],
  ])('refuses %j naming %s', (body, field) => {
    expect(check(body)).toMatchObject({ field });
  });

  it('bounds the model a Gemini path names, and reads a malformed escape in it without throwing', () => {
    const long = `/v1beta/models/${'g'.repeat(300)}:generateContent`;
    expect(check({}, 'gemini', long)).toMatchObject({ field: 'model' });
    const bad = '/v1beta/models/gemini%E0:generateContent';
    expect(inspectLlmRequest('gemini', bad, {}).model).toBe('gemini%E0');
  });
});
