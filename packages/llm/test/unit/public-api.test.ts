// `@tollgate/llm`'s entry points, name by name: a name added or removed is an API change, reviewed here.
import * as llm from '@tollgate/llm';
import * as internal from '@tollgate/llm/internal';
import { typeOnlyExports } from '../../../../test-support/public-api';

describe('@tollgate/llm', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(llm).sort()).toEqual([
      'BoundedSseParser',
      'SseUsageFilter',
      'StreamUsageReader',
      'estimateTokens',
      'finalUsage',
      'inspectLlmRequest',
      'llmApiStyle',
      'modelFromJson',
      'outputCharsFromJson',
      'reservationEstimate',
      'tokenUsageRecords',
      'usageFromJson',
      'withIncludeUsage',
    ]);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/llm/src/index.ts')).toEqual([
      'Json',
      'LlmApiStyle',
      'LlmProvider',
      'LlmRequestInfo',
      'ParsedEvent',
      'ReportedUsage',
      'SseEvent',
      'SseParserOptions',
      'SseUsageFilterOptions',
      'TokenUsage',
      'UsageFacts',
    ]);
  });
});

describe('@tollgate/llm/internal (unstable)', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(internal).sort()).toEqual([
      'MAX_ANSWER_CONTAINERS',
      'MAX_MODEL_LENGTH',
      'MAX_REQUESTED_OUTPUT_TOKENS',
      'SseUsageRewriter',
      'exceedsContainers',
      'isUsageOnlyChunk',
      'requestFieldProblem',
      'totalTokens',
    ]);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/llm/src/internal.ts')).toEqual(['RequestFieldProblem']);
  });
});
