// The behavioural suite on Express 5 with RedisStore (the shared Redis, and a test-owned redis-server for outages).
import express from 'express';
import { behaviourSuite } from '@tollgate/http/testing';
import { expressHarness } from '../../../../test-support/middleware/express-app';
import { redisKit } from '../../../../test-support/middleware/redis-kit';

behaviourSuite(expressHarness('Express 5', express), redisKit());
