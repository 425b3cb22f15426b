// The behavioural suite on Fastify 5 with MemoryStore.
import { behaviourSuite } from '../../../../test-support/middleware/behaviour-suite';
import { memoryKit } from '../../../../test-support/middleware/stores';
import { fastifyHarness } from '../fastify-app';

behaviourSuite(fastifyHarness, memoryKit());
