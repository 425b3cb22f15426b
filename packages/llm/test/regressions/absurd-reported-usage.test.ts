// Regression: an absurd count beside a sane one was read as 0 tokens reported (a 1e300 completion_tokens settled
// as 0 output, not estimated), and a 200,000-character response model was priced and stored in the ledger.
import { StreamUsageReader, usageFromJson } from '../../src';

it('leaves an absurd output count unreported, so it is estimated', () => {
  expect(usageFromJson({ usage: { prompt_tokens: 5, completion_tokens: 1e300 } })?.outputTokens).toBeNull();
  expect(
    usageFromJson({ object: 'response', usage: { input_tokens: 5, output_tokens: -5 } })?.outputTokens,
  ).toBeNull();
  expect(usageFromJson({ usage: { prompt_tokens: 5, completion_tokens: 2 ** 60 } })?.outputTokens).toBeNull();
});

it('names no model from a response model name over 256 characters or with control characters', () => {
  expect(usageFromJson({ model: 'm'.repeat(200_000), usage: { prompt_tokens: 1 } })?.model).toBeNull();
  const reader = new StreamUsageReader();
  reader.push({
    data: JSON.stringify({ model: 'gpt-4o\u001b[31m', choices: [{ delta: { content: 'x' } }] }),
  });
  expect(reader.streamModel).toBeNull();
});
