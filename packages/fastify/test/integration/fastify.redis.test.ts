// The behavioural suite on Fastify 5 with RedisStore (the shared Redis, and a test-owned redis-server for outages).
import { behaviourSuite } from '../../../../test-support/middleware/behaviour-suite';
import { redisKit } from '../../../../test-support/middleware/stores';
import { fastifyHarness } from '../fastify-app';

behaviourSuite(fastifyHarness, redisKit());
