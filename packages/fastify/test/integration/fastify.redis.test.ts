// The behavioural suite on Fastify 5 with RedisStore (the shared Redis, and a test-owned redis-server for outages).
import { behaviourSuite } from '../../../express/test/shared/behaviour-suite';
import { redisKit } from '../../../express/test/shared/stores';
import { fastifyHarness } from '../fastify-app';

behaviourSuite(fastifyHarness, redisKit());
