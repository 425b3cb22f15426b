// packCalls writes msgpack that any decoder reads back as the same strings: checked here against a decoder of
// the msgpack spec's array and str types (the only types it writes), over any strings and sizes, header sizes at
// their bounds included. many.lua reading it with Redis's cmsgpack is in integration/apply-many.test.ts.
import fc from 'fast-check';
import { packCalls } from '@tollgate/redis/internal';

/** Decodes arrays and strs only; throws on any other byte and on trailing bytes. */
function decode(bytes: Buffer): unknown {
  let at = 0;
  const length = (n: number): number => {
    const v = n === 1 ? bytes.readUInt8(at) : n === 2 ? bytes.readUInt16BE(at) : bytes.readUInt32BE(at);
    at += n;
    return v;
  };
  const value = (): unknown => {
    const t = bytes[at++]!;
    let count: number;
    if (t >= 0x90 && t <= 0x9f) count = t & 0x0f;
    else if (t === 0xdc) count = length(2);
    else if (t === 0xdd) count = length(4);
    else {
      let size: number;
      if (t >= 0xa0 && t <= 0xbf) size = t & 0x1f;
      else if (t === 0xd9) size = length(1);
      else if (t === 0xda) size = length(2);
      else if (t === 0xdb) size = length(4);
      else throw new Error(`unexpected type byte 0x${t.toString(16)} at ${at - 1}`);
      const s = bytes.subarray(at, at + size);
      if (s.length !== size) throw new Error('truncated str');
      at += size;
      return s.toString('utf8');
    }
    const out: unknown[] = [];
    for (let i = 0; i < count; i++) out.push(value());
    return out;
  };
  const v = value();
  if (at !== bytes.length) throw new Error(`${bytes.length - at} trailing bytes`);
  return v;
}

/** What Redis must see: each call's keys and arguments, each string as its UTF-8 bytes (lone surrogates as U+FFFD). */
const expected = (calls: string[][], keys: number): unknown =>
  calls.map((c) =>
    [c.slice(0, keys), c.slice(keys)].map((l) => l.map((s) => Buffer.from(s, 'utf8').toString('utf8'))),
  );

describe('packCalls', () => {
  it('round-trips any strings, ASCII or not', () => {
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\ud800', '\x7f', '\x80'), maxLength: 300 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(value, { minLength: 2, maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        (calls) => {
          expect(decode(packCalls(calls, 2))).toEqual(expected(calls, 2));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('sizes each header at its bounds (fixstr/str8/str16/str32, fixarray/array16/array32)', () => {
    for (const size of [0, 31, 32, 255, 256, 65535, 65536, 70000]) {
      for (const unit of ['x', 'é']) {
        const s = unit.repeat(unit === 'x' ? size : Math.ceil(size / 2));
        const calls = [['key', s, s + 'x']];
        expect(decode(packCalls(calls, 1))).toEqual(expected(calls, 1));
      }
    }
    for (const count of [15, 16, 65535, 65536]) {
      const calls = [['key', ...Array.from({ length: count }, (_, i) => String(i))]];
      expect(decode(packCalls(calls, 1))).toEqual(expected(calls, 1));
    }
    const many = Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']);
    expect(decode(packCalls(many, 1))).toEqual(expected(many, 1));
  });

  it('gives each call its own bytes (the scratch buffer it writes into is reused)', () => {
    const first = packCalls([['a', 'b']], 1);
    const copy = Buffer.from(first);
    packCalls([['c', 'd'.repeat(100_000)]], 1);
    expect(first).toEqual(copy);
  });

  it('packs a call too large for the reused buffer into one of its own, byte for byte', () => {
    const calls = Array.from({ length: 40 }, (_, i) => [`k${i}`, 'é'.repeat(20_000), 'x'.repeat(30_000)]);
    expect(decode(packCalls(calls, 1))).toEqual(expected(calls, 1));
    // The reused buffer is still there, and still right, after it.
    expect(decode(packCalls([['a', 'b']], 1))).toEqual([[['a'], ['b']]]);
  });

  it('refuses a value that is not a string before writing anything (a JavaScript caller past the types)', () => {
    expect(() =>
      packCalls(
        [
          ['k', 'ok'],
          ['k', 7 as unknown as string],
        ],
        1,
      ),
    ).toThrow(TypeError);
  });

  it('refuses a call with fewer values than its keys', () => {
    expect(() => packCalls([['only-one']], 2)).toThrow(RangeError);
  });
});
