// Many script calls as one msgpack value, for many.lua: an array with one entry per call, each an array of two
// arrays, its keys and its arguments, every value a str. Sent as one Buffer argument, not one argument per value:
// for a call of 6 ops (~250 values) ioredis flattened, measured and concatenated each value into a RESP string,
// Redis made a Lua string of each in ARGV, and many.lua then copied each op's out of ARGV into tables of its own.
// cmsgpack.unpack (C) builds those tables directly.

// Reused across calls (encoding is synchronous), grown up to MAX_SCRATCH_BYTES; each call's bytes are copied out. A
// call that may need more is written into a buffer of its own, so that one large call does not keep its size alive.
const MAX_SCRATCH_BYTES = 1024 * 1024;
let scratch = Buffer.allocUnsafe(64 * 1024);
/** Where the call being packed is written: the scratch buffer or its own. */
let out = scratch;

/** Worst case for one value: a str32 header and 3 UTF-8 bytes per UTF-16 unit. */
function valueBound(value: string): number {
  // A JavaScript caller past the types (a number): refused before anything is written, not packed as garbage.
  if (typeof value !== 'string') throw new TypeError(`a script value must be a string, got ${typeof value}`);
  return 5 + 3 * value.length;
}

function writeInto(bytes: number): void {
  if (bytes > MAX_SCRATCH_BYTES) out = Buffer.allocUnsafe(bytes);
  else {
    if (bytes > scratch.length)
      scratch = Buffer.allocUnsafe(Math.min(MAX_SCRATCH_BYTES, Math.max(bytes, scratch.length * 2)));
    out = scratch;
  }
}

/**
 * A msgpack header for `n` (items or bytes): its fix form (`fix | n`) below `fixBelow`, else the first of the 8-, 16-
 * and 32-bit forms (type bytes in `wide`; 0 for a form the type does not have) that holds it.
 */
function header(
  n: number,
  at: number,
  fix: number,
  fixBelow: number,
  wide: readonly [number, number, number],
): number {
  if (n < fixBelow) {
    out[at] = fix | n;
    return at + 1;
  }
  if (n < 0x100 && wide[0] !== 0) {
    out[at] = wide[0];
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = wide[1];
    out.writeUInt16BE(n, at + 1);
    return at + 3;
  }
  out[at] = wide[2];
  out.writeUInt32BE(n, at + 1);
  return at + 5;
}

const ARRAY = [0, 0xdc, 0xdd] as const; // fixarray 0x90, array16, array32 (no 8-bit form)
const STR = [0xd9, 0xda, 0xdb] as const; // fixstr 0xa0, str8, str16, str32
const arrayHeader = (count: number, at: number): number => header(count, at, 0x90, 16, ARRAY);
const strHeader = (bytes: number, at: number): number => header(bytes, at, 0xa0, 32, STR);

/** Writes one str at `at`; returns where the next value goes. ASCII is copied unit by unit, anything else as UTF-8. */
function str(value: string, at: number): number {
  const length = value.length;
  const body = strHeader(length, at);
  for (let i = 0; i < length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0x80) {
      // Not ASCII: its header may need more room, so both are written again from the start.
      const bytes = Buffer.byteLength(value, 'utf8');
      const start = strHeader(bytes, at);
      return start + out.write(value, start, bytes, 'utf8');
    }
    out[body + i] = unit;
  }
  return body + length;
}

/** values[from] .. values[to - 1] as one array, each after `prefix`. */
function strs(values: readonly string[], from: number, to: number, prefix: string, at: number): number {
  let p = arrayHeader(to - from, at);
  for (let i = from; i < to; i++) p = str(prefix === '' ? values[i]! : prefix + values[i]!, p);
  return p;
}

/**
 * The calls (each its keys then its arguments, `keysPerCall` keys) as many.lua's packed ops, every key after
 * `keyPrefix`.
 */
export function packCalls(
  calls: ReadonlyArray<readonly string[]>,
  keysPerCall: number,
  keyPrefix = '',
): Buffer {
  let bound = 5;
  for (const call of calls) {
    bound += 11 + keysPerCall * 3 * keyPrefix.length;
    for (const value of call) bound += valueBound(value);
  }
  writeInto(bound);
  let p = arrayHeader(calls.length, 0);
  for (const call of calls) {
    if (call.length < keysPerCall) {
      throw new RangeError(`a call has ${call.length} values, fewer than its ${keysPerCall} keys`);
    }
    p = arrayHeader(2, p);
    p = strs(call, 0, keysPerCall, keyPrefix, p);
    p = strs(call, keysPerCall, call.length, '', p);
  }
  if (out === scratch) return Buffer.from(out.subarray(0, p));
  const own = out.subarray(0, p);
  out = scratch; // not kept past this call
  return own;
}
