// structureProblem finds a string's end with indexOf instead of a char-by-char loop: it must answer as that loop did
// for any text, valid JSON or not (escaped quotes, runs of backslashes, unterminated strings, duplicate keys).
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import {
  DICTIONARY_KEYS,
  MAX_JSON_KEYS,
  MAX_JSON_NUMBER_DIGITS,
  MAX_JSON_SHAPES,
  MAX_JSON_STRINGS,
  structureProblem,
} from '../../src/json-structure';

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
    // "x" and then one node per fresh one-key object: the bound, then past it. (The tree is keyed by a 30-bit hash: a
    // chance collision may merge two nodes, so the refusal is a hundred over.)
    const one = (n: number) => Array.from({ length: n }, (_, i) => [`k${i}`]);
    expect(structureProblem(objects(one(MAX_JSON_SHAPES - 1)))).toBeNull();
    expect(structureProblem(objects(one(MAX_JSON_SHAPES + 100)))).toEqual({ status: 413, detail: tooMany });
    // A nested object's sequence is one of the tree's like any other.
    const nested = `{"x":[${Array.from({ length: MAX_JSON_SHAPES / 2 + 100 }, (_, i) => `{"a${i}":{"b${i}":0}}`).join(',')}]}`;
    expect(structureProblem(nested)).toEqual({ status: 413, detail: tooMany });
  });

  it('counts a sequence again for every count of keys an object has (V8 starts each count from a root of its own)', () => {
    // The prefixes of one 127-key sequence, as objects of 1 to 127 keys: 127 * 128 / 2 hidden classes, not 127.
    const sequence = Array.from({ length: 127 }, (_, i) => `s${i}`);
    const prefixes = (first: string) => sequence.map((_, n) => [first, ...sequence.slice(1, n + 1)]);
    expect(structureProblem(objects(prefixes('a')))).toBeNull();
    // Four such runs with fresh first keys: 4 * 8,128 = 32,512; seven: 56,896.
    const runs = (count: number) => Array.from({ length: count }, (_, r) => prefixes(`first${r}`)).flat();
    expect(structureProblem(objects(runs(4)))).toBeNull();
    expect(structureProblem(objects(runs(7)))).toEqual({ status: 413, detail: tooMany });
  });

  it('counts a sequence once however many objects spell it, and the same keys in another order again', () => {
    const same = Array.from({ length: 30_000 }, () => ['a', 'b', 'c']);
    expect(structureProblem(objects(same))).toBeNull();
    // 17,000 orders of three keys after a fresh first one: 3 sequences each, 51,000 in all.
    const orders = Array.from({ length: 17_000 }, (_, i) => [`f${i}`, 'a', 'b']);
    expect(structureProblem(objects(orders))).toEqual({ status: 413, detail: tooMany });
    expect(structureProblem(objects(orders.slice(0, 16_000)))).toBeNull();
  });
});

describe('what builds no hidden class', () => {
  const objects = (keys: string[][]) =>
    `{"x":[${keys.map((ks) => `{${ks.map((k) => `"${k}":0`).join(',')}}`).join(',')}]}`;

  it('counts keys that are array indices as keys, not as sequences', () => {
    // 60,000 objects of one index key each: elements, no sequence.
    expect(structureProblem(objects(Array.from({ length: 60_000 }, (_, i) => [String(i)])))).toBeNull();
    // "01" and "4294967295" are no index: named keys.
    const named = Array.from({ length: 60_000 }, (_, i) => [`0${i}`]);
    expect(structureProblem(objects(named))?.status).toBe(413);
  });

  it(`refuses more than ${MAX_JSON_KEYS} keys in all, whatever they build`, () => {
    const tooManyKeys = `the body holds more than ${MAX_JSON_KEYS} keys`;
    // "x" is one. Two maps of the same 50,000 paths (dictionaries), one key short of them, then all of them.
    const paths = Array.from({ length: 50_000 }, (_, i) => `src/${i}.ts`);
    expect(structureProblem(objects([paths, paths.slice(1)]))).toBeNull();
    expect(structureProblem(objects([paths, paths]))).toEqual({ status: 413, detail: tooManyKeys });
    // Index keys, and the same keys over and over, count alike.
    const indices = Array.from({ length: 50_000 }, (_, i) => String(i * 7));
    expect(structureProblem(objects([indices, indices.slice(0, 49_999)]))).toBeNull();
    expect(structureProblem(objects([indices, indices]))).toEqual({ status: 413, detail: tooManyKeys });
    const same = Array.from({ length: 100 }, (_, i) => `f${i}`);
    expect(structureProblem(objects(Array.from({ length: 1001 }, () => same)))).toEqual({
      status: 413,
      detail: tooManyKeys,
    });
  });

  it(`counts a 127-key object nested in a ${DICTIONARY_KEYS}-key one (a dictionary) as a sequence`, () => {
    // The inner one builds the hidden classes the outer one did not (2,126 such pairs parsed in 0.3-0.4 s when they
    // were not counted).
    let k = 0;
    const pair = () => {
      const keys = Array.from({ length: 127 }, () => `p${k++}`);
      const inner = `{${keys.map((key) => `"${key}":0`).join(',')}}`;
      return `{${keys.map((key, i) => `"${key}":${i === 126 ? inner : 0}`).join(',')},"last${k}":0}`;
    };
    // 300 pairs (38,100 inner sequences) and 12,000 fresh one-key objects: 50,100 in all, under the key bound.
    const ones = Array.from({ length: 12_000 }, (_, i) => `{"q${i}":0}`);
    expect(structureProblem(`{"x":[${[...Array.from({ length: 300 }, pair), ...ones].join(',')}]}`)).toEqual({
      status: 413,
      detail: `the body's objects spell more than ${MAX_JSON_SHAPES} distinct key sequences`,
    });
  });

  it('V8 builds such an object as a dictionary, and an index key as an element (pins DICTIONARY_KEYS)', () => {
    const script = `
      const named = (n) => JSON.parse('{' + Array.from({ length: n }, (_, i) => '"k' + i + '":1').join(',') + '}');
      const indexed = JSON.parse('{"a":1,' + Array.from({ length: 200 }, (_, i) => '"' + i + '":1').join(',') + '}');
      process.stdout.write(JSON.stringify([%HasFastProperties(named(${DICTIONARY_KEYS - 1})), %HasFastProperties(named(${DICTIONARY_KEYS})), %HasFastProperties(indexed)]));`;
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '-e', script], {
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual([true, false, true]);
  });
});

describe('distinct interned strings', () => {
  it(`refuses more than ${MAX_JSON_STRINGS} distinct keys and short string values, and counts a repeated one once`, () => {
    const strings = (n: number, make: (i: number) => string) =>
      `{"x":[${Array.from({ length: n }, (_, i) => JSON.stringify(make(i))).join(',')}]}`;
    // "x" is one; 99,999 more short values reach the bound. (Counted by a 30-bit hash: a chance collision may let a
    // few more through, so the refusals here are a hundred over it.)
    const over = MAX_JSON_STRINGS + 100;
    expect(structureProblem(strings(MAX_JSON_STRINGS - 1, (i) => `s${i}`))).toBeNull();
    expect(structureProblem(strings(over, (i) => `s${i}`))).toEqual({
      status: 413,
      detail: `the body holds more than ${MAX_JSON_STRINGS} distinct keys and short strings`,
    });
    // Escapes do not hide a short string; values of 11 characters or more are not interned.
    expect(
      structureProblem(`{"x":[${Array.from({ length: over }, (_, i) => `"\\u0073${i}"`).join(',')}]}`)
        ?.status,
    ).toBe(413);
    expect(structureProblem(strings(MAX_JSON_STRINGS, (i) => `long-value-${i}`))).toBeNull();
    expect(structureProblem(strings(300_000, (i) => `s${i % 10}`))).toBeNull();
  });
});

describe('numbers', () => {
  const tooLong = {
    status: 413,
    detail: `the body holds a number of more than ${MAX_JSON_NUMBER_DIGITS} significant digits`,
  };

  it(`refuses a number of more than ${MAX_JSON_NUMBER_DIGITS} significant digits, which V8 parses as a big number`, () => {
    expect(structureProblem(`{"x":[1.5,${'9'.repeat(20)},-0.${'1'.repeat(20)}e-300]}`)).toBeNull();
    expect(structureProblem(`{"x":[1.5,${'9'.repeat(21)}]}`)).toEqual(tooLong);
    expect(structureProblem(`{"x":2.${'4'.repeat(50)}e-324}`)).toEqual(tooLong);
  });

  it('does not count leading zeros or the exponent, and reads no number inside a string', () => {
    expect(
      structureProblem(`{"x":[0.${'0'.repeat(40)}1,-1e-${'0'.repeat(30)}5,"${'9'.repeat(50)}"]}`),
    ).toBeNull();
    // Floats as JSON encoders print them: 17 digits at most.
    expect(
      structureProblem(JSON.stringify({ x: [0.1 + 0.2, -1 / 3, 2 ** 70, Number.MIN_VALUE, 1e21] })),
    ).toBeNull();
  });
});
