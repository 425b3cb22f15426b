import { inspectLlmRequest, llmApiStyle } from '@tollgate/llm';

describe('llmApiStyle', () => {
  it.each([
    ['/api/v1/chat/completions', 'openai-chat'],
    ['/api/v1/chat/completions/', 'openai-chat'],
    ['/API/V1/CHAT/COMPLETIONS', 'openai-chat'],
    ['/api/v1/Chat/Completions', 'openai-chat'],
    ['/api/v1/chat/completions?stream=1', 'openai-chat'],
    ['/api/v1/chat/completions#frag', 'openai-chat'],
    ['/api\\v1\\chat\\completions', 'openai-chat'],
    ['/api/v1/chat/%63ompletions', 'openai-chat'],
    ['/api/v1/chat//completions', 'openai-chat'],
    ['/api/v1/chat/x/../completions', 'openai-chat'],
    ['/api/v1/chat%2Fcompletions', 'openai-chat'],
    ['/api/v1/chat/completions;jsessionid=1', 'openai-chat'],
    ['/v1/COMPLETIONS/', 'openai-chat'],
    ['/v1/Responses/', 'openai-responses'],
    ['/v1/EMBEDDINGS', 'openai-embeddings'],
    ['/v1/Messages/', 'anthropic'],
    ['/v1beta/models/gemini-2.0-flash:generateContent', 'gemini'],
    ['/v1beta/models/gemini-2.0-flash:GENERATECONTENT/', 'gemini'],
    ['/v1beta/models/gemini-2.0-flash%3AstreamGenerateContent', 'gemini'],
  ])('reads %j as %s', (path, style) => {
    expect(llmApiStyle(path)).toBe(style);
  });

  it.each([
    '/api/hello',
    '/api/v1/chat/completionsx',
    '/api/v1/chat/completions/x',
    '/v1/models/m:countTokens',
  ])('finds no LLM route in %j', (path) => {
    expect(llmApiStyle(path)).toBeNull();
  });
});

describe('inspectLlmRequest on a Gemini path', () => {
  it('takes the model and the streaming flag from the path, in any spelling', () => {
    const read = (path: string) => {
      const info = inspectLlmRequest('gemini', path, { contents: [] });
      return [info.model, info.stream];
    };
    expect(read('/v1beta/models/gemini-2.0-flash:generateContent')).toEqual(['gemini-2.0-flash', false]);
    expect(read('/v1beta/models/gemini-2.0-flash:streamGenerateContent/')).toEqual([
      'gemini-2.0-flash',
      true,
    ]);
    expect(read('/v1beta/models/gemini-2.0-flash:STREAMGENERATECONTENT')).toEqual(['gemini-2.0-flash', true]);
    expect(read('/v1beta/models/%67emini-pro%3AgenerateContent;x=1?alt=sse')).toEqual(['gemini-pro', false]);
    expect(read('/v1beta/models/tuned%20model:generateContent')).toEqual(['tuned model', false]);
  });
});
