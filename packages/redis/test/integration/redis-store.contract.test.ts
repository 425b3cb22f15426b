import { storeContractSuite } from '@tollgate/core/testing';
import type Redis from 'ioredis';
import { RedisStore } from '@tollgate/redis';
import { REDIS_URL, uniquePrefix } from '../../../../test-support/services';
import { deleteKeys, ready, redisClient } from './helpers';

const prefix = uniquePrefix('redis-contract');
let client: Redis;
let n = 0;

beforeAll(async () => {
  client = await ready(redisClient(REDIS_URL));
});
afterAll(async () => {
  await deleteKeys(client, prefix);
  await client.quit();
});

storeContractSuite({
  name: 'RedisStore (single node)',
  create: async () => new RedisStore({ client, prefix: `${prefix}${++n}:` }),
});
