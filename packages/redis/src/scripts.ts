// The Lua scripts (src/lua, copied to dist/lua by the build), one per store operation, and their registration on
// the caller's ioredis client.
//
// Every script touches only keys of one shard (one hash tag, one cluster slot). Keys it builds itself
// (reservation items, threshold marks, claimed batches) extend a declared key of the same shard, so they share
// its slot and any ioredis `keyPrefix`. Amounts arrive as decimal strings and go to Redis as strings
// (INCRBY/HINCRBY parse them as 64-bit integers); numbers are only used for comparisons.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster, Redis, Result } from 'ioredis';
import { ACK, APPLY, CLAIM, MANY, READ, SEED } from './script-layout';

// Next to this module both in src/ (ts-jest) and in dist/ (the build copies the folder).
const LUA_DIR = join(__dirname, 'lua');

function luaFile(name: string): string {
  return readFileSync(join(LUA_DIR, name), 'utf8');
}

/**
 * A script as Redis runs it: its preludes (shared helpers, lib/), then its own file. A `#!lua` flags line stays
 * first, where Redis looks for it. Read once, when this module loads.
 */
function loadScript(name: string, preludes: readonly string[]): string {
  const own = luaFile(name);
  const flags = own.startsWith('#!') ? own.slice(0, own.indexOf('\n') + 1) : '';
  return flags + [...preludes.map(luaFile), own.slice(flags.length)].join('\n');
}

const REQUEST_PATH = ['lib/lean-checks.lua', 'lib/shard.lua'];
const CHECKED = ['lib/checks.lua'];

export const APPLY_LUA = loadScript('apply.lua', REQUEST_PATH);
export const READ_LUA = loadScript('read.lua', REQUEST_PATH);
export const SEED_LUA = loadScript('seed.lua', CHECKED);
export const CLAIM_LUA = loadScript('claim.lua', CHECKED);
export const ACK_LUA = loadScript('ack.lua', CHECKED);

/** A script's whole text as a function of its own KEYS and ARGV, then many.lua's loop that runs it per op. */
function manyScript(name: string, one: string, keysPerOp: number): string {
  const head = `local many_name = '${name}'\nlocal keys_per_op = ${keysPerOp}\n`;
  return `${head}local function run_one(KEYS, ARGV)\n${one}\nend\n${luaFile('many.lua')}`;
}
export const APPLY_MANY_LUA = manyScript('apply-many', APPLY_LUA, APPLY.keyCount);
/** Many shards' claims in one call (the flusher's sweep of a single node: one call, not one per shard). */
export const CLAIM_MANY_LUA = manyScript('claim-many', CLAIM_LUA, CLAIM.keyCount);
export const ACK_MANY_LUA = manyScript('ack-many', ACK_LUA, ACK.keyCount);
/** Sent with EVAL to each cluster master by the flush-queue discovery (not a registered command). */
export const PROBE_LUA = loadScript('probe.lua', CHECKED);

/** Command names on the client. Namespaced so they cannot clash with the caller's own scripts. */
export const COMMANDS = {
  apply: 'tollgateApply',
  applyMany: 'tollgateApplyMany',
  read: 'tollgateRead',
  seed: 'tollgateSeed',
  claim: 'tollgateClaim',
  ack: 'tollgateAck',
  claimMany: 'tollgateClaimMany',
  ackMany: 'tollgateAckMany',
} as const;

/** Declared keys per script. Fixed, so ioredis (auto-pipelining, Cluster routing) sees the first key first. */
export const KEY_COUNTS = {
  apply: APPLY.keyCount,
  applyMany: MANY.keyCount,
  read: READ.keyCount,
  seed: SEED.keyCount,
  claim: CLAIM.keyCount,
  ack: ACK.keyCount,
  claimMany: MANY.keyCount,
  ackMany: MANY.keyCount,
} as const;

type ScriptArg = string | number | Buffer;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tollgateApply(...keysThenArgs: ScriptArg[]): Result<unknown, Context>;
    tollgateApplyMany(...keysThenArgs: ScriptArg[]): Result<unknown, Context>;
    tollgateRead(...keysThenArgs: ScriptArg[]): Result<unknown, Context>;
    tollgateSeed(...keysThenArgs: ScriptArg[]): Result<number, Context>;
    tollgateClaim(...keysThenArgs: ScriptArg[]): Result<unknown, Context>;
    tollgateAck(...keysThenArgs: ScriptArg[]): Result<number, Context>;
    tollgateClaimMany(...keysThenArgs: ScriptArg[]): Result<unknown, Context>;
    tollgateAckMany(...keysThenArgs: ScriptArg[]): Result<unknown, Context>;
  }
}

/**
 * Registers every script on the client (idempotent). ioredis sends EVALSHA, and EVAL when a connection has
 * not loaded a script yet or Redis answers NOSCRIPT (restart, SCRIPT FLUSH, failover).
 */
export function registerScripts(client: Redis | Cluster): void {
  client.defineCommand(COMMANDS.apply, { lua: APPLY_LUA, numberOfKeys: KEY_COUNTS.apply });
  client.defineCommand(COMMANDS.applyMany, { lua: APPLY_MANY_LUA, numberOfKeys: KEY_COUNTS.applyMany });
  client.defineCommand(COMMANDS.read, { lua: READ_LUA, numberOfKeys: KEY_COUNTS.read });
  client.defineCommand(COMMANDS.seed, { lua: SEED_LUA, numberOfKeys: KEY_COUNTS.seed });
  client.defineCommand(COMMANDS.claim, { lua: CLAIM_LUA, numberOfKeys: KEY_COUNTS.claim });
  client.defineCommand(COMMANDS.ack, { lua: ACK_LUA, numberOfKeys: KEY_COUNTS.ack });
  client.defineCommand(COMMANDS.claimMany, { lua: CLAIM_MANY_LUA, numberOfKeys: KEY_COUNTS.claimMany });
  client.defineCommand(COMMANDS.ackMany, { lua: ACK_MANY_LUA, numberOfKeys: KEY_COUNTS.ackMany });
}
