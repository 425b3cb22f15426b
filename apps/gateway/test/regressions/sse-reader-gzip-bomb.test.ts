// Regression: one gzip-compressed SSE line of ~600 MB (600 KB on the wire) threw `RangeError: Invalid string
// length` out of the reader's SSE parser, uncaught, ending the gateway; now the line is skipped at the event cap.
import { gzipSync } from 'node:zlib';
import { ResponseReader } from '../../src/response-reader';

const MiB = 1024 * 1024;

it('reads past a ~600 MB compressed line without throwing, holding at most its caps', async () => {
  const filler = gzipSync(Buffer.alloc(MiB, 'a'));
  const wire = Buffer.concat([
    gzipSync(Buffer.from('data: ')),
    ...Array.from({ length: 600 }, () => filler),
    // The line's end made the old parser join it into one string: past V8's longest.
    gzipSync(Buffer.from('\n\ndata: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n\n')),
  ]);
  expect(wire.length).toBeLessThan(MiB);
  const limits: string[] = [];
  const reader = new ResponseReader({
    contentType: 'text/event-stream',
    contentEncoding: 'gzip',
    maxJsonBytes: 4 * MiB,
    // The default (256 MiB) is below V8's longest string too; past it the rest is not inflated.
    maxStreamBytes: 1024 * MiB,
    onLimit: (reason) => limits.push(reason),
  });
  for (let i = 0; i < wire.length; i += 16 * 1024) reader.write(wire.subarray(i, i + 16 * 1024));
  reader.end();
  const usage = await reader.result;
  // The line was skipped at the event cap; parsing resynchronised at its blank line and read the usage after it.
  expect(usage).toMatchObject({
    complete: true,
    reported: { inputTokens: 7, outputTokens: 3 },
  });
  expect(limits).toHaveLength(1);
});
