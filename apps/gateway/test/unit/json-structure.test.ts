// structureProblem finds a string's end with indexOf instead of a char-by-char loop: it must answer as that loop did
// for any text, valid JSON or not (escaped quotes, runs of backslashes, unterminated strings, duplicate keys).
import fc from 'fast-check';
import { MAX_JSON_SHAPES, structureProblem } from '../../src/json-structure';

/** The char-by-char scan it replaced: a backslash skips the character after it. */
function referenceStringEnd(text: string, open: number): { end: number; escaped: boolean } {
  let j = open + 1;
  let escaped = false;
  for (; j < text.length; j++) {
    const d = text.charCodeAt(j);
    if (d === 0x5c) {
      escaped = true;
      j++;
    } else if (d === 0x22) break;
  }
  return { end: Math.min(j, text.length), escaped };
}

/** The keys structureProblem sees in `text`, by the reference scan: the same set of duplicate findings. */
function referenceProblem(text: string): string | null {
  const open: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const { end, escaped } = referenceStringEnd(text, i);
      if (expectKey && open.length > 0) {
        let key = text.slice(i + 1, end);
        if (escaped) {
          try {
            key = JSON.parse(`"${key}"`) as string;
          } catch {
            return null;
          }
        }
        const seen = open[open.length - 1]!;
        if (seen.has(key)) return `the key "${key.slice(0, 64)}" appears twice in one object`;
        seen.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      open.push(c === 0x7b ? new Set() : null);
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = open.length > 0 && open[open.length - 1] !== null;
    }
  }
  return null;
}

// Texts built from the characters that matter to the scan, so quotes, backslash runs and braces meet often.
const piece = fc.constantFrom(
  '"',
  '\\',
  '\\\\',
  '\\"',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  'a',
  'b',
  'é',
  '\\u0061',
);
const text = fc.array(piece, { maxLength: 40 }).map((xs) => xs.join(''));

it('finds the same duplicate keys as the char-by-char scan, on any text of quotes, backslashes and braces', () => {
  fc.assert(
    fc.property(text, (t) => {
      // Only object keys at the top level are checked for their spelling; these keys are never metered fields.
      expect(structureProblem(t)?.detail ?? null).toBe(referenceProblem(t));
    }),
    { numRuns: 20_000 },
  );
});

it('reads keys after strings that end in escaped quotes and runs of backslashes', () => {
  expect(structureProblem('{"a":"x\\\\","a":1}')?.detail).toBe('the key "a" appears twice in one object');
  expect(structureProblem('{"a":"x\\"","a":1}')?.detail).toBe('the key "a" appears twice in one object');
  expect(structureProblem('{"a":"x\\\\\\"y","a":1}')?.detail).toBe('the key "a" appears twice in one object');
  expect(structureProblem('{"a":"x\\",\\"a\\":1}')).toBeNull();
  expect(structureProblem('{"\\u0061":1,"a":2}')?.detail).toBe('the key "a" appears twice in one object');
  expect(structureProblem('{"a":"unterminated')).toBeNull();
});

describe('distinct key sequences, counted as V8 builds hidden classes', () => {
  const objects = (keys: string[][]) =>
    `{"x":[${keys.map((ks) => `{${ks.map((k) => `"${k}":0`).join(',')}}`).join(',')}]}`;
  const tooMany = `the body's objects spell more than ${MAX_JSON_SHAPES} distinct key sequences`;

  it('counts every prefix once over the whole body, nested objects included', () => {
    // "x" and then one node per fresh one-key object: exactly the bound, then one past it.
    const one = (n: number) => Array.from({ length: n }, (_, i) => [`k${i}`]);
    expect(structureProblem(objects(one(MAX_JSON_SHAPES - 1)))).toBeNull();
    expect(structureProblem(objects(one(MAX_JSON_SHAPES)))).toEqual({ status: 413, detail: tooMany });
  });

  it('counts a sequence once however many objects spell it, and the same keys in another order again', () => {
    const same = Array.from({ length: 30_000 }, () => ['a', 'b', 'c']);
    expect(structureProblem(objects(same))).toBeNull();
    // 7,000 orders of three keys after a fresh first one: 3 sequences each, 21,000 in all.
    const orders = Array.from({ length: 7000 }, (_, i) => [`f${i}`, 'a', 'b']);
    expect(structureProblem(objects(orders))).toEqual({ status: 413, detail: tooMany });
    expect(structureProblem(objects(orders.slice(0, 6000)))).toBeNull();
  });
});
