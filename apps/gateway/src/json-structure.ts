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
 * a hidden class per one: JSON.parse costs by those far more than by bytes. 4 MiB of objects with fresh or reordered
 * key names spells 300k-500k of them and parsed in 0.4-0.8 s (worse in a process that parsed such bodies before);
 * at 20,000 it parses in about twice an ordinary 4 MiB chat's time. 128 tools with ten parameters each spell ~1,500.
 */
export const MAX_JSON_SHAPES = 20_000;

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

/** Key sequences from the empty object: a key leads to the node of the sequence with that key added. */
type ShapeNode = Map<string, ShapeNode>;

/** An object being scanned: the keys it has so far (made on the first) and the node of their sequence. */
interface OpenObject {
  keys: Set<string> | null;
  shape: ShapeNode;
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
  // Every key sequence an object of the body spells, as a tree from the empty object: one node per hidden class.
  const empty: ShapeNode = new Map();
  // One entry per open container: null for an array, for an object its keys so far (made on the first) and shape.
  const open: Array<OpenObject | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const j = stringEnd(text, i);
      if (expectKey && open.length > 0) {
        const raw = text.slice(i + 1, j);
        let key = raw;
        if (raw.includes('\\')) {
          try {
            key = JSON.parse(`"${raw}"`) as string;
          } catch {
            return null;
          }
        }
        const object = open[open.length - 1]!;
        const seen = (object.keys ??= new Set());
        if (seen.has(key))
          return { status: 400, detail: `the key "${key.slice(0, 64)}" appears twice in one object` };
        if (open.length === 1) {
          const folded = foldedKey(key);
          if (folded !== key && exactKeys.has(folded))
            return { status: 400, detail: `the key "${key.slice(0, 64)}" must be spelt "${folded}"` };
        }
        seen.add(key);
        let next = object.shape.get(key);
        if (next === undefined) {
          if (++shapes > MAX_JSON_SHAPES)
            return {
              status: 413,
              detail: `the body's objects spell more than ${MAX_JSON_SHAPES} distinct key sequences`,
            };
          object.shape.set(key, (next = new Map()));
        }
        object.shape = next;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      open.push(c === 0x7b ? { keys: null, shape: empty } : null);
      if (open.length > MAX_JSON_DEPTH)
        return { status: 400, detail: `JSON nested deeper than ${MAX_JSON_DEPTH} levels` };
      if (++containers > MAX_JSON_CONTAINERS)
        return { status: 413, detail: `the body holds more than ${MAX_JSON_CONTAINERS} arrays and objects` };
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      if (++values > MAX_JSON_VALUES)
        return { status: 413, detail: `the body holds more than ${MAX_JSON_VALUES} values` };
      expectKey = open.length > 0 && open[open.length - 1] !== null;
    }
  }
  return null;
}
