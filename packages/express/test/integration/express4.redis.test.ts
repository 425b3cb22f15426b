// The behavioural suite on Express 4 with RedisStore (the shared Redis, and a test-owned redis-server for outages).
import express4 from 'express4';
import { behaviourSuite } from '../shared/behaviour-suite';
import { expressHarness } from '../shared/express-app';
import { redisKit } from '../shared/stores';

behaviourSuite(expressHarness('Express 4', express4), redisKit());
