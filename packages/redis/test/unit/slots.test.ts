import {
  escapeTag,
  FlushQueues,
  ShardKeys,
  slotOfKey,
  slotOfTag,
  slotTagTable,
} from '@tollgate/redis/internal';

describe('cluster hash slots', () => {
  it('match what Redis answers to CLUSTER KEYSLOT', () => {
    expect(slotOfKey('foo')).toBe(12182);
    expect(slotOfKey('somekey')).toBe(11058);
    expect(slotOfKey('{user1000}.following')).toBe(3443);
    expect(slotOfKey('tollgate:{t:acme}:c:x')).toBe(9557);
    expect(slotOfKey('a{}b')).toBe(13694);
    expect(slotOfKey('{}{x}')).toBe(3257);
    expect(slotOfKey('{t:é}')).toBe(11556);
  });

  it('has a hash tag for every one of the 16384 slots, each landing in its own slot', () => {
    const table = slotTagTable();
    expect(table.length).toBe(16384);
    table.forEach((tag, slot) => expect(slotOfTag(tag)).toBe(slot));
  });

  it("puts a shard's flush queue in the shard's own slot", () => {
    const queues = new FlushQueues('tg:', true);
    for (const tag of ['t:acme', 'u:bob', 't:{weird}%', 't:' + 'x'.repeat(256)]) {
      const keys = new ShardKeys('tg:', tag);
      expect(slotOfKey(queues.forShard(keys))).toBe(slotOfKey(keys.seededScopes));
      expect(slotOfKey(keys.counter({ scope: 'user', id: 'a}b' }, 'requests', 'day', '1'))).toBe(
        slotOfKey(keys.seededScopes),
      );
    }
    expect(new FlushQueues('tg:', false).all()).toEqual(['tg:q']);
  });
});

describe('shard keys', () => {
  it('escape braces and percent signs so a tag cannot end its hash tag early', () => {
    expect(escapeTag('t:acme')).toBe('t:acme');
    expect(escapeTag('t:a}b{c%')).toBe('t:a%7Db%7Bc%25');
    expect(new ShardKeys('tg:', 't:a}b').base).toBe('tg:{t:a%7Db}');
    expect(new ShardKeys('tg:', 't:a%7Db').base).not.toBe(new ShardKeys('tg:', 't:a}b').base);
  });

  it('name counters by scope, id, meter, period and window', () => {
    const keys = new ShardKeys('tollgate:', 't:acme');
    expect(keys.counter({ scope: 'user', id: 'alice' }, 'tokens', 'day', '1767225600')).toBe(
      'tollgate:{t:acme}:c:user:alice:tokens:day:1767225600',
    );
  });
});
