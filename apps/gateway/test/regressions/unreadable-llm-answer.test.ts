// Regression: a 2xx LLM answer whose usage could not be read (invalid or cut JSON, an encoding the reader cannot
// decode, a JSON body over the read cap) was taken for no LLM answer: the reservation was released, nothing counted.
import { ResponseReader } from '../../src/response-reader';

async function read(body: Buffer, contentEncoding: string | undefined, maxJsonBytes = 1 << 20) {
  const reader = new ResponseReader({ contentType: 'application/json', contentEncoding, maxJsonBytes });
  reader.write(body);
  reader.end();
  return reader.result;
}

it.each([
  ['invalid JSON', Buffer.from('{"choices":[{"message":{"content":"abcd'), undefined, 1 << 20],
  ['an undecodable encoding', Buffer.from('(zstd bytes)'), 'zstd', 1 << 20],
  [
    'a body over the cap',
    Buffer.from(`{"choices":[{"message":{"content":"${'a'.repeat(500)}"}}]}`),
    undefined,
    100,
  ],
])('settles %s as an estimate from what it saw', async (_name, body, encoding, cap) => {
  const u = await read(body, encoding, cap);
  expect(u).toMatchObject({ reported: null, complete: false });
  expect(u.outputChars).toBeGreaterThan(0);
});
