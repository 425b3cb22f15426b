// @tollgate/redis/internal: UNSTABLE. For this repository's tests and benches only: the key layout, cluster
// slots, the Lua sources and their argument layout, the encoders and decoders. Any of it may change in any
// release; users import `@tollgate/redis`.
export { Candidates, type Candidate } from './candidates';
export { decodeBatch, decodeUsage } from './batches';
export { dueTags } from './discovery';
export {
  manyArgs,
  encodeAck,
  encodeApply,
  encodeClaim,
  encodeRead,
  encodeSeed,
  opIdBucket,
  scopeName,
  usageField,
  type EncodedOp,
  type ScriptArgs,
} from './encoding';
export { toStoreError } from './errors';
export { packCalls } from './packed-calls';
export { escapeTag, FlushQueues, overrideField, ShardKeys, tagOfQueueMember } from './keys';
export { resolveOptions, type ResolvedRedisStoreOptions } from './options';
export { decodeApply, decodeRead } from './replies';
export {
  ACK,
  APPLY,
  MANY,
  APPLY_REPLY,
  CLAIM,
  PROBE,
  READ,
  READ_REPLY,
  SEED,
  scriptArgs,
  type ScriptLayout,
  type Values,
} from './script-layout';
export {
  ACK_LUA,
  APPLY_LUA,
  ACK_MANY_LUA,
  APPLY_MANY_LUA,
  CLAIM_LUA,
  CLAIM_MANY_LUA,
  COMMANDS,
  KEY_COUNTS,
  PROBE_LUA,
  READ_LUA,
  registerScripts,
  SEED_LUA,
} from './scripts';
export { SLOT_COUNT, slotOfKey, slotOfTag, slotTagTable } from './slots';
