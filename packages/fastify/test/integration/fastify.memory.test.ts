// The behavioural suite on Fastify 5 with MemoryStore.
import { behaviourSuite, memoryKit } from '@tollgate/http/testing';
import { fastifyHarness } from '../fastify-app';

behaviourSuite(fastifyHarness, memoryKit());
