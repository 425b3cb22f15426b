// The behavioural suite on Express 4 with RedisStore (the shared Redis, and a test-owned redis-server for outages).
import express4 from 'express4';
import { behaviourSuite } from '@tollgate/http/testing';
import { expressHarness } from '../../../../test-support/middleware/express-app';
import { redisKit } from '../../../../test-support/middleware/redis-kit';

behaviourSuite(expressHarness('Express 4', express4), redisKit());
