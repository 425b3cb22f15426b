import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createParser } from 'eventsource-parser';
import {
  StreamUsageReader,
  estimateTokens,
  finalUsage,
  inspectLlmRequest,
  llmApiStyle,
  reservationEstimate,
  tokenUsageRecords,
  usageFromJson,
  withIncludeUsage,
  type SseEvent,
} from '../../src';
import { isUsageOnlyChunk } from '../../src/internal';

const fixture = (name: string) => readFileSync(path.join(__dirname, '../fixtures/extract', name), 'utf8');

/** Feeds SSE text to a reader in chunks of `size` bytes, like a network stream would. */
function readStream(text: string, size = 7): StreamUsageReader {
  const reader = new StreamUsageReader();
  const parser = createParser({ onEvent: (e) => reader.push(e as SseEvent) });
  for (let i = 0; i < text.length; i += size) parser.feed(text.slice(i, i + size));
  return reader;
}

describe('usageFromJson', () => {
  it('reads OpenAI usage with cached prompt tokens split out of input', () => {
    expect(usageFromJson(JSON.parse(fixture('openai-chat.json')))).toEqual({
      provider: 'openai',
      model: 'gpt-4o-2024-08-06',
      inputTokens: 364,
      cacheReadTokens: 1536,
      cacheWriteTokens: 0,
      outputTokens: 10,
    });
  });

  it('reads Anthropic usage with cache reads and cache writes', () => {
    expect(usageFromJson(JSON.parse(fixture('anthropic-message.json')))).toEqual({
      provider: 'anthropic',
      model: 'claude-sonnet-4-20250514',
      inputTokens: 21,
      cacheReadTokens: 1024,
      cacheWriteTokens: 188,
      outputTokens: 393,
    });
  });

  it('reads Gemini usageMetadata: cached content out of input, thoughts counted as output', () => {
    expect(usageFromJson(JSON.parse(fixture('gemini.json')))).toEqual({
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      inputTokens: 20,
      cacheReadTokens: 100,
      cacheWriteTokens: 0,
      outputTokens: 50,
    });
  });

  it('reads the OpenAI Responses API usage', () => {
    const body = {
      object: 'response',
      model: 'gpt-4o-mini-2024-07-18',
      usage: { input_tokens: 100, input_tokens_details: { cached_tokens: 40 }, output_tokens: 7 },
    };
    expect(usageFromJson(body)).toMatchObject({ inputTokens: 60, cacheReadTokens: 40, outputTokens: 7 });
  });

  it('returns null for bodies without usage and ignores non-integer counts', () => {
    expect(usageFromJson({ error: { message: 'bad' } })).toBeNull();
    expect(usageFromJson('text')).toBeNull();
    expect(usageFromJson({ usage: { prompt_tokens: -3 } })).toBeNull();
    // A count present but not an integer is not reported (the output is then estimated), not 0.
    expect(usageFromJson({ usage: { prompt_tokens: 5, completion_tokens: 1.5 } })).toMatchObject({
      inputTokens: 5,
      outputTokens: null,
    });
    expect(usageFromJson({ usage: { prompt_tokens: 5 } })).toMatchObject({ inputTokens: 5, outputTokens: 0 });
  });

  it.each([1e300, -5, '12', 2 ** 60, 1.5, Number.MAX_SAFE_INTEGER, 100_000_001, {}])(
    'reads the absurd count %p as not reported, in every format',
    (bad) => {
      expect(usageFromJson({ usage: { prompt_tokens: bad, completion_tokens: 1 } })).toBeNull();
      expect(usageFromJson({ usage: { prompt_tokens: 1, completion_tokens: bad } })?.outputTokens).toBeNull();
      expect(
        usageFromJson({ type: 'message', usage: { input_tokens: bad, output_tokens: bad } }),
      ).toMatchObject({
        inputTokens: null,
        outputTokens: null,
      });
      expect(
        usageFromJson({ usageMetadata: { promptTokenCount: 3, candidatesTokenCount: bad } }),
      ).toMatchObject({ inputTokens: 3, outputTokens: null });
      expect(
        usageFromJson({ usageMetadata: { promptTokenCount: bad, candidatesTokenCount: 2 } }),
      ).toMatchObject({ inputTokens: null, outputTokens: 2 });
    },
  );

  it('takes a response model only when it is a plausible name (1..256 characters, no control characters)', () => {
    const at = (model: unknown) => usageFromJson({ model, usage: { prompt_tokens: 1 } })?.model;
    expect(at('m'.repeat(256))).toBe('m'.repeat(256));
    expect(at('m'.repeat(257))).toBeNull();
    expect(at('gpt-4o\u0000')).toBeNull();
    expect(at('gpt\r\n4o')).toBeNull();
    expect(at(42)).toBeNull();
  });

  it('clamps cached tokens larger than the prompt to zero uncached input', () => {
    expect(
      usageFromJson({ usage: { prompt_tokens: 5, prompt_tokens_details: { cached_tokens: 9 } } }),
    ).toMatchObject({ inputTokens: 0, cacheReadTokens: 9 });
  });
});

describe('StreamUsageReader', () => {
  it('reads the OpenAI usage chunk and the streamed text, whatever the chunk boundaries', () => {
    for (const size of [1, 3, 7, 64, 10_000]) {
      const r = readStream(fixture('openai-chat.sse'), size);
      expect(r.complete).toBe(true);
      expect(r.reported).toEqual({
        provider: 'openai',
        model: 'gpt-4o-2024-08-06',
        inputTokens: 30,
        cacheReadTokens: 20,
        cacheWriteTokens: 0,
        outputTokens: 2,
      });
      expect(r.outputChars).toBe('Hello world'.length);
    }
  });

  it('replaces Anthropic message_start fields with the cumulative message_delta ones (never adds)', () => {
    const r = readStream(fixture('anthropic.sse'));
    expect(r.complete).toBe(true);
    expect(r.reported).toEqual({
      provider: 'anthropic',
      model: 'claude-sonnet-4-20250514',
      inputTokens: 25,
      cacheReadTokens: 5,
      cacheWriteTokens: 10,
      outputTokens: 15,
    });
  });

  it('keeps message_start fields that a message_delta does not repeat', () => {
    const text = fixture('anthropic.sse').replace(
      /"usage":\{"input_tokens":25,"cache_creation_input_tokens":10,"cache_read_input_tokens":5,"output_tokens":15\}/,
      '"usage":{"output_tokens":15}',
    );
    expect(readStream(text).reported).toMatchObject({
      inputTokens: 25,
      cacheReadTokens: 5,
      cacheWriteTokens: 10,
      outputTokens: 15,
    });
  });

  it('takes an absurd message_delta count as not reported, not as the stale message_start value', () => {
    const text = fixture('anthropic.sse').replace(
      /"usage":\{"input_tokens":25,"cache_creation_input_tokens":10,"cache_read_input_tokens":5,"output_tokens":15\}/,
      '"usage":{"output_tokens":1e300,"input_tokens":null}',
    );
    expect(readStream(text).reported).toMatchObject({ inputTokens: 25, outputTokens: null });
  });

  it('takes the last cumulative Gemini usageMetadata', () => {
    const r = readStream(fixture('gemini.sse'));
    expect(r.reported).toMatchObject({
      provider: 'gemini',
      model: 'gemini-2.0-flash',
      inputTokens: 8,
      outputTokens: 5,
    });
  });

  it('reads response.completed of an OpenAI Responses stream', () => {
    const text =
      'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi there"}\n\n' +
      'event: response.completed\ndata: {"type":"response.completed","response":{"model":"gpt-4o","usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":0},"output_tokens":3}}}\n\n';
    const r = readStream(text);
    expect(r.reported).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o',
      inputTokens: 12,
      outputTokens: 3,
    });
    expect(r.outputChars).toBe(8);
  });

  it('ignores comments, pings, [DONE] and non-JSON data', () => {
    const r = readStream(': keep-alive\n\ndata: not json\n\ndata: [DONE]\n\n');
    expect(r.reported).toBeNull();
    expect(r.skipped).toBe(1);
  });
});

describe('finalUsage', () => {
  it('uses reported numbers as they are', () => {
    const reported = usageFromJson(JSON.parse(fixture('anthropic-message.json')));
    const u = finalUsage({
      reported,
      complete: true,
      promptChars: 9999,
      outputChars: 9999,
      provider: 'anthropic',
      model: null,
    });
    expect(u).toMatchObject({
      inputTokens: 21,
      outputTokens: 393,
      inputEstimated: false,
      outputEstimated: false,
    });
  });

  it('estimates characters / 4 (rounded up) when nothing was reported', () => {
    const u = finalUsage({
      reported: null,
      complete: false,
      promptChars: 9,
      outputChars: 4,
      provider: 'openai',
      model: 'gpt-4o',
    });
    expect(u).toEqual({
      provider: 'openai',
      model: 'gpt-4o',
      inputTokens: 3,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 1,
      inputEstimated: true,
      outputEstimated: true,
    });
  });

  it('counts what streamed before an abort: reported input, estimated output', () => {
    const cut = fixture('anthropic.sse').split('event: message_delta')[0]!;
    const r = readStream(
      cut +
        'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"' +
        'x'.repeat(40) +
        '"}}\n\n',
    );
    expect(r.complete).toBe(false);
    const u = finalUsage({
      reported: r.reported,
      complete: r.complete,
      promptChars: 0,
      outputChars: r.outputChars,
      provider: 'anthropic',
      model: null,
    });
    expect(u).toMatchObject({
      inputTokens: 25,
      inputEstimated: false,
      outputTokens: 12,
      outputEstimated: true,
    });
  });

  it('turns usage into records flagged per side', () => {
    const u = finalUsage({
      reported: {
        provider: 'anthropic',
        model: 'claude-sonnet-4',
        inputTokens: 10,
        cacheReadTokens: 0,
        cacheWriteTokens: 2,
        outputTokens: null,
      },
      complete: false,
      promptChars: 0,
      outputChars: 8,
      provider: 'anthropic',
      model: null,
    });
    expect(tokenUsageRecords(u)).toEqual([
      { meter: 'input_tokens', amount: 10, model: 'claude-sonnet-4', provider: 'anthropic' },
      { meter: 'cache_write_tokens', amount: 2, model: 'claude-sonnet-4', provider: 'anthropic' },
      { meter: 'output_tokens', amount: 2, model: 'claude-sonnet-4', provider: 'anthropic', estimated: true },
    ]);
  });
});

describe('LLM requests', () => {
  it('recognises the API style from the path', () => {
    expect(llmApiStyle('/api/v1/chat/completions')).toBe('openai-chat');
    expect(llmApiStyle('/v1/messages')).toBe('anthropic');
    expect(llmApiStyle('/v1beta/models/gemini-2.0-flash:streamGenerateContent')).toBe('gemini');
    expect(llmApiStyle('/api/hello')).toBeNull();
  });

  it('measures the prompt text and the output cap, not image data', () => {
    const info = inspectLlmRequest('openai-chat', '/v1/chat/completions', {
      model: 'gpt-4o',
      max_tokens: 100,
      n: 2,
      messages: [
        { role: 'system', content: 'abcd' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'efgh' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
      ],
    });
    expect(info).toMatchObject({ model: 'gpt-4o', promptChars: 8, maxTokens: 200, stream: false });
    expect(reservationEstimate(info, 1024)).toEqual({ inputTokens: 2, outputTokens: 200 });
  });

  it('reads Anthropic system prompts and Gemini paths', () => {
    expect(
      inspectLlmRequest('anthropic', '/v1/messages', {
        model: 'claude',
        system: 'xx',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'yy' }],
      }),
    ).toMatchObject({ promptChars: 4, maxTokens: 5, provider: 'anthropic' });
    expect(
      inspectLlmRequest('gemini', '/v1beta/models/gemini-2.0-flash:streamGenerateContent', {
        contents: [{ parts: [{ text: 'hello' }] }],
        generationConfig: { maxOutputTokens: 64 },
      }),
    ).toMatchObject({ model: 'gemini-2.0-flash', promptChars: 5, maxTokens: 64, stream: true });
  });

  it('adds include_usage to an OpenAI stream that did not ask, and leaves one that did', () => {
    const asked = { model: 'm', stream: true, stream_options: { include_usage: true }, messages: [] };
    const notAsked = { model: 'm', stream: true, messages: [] };
    const a = inspectLlmRequest('openai-chat', '/v1/chat/completions', asked);
    const b = inspectLlmRequest('openai-chat', '/v1/chat/completions', notAsked);
    expect(a.clientIncludesUsage).toBe(true);
    expect(withIncludeUsage(asked, a)).toBeNull();
    expect(b.clientIncludesUsage).toBe(false);
    expect(withIncludeUsage(notAsked, b)).toEqual({ ...notAsked, stream_options: { include_usage: true } });
    const json = inspectLlmRequest('openai-chat', '/v1/chat/completions', { model: 'm', messages: [] });
    expect(withIncludeUsage({}, json)).toBeNull();
  });

  it('recognises the extra usage-only chunk', () => {
    expect(isUsageOnlyChunk({ choices: [], usage: { prompt_tokens: 1 } })).toBe(true);
    expect(isUsageOnlyChunk({ choices: [{}], usage: null })).toBe(false);
  });

  it('estimates tokens as characters / 4 rounded up', () => {
    expect([0, 1, 4, 5, 8].map(estimateTokens)).toEqual([0, 1, 1, 2, 2]);
  });
});
