// Where each script finds its arguments: the KEYS and ARGV positions (1-based, as Lua counts them) under the
// names the script binds them to in its header (src/lua/*.lua), and the reply parts under the names it returns.
// The encoder and decoder go through these names only; test/unit/script-layout.test.ts reads the .lua headers
// and fails when a name or position here differs from the script's.

type Positions = Readonly<Record<string, number>>;

export interface ScriptLayout<K extends Positions = Positions, A extends Positions = Positions> {
  /** Declared keys: name -> KEYS position. */
  readonly keys: K;
  /** Fixed arguments: name -> ARGV position (1..n, no gaps). */
  readonly argv: A;
  /**
   * Where the variable-length rest of ARGV begins, right after the fixed arguments: the script's `...At` local
   * (a count, or the first item of a list). Absent when the script takes only fixed arguments.
   */
  readonly tail: Positions;
  /** How many keys the script declares (ioredis' `numberOfKeys`). */
  readonly keyCount: number;
  /** The names of `keys` and of `argv` in position order (so building a call is a plain loop). */
  readonly keyOrder: ReadonlyArray<keyof K & string>;
  readonly argvOrder: ReadonlyArray<keyof A & string>;
  /** Where each named key or fixed argument sits in the flat KEYS-then-ARGV array a call passes (0-based). */
  readonly at: { readonly [N in (keyof K | keyof A) & string]: number };
  /** How many entries that array has before the variable-length rest: the keys and the fixed arguments. */
  readonly headLength: number;
}

/** One string per name of a layout part. */
export type Values<P extends Positions> = { readonly [N in keyof P]: string };

function positionsInOrder<P extends Positions>(what: string, positions: P): Array<keyof P & string> {
  const names = Object.keys(positions).sort((a, b) => positions[a]! - positions[b]!);
  names.forEach((name, i) => {
    if (positions[name] !== i + 1)
      throw new Error(`${what}: ${name} is at ${positions[name]}, expected ${i + 1}`);
  });
  return names as Array<keyof P & string>;
}

function layout<K extends Positions, A extends Positions>(
  script: string,
  keys: K,
  argv: A,
  tail: Positions = {},
): ScriptLayout<K, A> {
  const keyOrder = positionsInOrder(`${script} KEYS`, keys);
  const argvOrder = positionsInOrder(`${script} ARGV`, argv);
  for (const [name, at] of Object.entries(tail)) {
    if (at !== argvOrder.length + 1) {
      throw new Error(`${script} ARGV: ${name} is at ${at}, expected ${argvOrder.length + 1}`);
    }
  }
  // The names are the script's locals, all in one scope: one name, one position.
  const names = [...keyOrder, ...argvOrder, ...Object.keys(tail)];
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new Error(`${script}: ${twice} is bound twice`);
  const at: Record<string, number> = {};
  keyOrder.forEach((name, i) => (at[name] = i));
  argvOrder.forEach((name, i) => (at[name] = keyOrder.length + i));
  return {
    keys,
    argv,
    tail,
    keyCount: keyOrder.length,
    keyOrder,
    argvOrder,
    at: at as ScriptLayout<K, A>['at'],
    headLength: keyOrder.length + argvOrder.length,
  };
}

export const APPLY = layout(
  'apply',
  { shardStem: 1, flushQueue: 2 },
  {
    opId: 1,
    now: 2,
    mode: 3,
    seed: 4,
    opIdBucket: 5,
    opIdExpiry: 6,
    settleId: 7,
    reserveId: 8,
    reserveExpiry: 9,
    dirtyMember: 10,
    dirtyScore: 11,
    groupsSent: 12,
  },
  { thresholdsAt: 13 },
);

/** Many ops of one script: the first op's first key (for routing), then every op packed in one value (many.lua). */
export const MANY = layout('many', { routingStem: 1 }, { packedOps: 1 });

export const READ = layout('read', { shardStem: 1 }, { now: 1, seed: 2 }, { scopesAt: 3 });

export const SEED = layout('seed', { shardStem: 1, seededScopes: 2, overrides: 3 }, {}, { scopesAt: 1 });

export const CLAIM = layout(
  'claim',
  { claims: 1, unflushed: 2, events: 3, flushQueue: 4, batchStem: 5 },
  { now: 1, staleAfter: 2, newBatchId: 3, dirtyMember: 4, batchMemberSuffix: 5 },
);

export const ACK = layout(
  'ack',
  { claims: 1, flushQueue: 2, batchStem: 3 },
  { batchMemberSuffix: 1 },
  { batchIdsAt: 2 },
);

export const PROBE = layout('probe', {}, { cutoff: 1, maxMembers: 2 }, { queuesAt: 3 });

/**
 * A script's KEYS then fixed ARGV, each value at its named position; the caller pushes the variable-length rest.
 * The value objects are typed by the layout, so a name missing or misspelt does not compile.
 */
export function scriptArgs<K extends Positions, A extends Positions>(
  script: ScriptLayout<K, A>,
  keys: Values<K>,
  argv: Values<A>,
): string[] {
  const out: string[] = [];
  for (const name of script.keyOrder) out.push(keys[name]);
  for (const name of script.argvOrder) out.push(argv[name]);
  return out;
}

/**
 * Replies, per status letter (the reply's first element): the index of each further part in the reply array,
 * named as the script's locals in its `return {'<status>', ...}`.
 */
export const APPLY_REPLY = {
  F: {},
  S: {},
  D: { seen: 1 },
  R: { counters: 1, violated: 2, first: 3, held: 4 },
  A: { counters: 1, crossed: 2 },
} as const;

export const READ_REPLY = {
  S: {},
  O: { counters: 1 },
} as const;
