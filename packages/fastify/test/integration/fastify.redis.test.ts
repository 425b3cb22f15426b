// The behavioural suite on Fastify 5 with RedisStore (the shared Redis, and a test-owned redis-server for outages).
import { behaviourSuite } from '@tollgate/http/testing';
import { redisKit } from '../../../../test-support/middleware/redis-kit';
import { fastifyHarness } from '../fastify-app';

behaviourSuite(fastifyHarness, redisKit());
