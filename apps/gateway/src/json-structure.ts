// What a JSON text would build if parsed (depth, containers, values, hidden classes) and its duplicate keys, found in
// one pass over the text before JSON.parse runs: a body that would cost far more than its size is refused unparsed.
/** Deepest JSON nesting accepted: real requests (tool schemas included) stay far below it. */
export const MAX_JSON_DEPTH = 128;
/**
 * Most arrays and objects, and most values, in one body: JSON.parse costs far more per container
 * than per byte (4 MiB of `[]` is ~0.5 s of blocked event loop and 100+ MB), so a body is bounded
 * by what it builds too. Real requests (long chats, tool schemas, token-array embeddings) stay well below.
 */
export const MAX_JSON_CONTAINERS = 100_000;
export const MAX_JSON_VALUES = 1_000_000;
/**
 * Most distinct key sequences (prefixes included) the body's objects spell, counted over the whole body as V8 builds
 * a hidden class per one, from a root of its own for each count of named keys (its map cache): JSON.parse costs by
 * those far more than by bytes. 4 MiB of objects with fresh or reordered key names spells 300k-500k of them and
 * parsed in 0.4-0.8 s (worse in a process that parsed such bodies before). 128 tools of twelve parameters spell
 * ~2,600; 2,000 records of 30 optional fields (Go's omitempty) ~22,000. Keys that are array indices build none, nor
 * do the keys of an object of DICTIONARY_KEYS named keys or more.
 */
export const MAX_JSON_SHAPES = 50_000;
/**
 * Most keys in all: whatever V8 does per key (a hidden class, a dictionary or elements insert, a map rebuilt when a
 * field's values change kind: 49k hidden classes built ten times over parsed in 0.3-0.4 s), it does at most this
 * often, and so does the scan. A Gemini functionResponse of 20,001 paths holds 20,001; 3,000 records of 30 optional
 * fields ~54,000.
 */
export const MAX_JSON_KEYS = 100_000;
/**
 * Most significant digits in a number: a double holds 17, and past 19 V8 parses the digits as a big number (51-digit
 * numbers near the smallest double, 4 MiB of them, parsed in 84-93 ms). Floats printed by JSON encoders have 17 at most.
 */
export const MAX_JSON_NUMBER_DIGITS = 20;
/** Longest key, in characters as written: a real one is a name or a path, and a longer one is only scan work. */
export const MAX_JSON_KEY_CHARS = 4096;
/**
 * Most distinct strings the parse would intern: every key, and string values of at most INTERNED_LENGTH characters.
 * Each costs a string-table entry: 800k distinct short strings (4 MiB) parsed in 0.2-0.3 s, 100,000 in ~30 ms.
 */
export const MAX_JSON_STRINGS = 100_000;
/** V8 (Node 20) builds an object of this many named keys or more as a dictionary, with no hidden class (the size
 * of its map cache, one root per count below it). */
export const DICTIONARY_KEYS = 128;
/** V8 interns a string value of at most this many characters (kMaxInternalizedStringValueLength). */
export const INTERNED_LENGTH = 10;

const NO_KEYS: ReadonlySet<string> = new Set();

/** A key as a case-insensitive decoder matches it (toLowerCase folds the Kelvin sign; ſ is folded by hand). */
function foldedKey(key: string): string {
  return key.toLowerCase().replace(/\u017f/g, 's');
}

/**
 * Where the JSON string opened by the quote at `open` ends: the next quote after an even run of backslashes, or
 * the text's end. (indexOf skips a prompt's text natively; a char-by-char loop was most of the read's time.)
 */
function stringEnd(text: string, open: number): number {
  let quote = open;
  for (;;) {
    quote = text.indexOf('"', quote + 1);
    if (quote === -1) return text.length;
    // The opening quote stops the run: it is no backslash.
    let before = quote - 1;
    while (text.charCodeAt(before) === 0x5c) before--;
    if ((quote - 1 - before) % 2 === 0) return quote;
  }
}

/**
 * Key sequences from the empty object: a key (by its hash, a small integer) leads to the node of the sequence with that
 * key added. Two keys of one hash after one sequence make one node: a few of 50,000 at most, by chance.
 */
type ShapeNode = Map<number, ShapeNode>;

/** An object being scanned. */
interface OpenObject {
  /** Its keys so far by hash (made on the first), and all of them as strings once two hashes met. */
  keys: Map<number, string> | null;
  exact: Set<string> | null;
  /** The hashes of its keys that are no array index, in order (up to DICTIONARY_KEYS): its sequence, walked when it
   * closes. */
  named: number[];
}

const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** The value of the hex digit `c` (a char code), or -1. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** The string a JSON string's raw text (between its quotes) stands for, or null when an escape is invalid. */
function unescaped(raw: string): string | null {
  let out = '';
  let from = 0;
  for (let at = raw.indexOf('\\'); at !== -1; at = raw.indexOf('\\', from)) {
    out += raw.slice(from, at);
    const e = raw[at + 1];
    if (e === 'u') {
      let code = 0;
      for (let k = at + 2; k < at + 6; k++) {
        const d = hexDigit(raw.charCodeAt(k));
        if (d < 0) return null;
        code = code * 16 + d;
      }
      out += String.fromCharCode(code);
      from = at + 6;
    } else {
      const c = e === undefined ? undefined : ESCAPES[e];
      if (c === undefined) return null;
      out += c;
      from = at + 2;
    }
  }
  return out + raw.slice(from);
}

/** True for a key JavaScript stores as an array index ("0" to "4294967294"): an element, no hidden class. */
function isIndex(key: string): boolean {
  const c = key.charCodeAt(0);
  if (key.length > 10 || !(c >= 0x30 && c <= 0x39) || (c === 0x30 && key.length > 1)) return false;
  for (let k = 1; k < key.length; k++) {
    const d = key.charCodeAt(k);
    if (d < 0x30 || d > 0x39) return false;
  }
  return Number(key) <= 4294967294;
}

/**
 * Depth, size in containers, values and key sequences, and duplicate keys of a JSON text, in one pass that skips strings. Duplicates matter: the
 * gateway's parser keeps the last `model`, another may keep the first, and it would meter one model
 * while the upstream runs the other; so do other spellings of a metered field (`exactKeys`). Returns a problem, or null. (Run before JSON.parse, so a deep
 * text costs no parse; on text that is not JSON its answer does not matter, the parse refuses it.)
 */
export function structureProblem(
  text: string,
  /** Top-level keys that must be spelt exactly so: a key folding to one of them (`"MODEL"`, `"ſtream"`) is refused. */
  exactKeys: ReadonlySet<string> = NO_KEYS,
): { status: 400 | 413; detail: string } | null {
  let containers = 0;
  let values = 0;
  let shapes = 0;
  let keys = 0;
  // Every key sequence the body's objects spell, as trees from a root per count of named keys: a node per hidden class.
  const roots: ShapeNode[] = [];
  const interned = new StringCount(MAX_JSON_STRINGS);
  // One entry per open container: null for an array.
  const open: Array<OpenObject | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const j = stringEnd(text, i);
      const isKey = expectKey && open.length > 0;
      // Escapes make a raw text up to six times its string's length.
      if (!isKey && j - i - 1 <= INTERNED_LENGTH && !escapes(text, i + 1, j)) {
        // A short value without escapes, the most common string: counted off the text, nothing made.
        if (interned.add(text, i + 1, j) === 0) return tooManyStrings();
      } else if (isKey || j - i - 1 <= 6 * INTERNED_LENGTH) {
        // (Only a key gets here this long.)
        if (j - i - 1 > MAX_JSON_KEY_CHARS)
          return { status: 413, detail: `the body holds a key longer than ${MAX_JSON_KEY_CHARS} characters` };
        const raw = text.slice(i + 1, j);
        const string = raw.includes('\\') ? unescaped(raw) : raw;
        if (string === null) return null;
        const hash = isKey || string.length <= INTERNED_LENGTH ? interned.add(string, 0, string.length) : 1;
        if (hash === 0) return tooManyStrings();
        if (isKey) {
          const object = open[open.length - 1]!;
          const problem = keyProblem(object, string, hash, open.length === 1 ? exactKeys : NO_KEYS);
          if (problem !== null) return problem;
          if (++keys > MAX_JSON_KEYS)
            return { status: 413, detail: `the body holds more than ${MAX_JSON_KEYS} keys` };
          // An index key is an element, in no sequence.
          if (!isIndex(string) && object.named.length < DICTIONARY_KEYS) object.named.push(hash);
          expectKey = false;
        }
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      open.push(c === 0x7b ? { keys: null, exact: null, named: [] } : null);
      if (open.length > MAX_JSON_DEPTH)
        return { status: 400, detail: `JSON nested deeper than ${MAX_JSON_DEPTH} levels` };
      if (++containers > MAX_JSON_CONTAINERS)
        return { status: 413, detail: `the body holds more than ${MAX_JSON_CONTAINERS} arrays and objects` };
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      const closed = open.pop();
      expectKey = false;
      if (closed && (shapes += shapesOf(closed.named, roots)) > MAX_JSON_SHAPES)
        return {
          status: 413,
          detail: `the body's objects spell more than ${MAX_JSON_SHAPES} distinct key sequences`,
        };
    } else if (c === 0x2c) {
      if (++values > MAX_JSON_VALUES)
        return { status: 413, detail: `the body holds more than ${MAX_JSON_VALUES} values` };
      expectKey = open.length > 0 && open[open.length - 1] !== null;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const end = numberEnd(text, i);
      if (end === -1)
        return {
          status: 413,
          detail: `the body holds a number of more than ${MAX_JSON_NUMBER_DIGITS} significant digits`,
        };
      i = end - 1;
    }
  }
  return null;
}

/**
 * Where the number starting at `from` ends (after its last sign, digit, point or exponent mark), or -1 when it has more
 * than MAX_JSON_NUMBER_DIGITS significant digits before its exponent (leading zeros are none), in one pass.
 */
function numberEnd(text: string, from: number): number {
  let digits = 0;
  let exponent = false;
  let k = from;
  for (; k < text.length; k++) {
    const d = text.charCodeAt(k);
    if (d === 0x65 || d === 0x45) exponent = true;
    else if (d >= 0x30 && d <= 0x39) {
      if (!exponent && (d !== 0x30 || digits > 0) && ++digits > MAX_JSON_NUMBER_DIGITS) return -1;
    } else if (d !== 0x2d && d !== 0x2b && d !== 0x2e) break;
  }
  return k;
}

/** True when `text[from, to)` holds a backslash. */
function escapes(text: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (text.charCodeAt(k) === 0x5c) return true;
  return false;
}

const tooManyStrings = () => ({
  status: 413 as const,
  detail: `the body holds more than ${MAX_JSON_STRINGS} distinct keys and short strings`,
});

/** A random start for the string hash: bodies cannot be made of strings that collide in every process. */
const HASH_SEED = (Math.random() * 0x7fffffff) | 0;

const FIRST_TABLE = new Int32Array(64);

/**
 * Distinct strings, up to `max`, counted by a 30-bit hash in an open-addressing table at most half full (a Set of
 * the strings themselves made each short value and took 40% of the scan). Two strings of one hash count once: a few
 * of 100,000 at most, by chance.
 */
class StringCount {
  private slots: Int32Array;
  private mask = 63;
  private count = 0;

  constructor(private readonly max: number) {
    // The first table is the same one every scan (scans never overlap: each runs to its end synchronously), zeroed:
    // a fresh typed array of this size has its memory outside the heap, dear to make and to collect per request.
    this.slots = FIRST_TABLE.fill(0);
  }

  /** Counts `text[from, to)`: its hash (a positive small integer), or 0 once there are more than `max` distinct. */
  add(text: string, from: number, to: number): number {
    let h = HASH_SEED ^ 0x811c9dc5;
    for (let k = from; k < to; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
    // 30 bits, so the shape tree's keys are small integers; 0 marks an empty slot.
    h = (h & 0x3fffffff) | 1;
    if (this.place(h)) {
      if (this.count >= this.max) return 0;
      this.count += 1;
      // At most half full, so a probe ends soon: four times the room (rehashed) when it would be more.
      if (2 * this.count > this.slots.length) this.grow();
    }
    return h;
  }

  /** Puts `h` in its slot; true when it was not there. */
  private place(h: number): boolean {
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const held = this.slots[slot]!;
      if (held === h) return false;
      if (held === 0) {
        this.slots[slot] = h;
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 4);
    this.mask = this.slots.length - 1;
    for (const h of old) if (h !== 0) this.place(h);
  }
}

/** A key twice in one object, or a metered field spelt otherwise (400); null when the key is fine. */
function keyProblem(
  object: OpenObject,
  key: string,
  hash: number,
  exactKeys: ReadonlySet<string>,
): { status: 400; detail: string } | null {
  // Looked up by the hash already made (a set of the sliced strings was most of the scan); by the strings
  // themselves only once two different keys of the object shared a hash.
  const keys = (object.keys ??= new Map());
  let twice: boolean;
  if (object.exact !== null) twice = object.exact.has(key);
  else {
    const held = keys.get(hash);
    twice = held === key;
    if (held !== undefined && !twice) object.exact = new Set(keys.values());
  }
  if (twice) return { status: 400, detail: `the key "${key.slice(0, 64)}" appears twice in one object` };
  if (exactKeys.size > 0) {
    const folded = foldedKey(key);
    if (folded !== key && exactKeys.has(folded))
      return { status: 400, detail: `the key "${key.slice(0, 64)}" must be spelt "${folded}"` };
  }
  if (object.exact !== null) object.exact.add(key);
  else keys.set(hash, key);
  return null;
}

/** New nodes (hidden classes) a closed object's sequence of key hashes adds, from the root for its length. */
function shapesOf(named: readonly number[], roots: ShapeNode[]): number {
  const n = named.length;
  // None for the empty object, nor for a dictionary.
  if (n === 0 || n >= DICTIONARY_KEYS) return 0;
  let node = (roots[n] ??= new Map());
  let added = 0;
  for (const hash of named) {
    let next = node.get(hash);
    if (next === undefined) {
      node.set(hash, (next = new Map()));
      added += 1;
    }
    node = next;
  }
  return added;
}
