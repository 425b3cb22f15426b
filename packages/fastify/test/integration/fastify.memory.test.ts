// The behavioural suite on Fastify 5 with MemoryStore.
import { behaviourSuite } from '../../../express/test/shared/behaviour-suite';
import { memoryKit } from '../../../express/test/shared/stores';
import { fastifyHarness } from '../fastify-app';

behaviourSuite(fastifyHarness, memoryKit());
