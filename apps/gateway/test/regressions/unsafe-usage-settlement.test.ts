// Regression: reported counts each safe but summing past 2^53 were settled as they were; the store refused the
// records and the call counted nothing. Such a usage is now settled as an estimate.
import { inspectLlmRequest } from '@tollgate/llm';
import type { RequestContext } from '../../src/context';
import { usageOf } from '../../src/steps/6-settle-tokens';
import type { ResponseUsage } from '../../src/response-reader';

it('settles reported counts whose sum is no safe integer as an estimate', () => {
  const info = inspectLlmRequest('openai-chat', '/v1/chat/completions', {
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'z'.repeat(40) }],
  });
  const ctx = { llm: { info }, upstreamStatus: 200 } as unknown as RequestContext;
  const half = 2 ** 52;
  const read: ResponseUsage = {
    reported: {
      provider: 'openai',
      model: 'gpt-4o',
      inputTokens: half,
      cacheReadTokens: half,
      cacheWriteTokens: 0,
      outputTokens: 8,
    },
    complete: true,
    outputChars: 8,
    model: 'gpt-4o',
    provider: 'openai',
  };
  expect(usageOf(ctx, read)).toMatchObject({
    inputTokens: 10,
    cacheReadTokens: 0,
    outputTokens: 2,
    inputEstimated: true,
    outputEstimated: true,
  });
});
