// The behavioural suite on Express 5 with RedisStore (the shared Redis, and a test-owned redis-server for outages).
import express from 'express';
import { behaviourSuite } from '../../../../test-support/middleware/behaviour-suite';
import { expressHarness } from '../../../../test-support/middleware/express-app';
import { redisKit } from '../../../../test-support/middleware/stores';

behaviourSuite(expressHarness('Express 5', express), redisKit());
